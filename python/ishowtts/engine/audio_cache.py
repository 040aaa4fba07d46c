"""Thread-safe LRU cache of finished audio for seeded requests (chat repeats itself).

Keys cover everything that determines the output: voice id and version, the text and every
:class:`SynthesisParams` field (seed included). Bounded by entry count and by total bytes.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Hashable

import numpy as np

from ishowtts.engine.backend import SynthesisParams
from ishowtts.voices.reference import VoiceReference

DEFAULT_MAX_BYTES = 512 * 1024 * 1024


def cache_key(voice: VoiceReference, text: str, params: SynthesisParams) -> tuple[Hashable, ...]:
    values = []
    for f in dataclasses.fields(params):
        v = getattr(params, f.name)
        if isinstance(v, dict):
            v = tuple(sorted((str(k), repr(x)) for k, x in v.items()))
        values.append((f.name, v))
    return (voice.id, voice.version, text, tuple(values))


class AudioCache:
    def __init__(self, max_entries: int, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_entries < 0 or max_bytes < 0:
            raise ValueError("max_entries and max_bytes must be >= 0")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, tuple[np.ndarray, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> tuple[np.ndarray, int] | None:
        """(a private copy of the audio, sample rate), or None; counts a hit or a miss."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            audio, sr = item
        return audio.copy(), sr

    def put(self, key: Hashable, audio: np.ndarray, sample_rate: int) -> bool:
        """Store a copy; returns False when the entry cannot fit (cache disabled or larger than the byte cap)."""
        if self.max_entries == 0 or audio.nbytes > self.max_bytes:
            return False
        stored = np.array(audio, dtype=np.float32, copy=True)
        stored.setflags(write=False)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[0].nbytes
            self._items[key] = (stored, sample_rate)
            self._bytes += stored.nbytes
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                _, (evicted, _sr) = self._items.popitem(last=False)
                self._bytes -= evicted.nbytes
        return True

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    @property
    def nbytes(self) -> int:
        return self._bytes
