from __future__ import annotations

import threading

import numpy as np
import pytest

from ishowtts.engine.audio_cache import AudioCache, cache_key
from ishowtts.engine.backend import SynthesisParams


def a(n: int, v: float = 0.5) -> np.ndarray:
    return np.full(n, v, dtype=np.float32)


def test_lru_eviction_order_and_stats() -> None:
    c = AudioCache(2)
    c.put("a", a(10, 0.1), 24_000)
    c.put("b", a(10, 0.2), 24_000)
    assert c.get("a") is not None  # a is now most recent
    c.put("c", a(10, 0.3), 24_000)  # evicts b
    assert "b" not in c and "a" in c and "c" in c and len(c) == 2
    assert c.get("b") is None
    assert (c.hits, c.misses) == (1, 1)
    audio, sr = c.get("c")
    assert sr == 24_000 and np.allclose(audio, 0.3)


def test_copies_in_and_out() -> None:
    c = AudioCache(4)
    src = a(5)
    c.put("k", src, 1)
    src[:] = 9
    out, _ = c.get("k")
    assert np.allclose(out, 0.5)
    out[:] = 7
    assert np.allclose(c.get("k")[0], 0.5)


def test_byte_cap_and_disabled() -> None:
    c = AudioCache(100, max_bytes=100 * 4)
    c.put(1, a(60), 1)
    c.put(2, a(60), 1)  # 480 bytes > 400: 1 is evicted
    assert 1 not in c and 2 in c and c.nbytes == 240
    assert not c.put(3, a(101), 1)  # larger than the whole cache
    off = AudioCache(0)
    assert not off.put("x", a(1), 1) and len(off) == 0
    with pytest.raises(ValueError):
        AudioCache(-1)


def test_replacing_a_key_keeps_byte_count() -> None:
    c = AudioCache(4)
    c.put("k", a(10), 1)
    c.put("k", a(20), 1)
    assert len(c) == 1 and c.nbytes == 80


def test_key_covers_every_param_field(h) -> None:
    base = cache_key(h.voice(), "t", SynthesisParams(seed=1))
    assert base == cache_key(h.voice(), "t", SynthesisParams(seed=1))
    variants = [
        cache_key(h.voice(vid="other"), "t", SynthesisParams(seed=1)),
        cache_key(h.voice(version="2"), "t", SynthesisParams(seed=1)),
        cache_key(h.voice(), "t2", SynthesisParams(seed=1)),
        cache_key(h.voice(), "t", SynthesisParams(seed=2)),
        cache_key(h.voice(), "t", SynthesisParams(seed=1, nfe_step=8)),
        cache_key(h.voice(), "t", SynthesisParams(seed=1, cfg_strength=2.5)),
        cache_key(h.voice(), "t", SynthesisParams(seed=1, sway_sampling_coef=0.0)),
        cache_key(h.voice(), "t", SynthesisParams(seed=1, speed=1.2)),
        cache_key(h.voice(), "t", SynthesisParams(seed=1, cross_fade_duration=0.1)),
        cache_key(h.voice(), "t", SynthesisParams(seed=1, target_rms=0.2)),
        cache_key(h.voice(), "t", SynthesisParams(seed=1, fix_duration=3.0)),
        cache_key(h.voice(), "t", SynthesisParams(seed=1, remove_silence=True)),
        cache_key(h.voice(), "t", SynthesisParams(seed=1, first_chunk=False)),
    ]
    assert len({base, *variants}) == len(variants) + 1
    hash(variants[-1])  # dict fields are made hashable


def test_thread_safety() -> None:
    c = AudioCache(32)

    def work(i: int) -> None:
        for j in range(300):
            c.put((i, j % 50), a(4), 1)
            c.get((i, (j * 7) % 50))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(c) == 32 and c.nbytes == 32 * 16
    assert c.hits + c.misses == 1200
