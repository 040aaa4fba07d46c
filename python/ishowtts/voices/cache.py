"""A bounded LRU cache of prepared voices keyed by content, not by object identity.

The key is a SHA-256 over the reference samples (as contiguous float32 bytes, with their shape), the
sample rate and the transcript, so the same clip loaded twice hits, and any change to audio, rate or
text misses. Thread-safe; a voice being prepared by one thread is not prepared again by another.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from ishowtts.logging_setup import kv

__all__ = ["CacheStats", "VoiceCache", "content_key"]

log = logging.getLogger(__name__)

T = TypeVar("T")


def content_key(audio: np.ndarray, sample_rate: int, text: str, salt: str = "") -> str:
    """Hex SHA-256 of (float32 samples + shape, sample rate, text, salt)."""
    x = np.ascontiguousarray(np.asarray(audio, dtype=np.float32))
    h = hashlib.sha256()
    h.update(repr(x.shape).encode())
    h.update(x.tobytes())
    h.update(f"|sr={int(sample_rate)}|".encode())
    h.update(text.encode("utf-8"))
    h.update(f"|{salt}".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    size: int
    capacity: int

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class VoiceCache(Generic[T]):
    def __init__(self, capacity: int = 64) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._items: OrderedDict[str, T] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[str, threading.Lock] = {}
        self._hits = 0
        self._misses = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._items

    def get(self, key: str) -> T | None:
        """The cached value (counted as a hit) or None (counted as a miss)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self._hits += 1
                return self._items[key]
            self._misses += 1
            return None

    def put(self, key: str, value: T) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                evicted, _ = self._items.popitem(last=False)
                log.debug("voice evicted", extra=kv(key=evicted[:12]))

    def get_or_create(self, key: str, build: Callable[[], T]) -> T:
        """Return the cached value for ``key``, building and storing it on a miss (once per key)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self._hits += 1
                return self._items[key]
            build_lock = self._building.setdefault(key, threading.Lock())
        with build_lock:
            with self._lock:  # another thread may have built it while we waited
                if key in self._items:
                    self._items.move_to_end(key)
                    self._hits += 1
                    return self._items[key]
                self._misses += 1
            try:
                value = build()
                self.put(key, value)
            finally:
                with self._lock:
                    self._building.pop(key, None)
            return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._items), self.capacity)
