"""WAV encoding on the native core: whole files, streams, raw PCM16.

Input ``x`` is a C-contiguous float32 array shaped (samples,) or (samples, channels), 1 or 2 channels.
Anything else (float64, strided views, torch tensors, ...) raises ``TypeError`` naming the fix
(``np.ascontiguousarray(x, dtype=np.float32)``): nothing is copied silently.

PCM16 convention: ``clamp(x * 32768, -32768, 32767)`` rounded half to even, NaN -> 0, no dither. So 1.0
maps to 32767 and -1.0 to -32768. float32 output stores the samples bit for bit (NaN/Inf included).
Every header is the canonical 44 bytes (16-byte ``fmt`` chunk, format tag 1 = PCM or 3 = IEEE float, no
``fact``/``PEAK`` chunks), which Python's ``wave`` (PCM), libsndfile, scipy and ffmpeg all read.

Output buffers: ``encode_wav``/``encode_pcm16``/``WavStreamEncoder.encode`` allocate their ``bytes`` once at
the final size and the kernel writes straight into it (with the GIL released for large inputs), so there
is no intermediate conversion buffer to pool. ``to_pcm16`` returns an int16 array from the default
:class:`~ishowtts.audio.pool.BufferPool` for callers that want samples, not bytes (e.g. a playback device).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ishowtts import _native

__all__ = [
    "MAX_SAMPLE_RATE",
    "MIN_SAMPLE_RATE",
    "WAV_HEADER_BYTES",
    "SampleFormat",
    "WavStreamEncoder",
    "encode_pcm16",
    "encode_wav",
    "to_pcm16",
]

SampleFormat = Literal["pcm16", "float32"]

WAV_HEADER_BYTES: int = int(_native.WAV_HEADER_BYTES)
MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 768_000
_FORMATS = ("pcm16", "float32")


def _check_rate(sample_rate: int) -> int:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
        raise TypeError(f"sample_rate must be an int (Hz), got {type(sample_rate).__name__}")
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise ValueError(
            f"sample_rate must be between {MIN_SAMPLE_RATE} and {MAX_SAMPLE_RATE} Hz, got {sample_rate}"
        )
    return int(sample_rate)


def _check_format(sample_format: str) -> str:
    if sample_format not in _FORMATS:
        raise ValueError(f"sample_format must be 'pcm16' or 'float32', got {sample_format!r}")
    return sample_format


def encode_wav(x: np.ndarray, sample_rate: int, sample_format: SampleFormat = "pcm16") -> bytes:
    """A complete WAV file as ``bytes``. An empty ``x`` gives a valid WAV with no samples.

    Raises ``ValueError`` for more than 2 channels, bad rates, or audio whose data would exceed the
    32-bit RIFF size (about 4 GiB; stream it with :class:`WavStreamEncoder` instead).
    """
    return _native.encode_wav(x, _check_rate(sample_rate), _check_format(sample_format))


def encode_pcm16(x: np.ndarray) -> bytes:
    """Raw little-endian PCM16 (interleaved if stereo), no header: ``response_format=pcm``."""
    return _native.encode_pcm16(x)


def to_pcm16(x: np.ndarray) -> np.ndarray:
    """The PCM16 samples of ``x`` as an int16 array of the same shape, backed by the default pool."""
    return _native.to_pcm16(x)


class WavStreamEncoder:
    """Streaming WAV: send :meth:`header` once, then :meth:`encode` each chunk.

    The header carries 0xFFFFFFFF in both the RIFF and the data size fields (the length is unknown while
    streaming), which is what OpenAI-compatible clients expect. Chunks must have this encoder's channel
    count: mono accepts (n,) or (n, 1), stereo needs (n, 2). Stateless between chunks, so it is safe to
    share across threads.
    """

    __slots__ = ("_enc",)

    def __init__(self, sample_rate: int, channels: int = 1, sample_format: SampleFormat = "pcm16") -> None:
        if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)):
            raise TypeError(f"channels must be an int, got {type(channels).__name__}")
        if channels not in (1, 2):
            raise ValueError(f"channels must be 1 or 2, got {channels}")
        self._enc = _native.WavStreamEncoder(
            _check_rate(sample_rate), int(channels), _check_format(sample_format)
        )

    def header(self) -> bytes:
        """The 44-byte streaming header."""
        return self._enc.header()

    def encode(self, x: np.ndarray) -> bytes:
        """The chunk's samples in the stream's format (no header)."""
        return self._enc.encode(x)

    @property
    def sample_rate(self) -> int:
        return int(self._enc.sample_rate)

    @property
    def channels(self) -> int:
        return int(self._enc.channels)

    @property
    def sample_format(self) -> SampleFormat:
        return self._enc.sample_format

    @property
    def bytes_per_frame(self) -> int:
        return int(self._enc.bytes_per_frame)

    def __repr__(self) -> str:
        return (
            f"WavStreamEncoder(sample_rate={self.sample_rate}, channels={self.channels}, "
            f"sample_format={self.sample_format!r})"
        )
