"""Frame-length buckets: the static shapes the fast path runs (and, on CUDA, captures graphs for).

A request of ``frames`` total frames (reference + generated) is grouped with others of the smallest bucket
>= frames. With CUDA graphs (static shapes) the group runs at that bucket. Without them it runs at its
longest request rounded up to ``multiple`` frames (at most the bucket): a bucket can be half padding, and
attention on the CPU runs at a fraction of its rate on odd lengths (938 frames: ~180 GFLOP/s; 944 or 960:
~250-310, bf16 on AMX), so both cost less. Padding is masked, so neither choice changes the audio. Batch
sizes are rounded up like buckets (extra rows repeat a real request and are dropped).
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
    """Sorted frame buckets and batch sizes. ``frames_for(n)`` / ``batch_for(b)`` round up;
    ``run_frames(n)`` is the length a group whose longest request has ``n`` frames runs at (``multiple``
    0: its bucket)."""

    frames: tuple[int, ...] = DEFAULT_BUCKETS
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES
    multiple: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "frames", _sorted_positive(self.frames, "frame bucket"))
        object.__setattr__(self, "batch_sizes", _sorted_positive(self.batch_sizes, "batch size"))
        if isinstance(self.multiple, bool) or not isinstance(self.multiple, int) or self.multiple < 0:
            raise ValueError(f"multiple must be an int >= 0, got {self.multiple!r}")

    @classmethod
    def from_config(
        cls, buckets: Iterable[int] | None, max_batch: int = defaults.MAX_BATCH, *, multiple: int = 0
    ) -> BucketSet:
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
        return cls(frames, tuple(sorted(sizes)), multiple)

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

    def run_frames(self, frames: int) -> int:
        """The length a group runs at when its longest request needs ``frames``: the bucket, or with a
        ``multiple`` the next multiple of it when that is shorter."""
        bucket = self.frames_for(frames)
        if not self.multiple:
            return bucket
        return min(bucket, -(-frames // self.multiple) * self.multiple)

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
