"""Decode and validate uploaded reference audio (wav / mp3 / flac / ogg-vorbis / ogg-opus via libsndfile).

Everything is checked before anything is stored: size, container, sample rate, duration, finite samples and
that the clip is not silent. The result is mono float32 at the file's own sample rate.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_SECONDS = 30.0
DEFAULT_MIN_SECONDS = 0.3
MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 192_000
SILENCE_PEAK = 1e-4  # full scale = 1.0

# libsndfile major format -> (file extension, media type)
SUPPORTED_FORMATS: dict[str, tuple[str, str]] = {
    "WAV": ("wav", "audio/wav"),
    "WAVEX": ("wav", "audio/wav"),
    "RF64": ("wav", "audio/wav"),
    "FLAC": ("flac", "audio/flac"),
    "OGG": ("ogg", "audio/ogg"),
    "MP3": ("mp3", "audio/mpeg"),
}
SUPPORTED_NAMES = "wav, mp3, flac, ogg (vorbis), opus (ogg)"
MEDIA_TYPES_BY_EXT = {
    "wav": "audio/wav",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "mp3": "audio/mpeg",
}


class InvalidAudio(ValueError):
    """The uploaded audio cannot be used; the message says what is wrong."""


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # float32 mono, C-contiguous
    sample_rate: int
    format: str  # libsndfile major format, e.g. "WAV"
    subtype: str  # e.g. "PCM_16", "OPUS"
    extension: str  # file extension to store it under
    media_type: str

    @property
    def duration(self) -> float:
        return self.samples.shape[0] / self.sample_rate


def decode_audio(
    data: bytes,
    filename: str | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    min_seconds: float = DEFAULT_MIN_SECONDS,
) -> DecodedAudio:
    """Decode ``data`` (detected from content; ``filename`` only labels errors) or raise :class:`InvalidAudio`."""
    label = f" ({filename})" if filename else ""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidAudio(f"audio{label}: expected bytes, got {type(data).__name__}")
    size = len(data)
    if size == 0:
        raise InvalidAudio(f"audio{label}: the file is empty")
    if size > max_bytes:
        raise InvalidAudio(f"audio{label}: {size} bytes is over the {max_bytes}-byte limit")
    try:
        with sf.SoundFile(io.BytesIO(bytes(data))) as fh:
            fmt, subtype, sr, channels, frames = fh.format, fh.subtype, fh.samplerate, fh.channels, fh.frames
            if fmt not in SUPPORTED_FORMATS:
                raise InvalidAudio(f"audio{label}: unsupported format {fmt}; supported: {SUPPORTED_NAMES}")
            _check_rate(sr, label)
            if frames > 0 and frames / sr > max_seconds + 0.5:  # cheap early reject before decoding
                raise InvalidAudio(
                    f"audio{label}: {frames / sr:.1f} s is longer than the {max_seconds:g} s limit"
                )
            samples = fh.read(dtype="float32", always_2d=True)
    except InvalidAudio:
        raise
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        raise InvalidAudio(
            f"audio{label}: not a decodable audio file ({_clean(exc)}); supported: {SUPPORTED_NAMES}"
        ) from None
    if channels < 1 or samples.shape[0] == 0:
        raise InvalidAudio(f"audio{label}: contains no samples")
    mono = samples.mean(axis=1) if channels > 1 else samples[:, 0]
    mono = np.ascontiguousarray(mono, dtype=np.float32)
    duration = mono.shape[0] / sr
    if duration > max_seconds:
        raise InvalidAudio(f"audio{label}: {duration:.1f} s is longer than the {max_seconds:g} s limit")
    if duration < min_seconds:
        raise InvalidAudio(f"audio{label}: {duration:.2f} s is shorter than the {min_seconds:g} s minimum")
    if not np.isfinite(mono).all():
        raise InvalidAudio(f"audio{label}: contains NaN or infinite samples")
    peak = float(np.abs(mono).max())
    if peak < SILENCE_PEAK:
        raise InvalidAudio(f"audio{label}: the clip is silent")
    ext, media_type = SUPPORTED_FORMATS[fmt]
    return DecodedAudio(mono, int(sr), fmt, subtype, ext, media_type)


def read_audio_file(
    path: Path | str, *, max_seconds: float = 3600.0, min_seconds: float = DEFAULT_MIN_SECONDS
) -> tuple[DecodedAudio, bytes]:
    """Decode a file from disk with the same checks (no size cap); returns the decoded audio and raw bytes."""
    data = Path(path).read_bytes()
    decoded = decode_audio(
        data, Path(path).name, max_bytes=max(len(data), 1), max_seconds=max_seconds, min_seconds=min_seconds
    )
    return decoded, data


def media_type_for(path: Path | str) -> str:
    return MEDIA_TYPES_BY_EXT.get(Path(path).suffix.lower().lstrip("."), "application/octet-stream")


def _check_rate(sr: int, label: str) -> None:
    if not MIN_SAMPLE_RATE <= sr <= MAX_SAMPLE_RATE:
        raise InvalidAudio(
            f"audio{label}: sample rate {sr} Hz is outside {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz"
        )


def _clean(exc: Exception) -> str:
    msg = str(exc)
    # libsndfile names the BytesIO object; keep only the reason.
    return msg.split(": ", 1)[-1] if "<_io.BytesIO" in msg else msg
