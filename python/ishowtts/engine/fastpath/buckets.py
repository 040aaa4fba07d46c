"""Frame-length buckets: the static shapes the fast path runs (and, on CUDA, captures graphs for).

A request of ``frames`` total frames (reference + generated) runs at the smallest bucket >= frames; its
padding is masked, so the bucket choice does not change the audio. Batch sizes are rounded up the same
way (extra rows repeat a real request and are dropped).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

from ishowtts import defaults

__all__ = ["DEFAULT_BATCH_SIZES", "DEFAULT_BUCKETS", "BucketSet", "BucketTooSmall"]

#: total frames (24 kHz, hop 256: 93.75 frames/s); 12 s reference + up to ~22 s generated fits 3072
DEFAULT_BUCKETS: tuple[int, ...] = defaults.BUCKETS
DEFAULT_BATCH_SIZES: tuple[int, ...] = (1, 2, 4, 8)


class BucketTooSmall(ValueError):
    """A request is longer than the largest configured bucket."""


@dataclass(frozen=True)
class BucketSet:
    """Sorted frame buckets and batch sizes. ``frames_for(n)`` / ``batch_for(b)`` round up."""

    frames: tuple[int, ...] = DEFAULT_BUCKETS
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES

    def __post_init__(self) -> None:
        object.__setattr__(self, "frames", _sorted_positive(self.frames, "frame bucket"))
        object.__setattr__(self, "batch_sizes", _sorted_positive(self.batch_sizes, "batch size"))

    @classmethod
    def from_config(cls, buckets: Iterable[int] | None, max_batch: int = defaults.MAX_BATCH) -> BucketSet:
        """``[]``/None -> :data:`DEFAULT_BUCKETS`; batch sizes are the powers of two up to ``max_batch``
        (plus ``max_batch`` itself)."""
        frames = tuple(buckets) if buckets else DEFAULT_BUCKETS
        if not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError(f"max_batch must be a positive int, got {max_batch!r}")
        sizes = {1, max_batch}
        b = 2
        while b < max_batch:
            sizes.add(b)
            b *= 2
        return cls(frames, tuple(sorted(sizes)))

    @property
    def max_frames(self) -> int:
        return self.frames[-1]

    @property
    def max_batch(self) -> int:
        return self.batch_sizes[-1]

    def frames_for(self, frames: int) -> int:
        """The smallest bucket holding ``frames``; :class:`BucketTooSmall` beyond the largest."""
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        i = bisect.bisect_left(self.frames, frames)
        if i == len(self.frames):
            raise BucketTooSmall(
                f"{frames} frames exceed the largest bucket ({self.frames[-1]}); add a larger bucket to "
                "engine.buckets or shorten the text/reference"
            )
        return self.frames[i]

    def batch_for(self, batch: int) -> int:
        """The smallest configured batch size >= ``batch``."""
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        i = bisect.bisect_left(self.batch_sizes, batch)
        if i == len(self.batch_sizes):
            raise ValueError(f"batch {batch} exceeds the largest batch size {self.batch_sizes[-1]}")
        return self.batch_sizes[i]


def _sorted_positive(values: Iterable[int], what: str) -> tuple[int, ...]:
    vals = tuple(values)
    if not vals:
        raise ValueError(f"at least one {what} is required")
    for v in vals:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"every {what} must be a positive int, got {v!r}")
    return tuple(sorted(set(vals)))
