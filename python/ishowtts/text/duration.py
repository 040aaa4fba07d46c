"""How many mel frames to generate for a text chunk.

F5-TTS does not predict duration: the caller picks the total frame count (reference + new speech).
Upstream's rule assumes the new text is spoken at the reference's bytes-per-frame rate:
``frames = ref_frames + int(ref_frames / ref_text_bytes * gen_text_bytes / speed)``. Texts under
10 bytes are spoken at speed 0.3 (the rate estimate is unreliable for them and they would come out
clipped). ``fix_duration`` replaces the estimate with a fixed length.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "HOP_LENGTH",
    "SAMPLE_RATE",
    "SHORT_TEXT_BYTES",
    "SHORT_TEXT_SPEED",
    "allocate_fix_duration",
    "effective_speed",
    "estimate_frames",
    "fixed_frames",
]

SAMPLE_RATE = 24_000
HOP_LENGTH = 256
SHORT_TEXT_BYTES = 10
SHORT_TEXT_SPEED = 0.3


def effective_speed(gen_text_bytes: int, speed: float) -> float:
    if speed <= 0:
        raise ValueError(f"speed must be > 0, got {speed}")
    return SHORT_TEXT_SPEED if gen_text_bytes < SHORT_TEXT_BYTES else speed


def estimate_frames(ref_frames: int, ref_text_bytes: int, gen_text_bytes: int, speed: float = 1.0) -> int:
    """Total frames (reference included) for ``gen_text_bytes`` of new text."""
    if ref_frames <= 0 or ref_text_bytes <= 0:
        raise ValueError(f"need a non-empty reference (got {ref_frames} frames, {ref_text_bytes} bytes)")
    if gen_text_bytes < 0:
        raise ValueError(f"gen_text_bytes must be >= 0, got {gen_text_bytes}")
    local_speed = effective_speed(gen_text_bytes, speed)
    return ref_frames + int(ref_frames / ref_text_bytes * gen_text_bytes / local_speed)


def fixed_frames(ref_frames: int, gen_seconds: float) -> int:
    """Total frames (reference included) when the generated part must last ``gen_seconds``."""
    if gen_seconds <= 0:
        raise ValueError(f"fix_duration must be > 0 seconds, got {gen_seconds}")
    return ref_frames + int(gen_seconds * SAMPLE_RATE / HOP_LENGTH)


def allocate_fix_duration(gen_seconds: float, chunk_bytes: Sequence[int], cross_fade: float) -> list[float]:
    """Split a fixed total of generated seconds across chunks in proportion to their text bytes.

    Neighbouring chunks overlap by ``cross_fade`` seconds when joined, so that overlap is added back to
    make the joined audio last ``gen_seconds`` (upstream's allocation, with the reference excluded).
    """
    if not chunk_bytes:
        return []
    if gen_seconds <= 0:
        raise ValueError(f"fix_duration must be > 0 seconds, got {gen_seconds}")
    total = sum(chunk_bytes)
    if total <= 0:
        raise ValueError("chunks have no text")
    allocatable = gen_seconds + max(cross_fade, 0.0) * (len(chunk_bytes) - 1)
    return [allocatable * b / total for b in chunk_bytes]
