from __future__ import annotations

import threading

import numpy as np
import pytest

from ishowtts.voices.cache import VoiceCache, content_key


def test_key_depends_on_content_not_identity() -> None:
    a = np.linspace(-1, 1, 1000, dtype=np.float32)
    b = a.copy()
    assert a is not b
    assert content_key(a, 24000, "hi") == content_key(b, 24000, "hi")
    assert content_key(a, 24000, "hi") == content_key(a.astype(np.float64), 24000, "hi")  # same samples
    assert content_key(a, 24000, "hi") != content_key(a, 24000, "hi!")
    assert content_key(a, 24000, "hi") != content_key(a, 16000, "hi")
    c = a.copy()
    c[500] += 1e-3
    assert content_key(a, 24000, "hi") != content_key(c, 24000, "hi")
    assert content_key(a, 24000, "hi") != content_key(a.reshape(500, 2), 24000, "hi")


def test_hits_and_misses() -> None:
    cache: VoiceCache[str] = VoiceCache(capacity=4)
    builds: list[str] = []

    def build(tag: str):
        def f() -> str:
            builds.append(tag)
            return tag

        return f

    audio = np.ones(10, dtype=np.float32)
    k1 = content_key(audio, 24000, "text")
    assert cache.get_or_create(k1, build("v1")) == "v1"
    k1_again = content_key(audio.copy(), 24000, "text")  # same content, different object
    assert cache.get_or_create(k1_again, build("other")) == "v1"
    k2 = content_key(audio, 24000, "changed text")
    assert cache.get_or_create(k2, build("v2")) == "v2"
    assert builds == ["v1", "v2"]
    s = cache.stats()
    assert (s.hits, s.misses, s.size, s.capacity) == (1, 2, 2, 4)
    assert s.hit_rate == pytest.approx(1 / 3)


def test_lru_eviction() -> None:
    cache: VoiceCache[int] = VoiceCache(capacity=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now most recent
    cache.put("c", 3)
    assert "b" not in cache and "a" in cache and "c" in cache
    assert cache.get("b") is None
    assert len(cache) == 2


def test_builds_once_under_concurrency() -> None:
    cache: VoiceCache[int] = VoiceCache(capacity=2)
    calls = []
    barrier = threading.Barrier(4)

    def build() -> int:
        calls.append(1)
        return 42

    def worker() -> None:
        barrier.wait()
        assert cache.get_or_create("k", build) == 42

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert cache.stats().hits == 3


def test_bad_capacity() -> None:
    with pytest.raises(ValueError):
        VoiceCache(capacity=0)
