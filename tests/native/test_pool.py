"""The native buffer pool: alignment, LIFO reuse, size classes, cap/eviction, lifetimes, threads, env."""

from __future__ import annotations

import gc
import json
import os
import queue
import subprocess
import sys
import threading

import numpy as np
import pytest

from ishowtts.audio.pool import BufferPool, PoolStats, default_pool

pytestmark = pytest.mark.native

MiB = 1 << 20


def addr(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def test_alignment_and_shape_dtype() -> None:
    pool = BufferPool(64 * MiB)
    for n in [0, 1, 3, 63, 64, 65, 1000, 4097, 24_000, 480_000]:
        for dtype in (np.float32, np.int16, np.uint8, np.float64, np.complex64):
            a = pool.empty(n, dtype)
            assert a.shape == (n,) and a.dtype == dtype
            assert addr(a) % 64 == 0, (n, dtype)
            assert a.flags.c_contiguous and a.flags.writeable
            a[:] = 1
            assert np.all(a == 1)
    b = pool.empty((3, 2), np.float32)
    assert b.shape == (3, 2) and b.strides == (8, 4)


def test_lifo_reuse_and_stats() -> None:
    pool = BufferPool(64 * MiB)
    a = pool.empty(1000)
    b = pool.empty(1000)
    pa, pb = addr(a), addr(b)
    assert pa != pb
    del a
    del b  # released last -> on top of the free list
    s = pool.stats()
    assert (s.hits, s.misses, s.releases, s.buffers_held, s.bytes_in_use) == (0, 2, 2, 2, 0)
    assert s.bytes_held == 2 * 4096  # 4000 bytes round up to the 4096-byte class
    c = pool.empty(1000)
    assert addr(c) == pb
    d = pool.empty(990)  # same size class
    assert addr(d) == pa
    s = pool.stats()
    assert (s.hits, s.misses, s.bytes_held, s.bytes_in_use) == (2, 2, 0, 2 * 4096)
    assert s.peak_bytes == 2 * 4096
    assert s.hit_rate == 0.5


def test_size_classes_do_not_mix() -> None:
    pool = BufferPool(64 * MiB)
    a = pool.empty(4096, np.uint8)
    pa = addr(a)
    del a
    b = pool.empty(4097, np.uint8)  # next class (5120 bytes)
    assert addr(b) != pa
    assert pool.stats().misses == 2
    c = pool.empty(3585, np.uint8)  # (3584, 4096] shares the 4096-byte class
    assert addr(c) == pa
    assert pool.stats().hits == 1


def test_cap_evicts_least_recently_released() -> None:
    pool = BufferPool(10_000)  # room for two 4096-byte class buffers
    arrays = [pool.empty(4096, np.uint8) for _ in range(3)]
    second, third = addr(arrays[1]), addr(arrays[2])
    for i in range(3):  # release 0, 1, 2 in order: releasing 2 evicts 0, the least recently released
        arrays[i] = None
    s = pool.stats()
    assert (s.evictions, s.buffers_held, s.bytes_held) == (1, 2, 8192)
    c = pool.empty(4096, np.uint8)
    d = pool.empty(4096, np.uint8)
    assert (addr(c), addr(d)) == (third, second)
    assert pool.stats().hits == 2
    del c, d
    big = pool.empty(20_000, np.uint8)  # larger than the whole cap: freed on release, never held
    del big
    s = pool.stats()
    assert s.evictions == 2 and s.bytes_held <= s.cap_bytes and s.bytes_in_use == 0


def test_zero_cap_pool_holds_nothing() -> None:
    pool = BufferPool(0)
    for _ in range(3):
        a = pool.empty(100)
        del a
    s = pool.stats()
    assert (s.hits, s.misses, s.bytes_held, s.evictions) == (0, 3, 0, 3)


def test_trim() -> None:
    pool = BufferPool(64 * MiB)
    arrays = [pool.empty(n) for n in (100, 1000, 10_000, 100_000)]
    keep = arrays.pop()
    arrays.clear()
    assert pool.stats().buffers_held == 3
    pool.trim()
    s = pool.stats()
    assert (s.buffers_held, s.bytes_held) == (0, 0)
    assert s.bytes_in_use > 0  # the live array is untouched
    keep[:] = 2.0
    assert float(keep.sum()) == 2.0 * keep.size


def test_views_keep_buffer_alive() -> None:
    pool = BufferPool(64 * MiB)
    a = pool.empty(1000)
    a[:] = np.arange(1000, dtype=np.float32)
    view = a[10:20]
    reshaped = a.reshape(10, 100)[::2]
    del a
    gc.collect()
    assert pool.stats().releases == 0
    np.testing.assert_array_equal(view, np.arange(10, 20, dtype=np.float32))
    del view
    assert pool.stats().releases == 0
    assert float(reshaped[1, 0]) == 200.0
    del reshaped
    s = pool.stats()
    assert (s.releases, s.bytes_in_use, s.buffers_held) == (1, 0, 1)


def test_array_outlives_its_pool_object() -> None:
    pool = BufferPool(64 * MiB)
    a = pool.empty(50_000)
    a[:] = 3.0
    view = a[::7]
    del pool, a
    gc.collect()
    junk = [np.ones(50_000, np.float32) for _ in range(20)]  # reuse freed heap memory if it were freed
    assert np.all(view == 3.0)
    del junk
    del view  # releases into the pool kept alive by the array's owner, then frees the pool


def test_bad_arguments() -> None:
    pool = BufferPool(MiB)
    with pytest.raises(TypeError, match="Python objects"):
        pool.empty(3, object)
    with pytest.raises(ValueError, match="negative"):
        pool.empty(-1)
    with pytest.raises(ValueError, match="too large"):
        pool.empty((1 << 30, 1 << 30), np.float64)
    with pytest.raises(TypeError):
        pool.empty("abc")
    with pytest.raises(TypeError):
        BufferPool(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        BufferPool(-1)


def test_disabled_pool_passes_through() -> None:
    pool = BufferPool(64 * MiB, enabled=False)
    for _ in range(3):
        a = pool.empty(1000)
        assert addr(a) % 64 == 0
        del a
    s = pool.stats()
    assert not s.enabled and not pool.enabled
    assert (s.hits, s.misses, s.releases, s.bytes_held) == (0, 3, 3, 0)


def test_cross_thread_alloc_and_free() -> None:
    pool = BufferPool(16 * MiB)
    q: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=8)
    errors: list[BaseException] = []
    n_items = 400
    rng_sizes = np.random.default_rng(0).integers(1, 48_000, size=n_items)

    def producer(part: int) -> None:
        try:
            for i in range(part, n_items, 2):
                a = pool.empty(int(rng_sizes[i]))
                assert addr(a) % 64 == 0
                a[:] = float(i)
                q.put(a)
                del a
        except BaseException as e:  # surfaced below
            errors.append(e)

    def consumer() -> None:
        try:
            while (a := q.get()) is not None:
                assert np.all(a == a[0])
                del a
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=producer, args=(p,)) for p in (0, 1)]
    cons = threading.Thread(target=consumer)
    cons.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    q.put(None)
    cons.join()
    assert not errors
    s = pool.stats()
    assert s.hits + s.misses == n_items == s.releases
    assert s.bytes_in_use == 0
    assert s.hits > 0
    assert s.bytes_held <= s.cap_bytes


def test_default_pool_is_shared_and_reports_stats() -> None:
    p = default_pool()
    assert p is default_pool()
    s = p.stats()
    assert isinstance(s, PoolStats) and s.cap_bytes > 0


_CHILD = """
import json, numpy as np
from ishowtts.audio.pool import default_pool
p = default_pool()
for _ in range(5):
    a = p.empty(24_000)
    a[:] = 1.0
    del a
print(json.dumps(p.stats().__dict__))
"""


def _child_stats(env_extra: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ISHOWTTS_POOL")}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_env_disables_default_pool_and_sets_cap() -> None:
    off = _child_stats({"ISHOWTTS_POOL": "0"})
    assert off["enabled"] is False
    assert (off["hits"], off["misses"], off["bytes_held"]) == (0, 5, 0)
    on = _child_stats({"ISHOWTTS_POOL_CAP_MB": "1"})
    assert on["enabled"] is True and on["cap_bytes"] == MiB
    assert (on["hits"], on["misses"], on["buffers_held"]) == (4, 1, 1)
