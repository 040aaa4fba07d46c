"""Pooled, 64-byte aligned numpy buffers (the native ``BufferPool``).

Arrays from :meth:`BufferPool.empty` view pool memory directly (no copy). The memory goes back to the
pool only when the last view of it (slices included) is garbage collected, and a pool stays alive while
any of its arrays does, so dropping every reference to a :class:`BufferPool` is always safe.

The resampler's outputs and :func:`ishowtts.audio.wav.to_pcm16` use the process-wide pool returned by
:func:`default_pool`. Environment (read once, at first use): ``ISHOWTTS_POOL=0`` turns it into a plain
pass-through allocator; ``ISHOWTTS_POOL_CAP_MB`` caps its idle bytes (default 256 MiB).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from ishowtts import _native
from ishowtts.logging_setup import kv

__all__ = ["BufferPool", "PoolStats", "default_pool"]

log = logging.getLogger(__name__)

DEFAULT_CAP_MB = 256


@dataclass(frozen=True)
class PoolStats:
    """A snapshot of a pool's counters. Byte figures count whole size classes (what the allocator holds)."""

    hits: int  # requests served from a free list
    misses: int  # requests that had to allocate
    releases: int  # buffers given back (their last view died)
    evictions: int  # released buffers freed because the cap was reached
    bytes_held: int  # idle bytes waiting in free lists
    buffers_held: int  # idle buffers waiting in free lists
    bytes_in_use: int  # bytes behind live arrays
    peak_bytes: int  # peak of bytes_held + bytes_in_use
    cap_bytes: int  # cap on bytes_held
    enabled: bool

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class BufferPool:
    """A pool of aligned buffers: size classes (4 per doubling), LIFO free lists, a cap on idle bytes.

    Thread-safe: an array may be created in one thread and dropped in another.
    """

    __slots__ = ("_pool",)

    def __init__(self, cap_bytes: int, *, enabled: bool = True) -> None:
        if isinstance(cap_bytes, bool) or not isinstance(cap_bytes, (int, np.integer)):
            raise TypeError(f"cap_bytes must be an int, got {type(cap_bytes).__name__}")
        if cap_bytes < 0:
            raise ValueError(f"cap_bytes must be >= 0, got {cap_bytes}")
        self._pool = _native.BufferPool(int(cap_bytes), bool(enabled))

    @classmethod
    def _wrap(cls, native: Any) -> BufferPool:
        obj = cls.__new__(cls)
        obj._pool = native
        return obj

    def empty(self, shape: int | Sequence[int], dtype: DTypeLike = np.float32) -> np.ndarray:
        """An uninitialised C-contiguous array of ``shape`` and ``dtype`` (object dtypes are refused)."""
        return self._pool.empty(shape, dtype)

    def stats(self) -> PoolStats:
        return PoolStats(**self._pool.stats())

    def trim(self) -> None:
        """Free every idle buffer (live arrays are unaffected)."""
        self._pool.trim()

    @property
    def enabled(self) -> bool:
        return bool(self._pool.enabled)

    @property
    def cap_bytes(self) -> int:
        return int(self._pool.cap_bytes)

    def __repr__(self) -> str:
        s = self.stats()
        return (
            f"BufferPool(cap_bytes={s.cap_bytes}, enabled={s.enabled}, in_use={s.bytes_in_use}, "
            f"held={s.bytes_held}, hits={s.hits}, misses={s.misses})"
        )


def _check_env() -> None:
    """Warn about environment values the native side ignores (it falls back to the defaults)."""
    cap = os.environ.get("ISHOWTTS_POOL_CAP_MB", "")
    if cap and not (cap.isdigit() and int(cap) <= 1 << 24):
        log.warning("invalid ISHOWTTS_POOL_CAP_MB ignored", extra=kv(value=cap, default_mb=DEFAULT_CAP_MB))
    flag = os.environ.get("ISHOWTTS_POOL", "")
    if flag and flag not in {"0", "1", "false", "true", "off", "on", "no", "yes"}:
        log.warning("unrecognised ISHOWTTS_POOL value treated as enabled", extra=kv(value=flag))


@lru_cache(maxsize=1)
def default_pool() -> BufferPool:
    """The process-wide pool behind the native core's outputs (read its ``stats()`` for metrics)."""
    _check_env()
    pool = BufferPool._wrap(_native.default_pool())
    log.debug("default buffer pool", extra=kv(enabled=pool.enabled, cap_bytes=pool.cap_bytes))
    return pool
