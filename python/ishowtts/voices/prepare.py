"""Reference voice preparation: upstream F5-TTS preprocessing, in numpy.

Steps (upstream's ``preprocess_ref_audio_text`` + ``infer_batch_process``, without pydub/torchaudio):

1. mono (channel mean), float32;
2. resample to 24 kHz with the native resampler (``ishowtts.audio.resample``);
3. clip to at most 12 s at a silence: keep whole non-silent stretches (with up to 1 s of their silence)
   until adding the next would pass 12 s once 6 s are kept; first with >= 1000 ms silences at -50 dBFS,
   then >= 100 ms at -40 dBFS, else a hard cut at 12 s;
4. trim leading/trailing silence (10 ms steps, -42 dBFS), append 50 ms of silence;
5. if the RMS is below 0.1, scale up to 0.1 and remember the factor, so generated audio can be scaled back.

The reference text must be given (no ASR here) and is forced to end with ". " as upstream does; the
model sees it with one more space appended after a 1-byte last character (upstream's layout).

Silence levels are dBFS of a float signal with full scale 1.0, measured as the RMS over a window, as pydub
does on integer samples. Windows are in milliseconds.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ishowtts import defaults
from ishowtts.logging_setup import kv

__all__ = [
    "MAX_REF_SECONDS",
    "PreparedVoice",
    "clip_at_silence",
    "detect_nonsilent",
    "finalize_ref_text",
    "model_ref_text",
    "prepare_reference_audio",
    "prepare_voice",
    "remove_long_silences",
    "split_on_silence",
    "to_mono_float32",
    "trim_silence_edges",
]

log = logging.getLogger(__name__)

SAMPLE_RATE = 24_000
HOP_LENGTH = 256
MAX_REF_SECONDS = 12.0
TARGET_RMS = defaults.TARGET_RMS
EDGE_SILENCE_DB = -42.0
APPENDED_SILENCE_MS = 50
# (min_silence_ms, threshold_dbfs) tried in order when the reference is longer than 12 s
_CLIP_PASSES = ((1000, -50.0), (100, -40.0))
_KEEP_SILENCE_MS = 1000
_SEEK_MS = 10


@dataclass(frozen=True)
class PreparedVoice:
    """Everything the engine derives once from a reference clip and its transcript."""

    audio: np.ndarray  # float32 mono at 24 kHz, processed and RMS-normalised
    text: str  # transcript ending in ". " (used for the chunk budget)
    model_text: str  # the text prefix the model sees before the generated text
    rms: float  # RMS of the processed clip before normalisation
    rms_factor: float  # multiply generated audio by this (1.0 unless the clip was quieter than 0.1)
    mel: Any = None  # (1, frames, 100) log-mel tensor, filled by the engine
    key: str = ""  # content hash (see voices.cache)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE

    @property
    def ref_frames(self) -> int:
        """Frames the duration rule counts for the reference (samples // hop)."""
        return len(self.audio) // HOP_LENGTH

    @property
    def text_bytes(self) -> int:
        """UTF-8 bytes of :attr:`text` (chunk budget)."""
        return len(self.text.encode("utf-8"))

    @property
    def model_text_bytes(self) -> int:
        """UTF-8 bytes of :attr:`model_text` (duration rule)."""
        return len(self.model_text.encode("utf-8"))


# ---------------------------------------------------------------- text


def finalize_ref_text(text: str) -> str:
    """Force the transcript to end with ". " (or "。"), as upstream does before synthesis."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(
            "reference text is required: give the transcript of the reference audio (no ASR is run)"
        )
    if text.endswith(". ") or text.endswith("。"):
        return text
    return text + " " if text.endswith(".") else text + ". "


def model_ref_text(text: str) -> str:
    """Upstream adds one more space when the (finalised) transcript ends in a 1-byte character."""
    return text + " " if len(text[-1].encode("utf-8")) == 1 else text


# ---------------------------------------------------------------- audio basics


def to_mono_float32(audio: np.ndarray) -> np.ndarray:
    """(samples,) or (samples, channels) -> contiguous float32 (samples,), channels averaged."""
    x = np.asarray(audio)
    if x.dtype.kind not in "fiu":
        raise TypeError(f"audio must be a numeric array, got dtype {x.dtype}")
    if x.dtype.kind in "iu":
        x = x.astype(np.float32) / float(np.iinfo(x.dtype).max + 1)
    if x.ndim == 2:
        x = x.mean(axis=1)
    elif x.ndim != 1:
        raise ValueError(f"audio must be shaped (samples,) or (samples, channels), got {x.shape}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.size == 0:
        raise ValueError("reference audio is empty")
    if not np.isfinite(x).all():
        raise ValueError("reference audio contains NaN or infinite samples")
    return x


def _resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    if src == dst:
        return x
    try:
        from ishowtts.audio import resample
    except ImportError as exc:  # the native core is missing (source checkout without a build)
        raise RuntimeError(
            f"reference audio at {src} Hz needs resampling to {dst} Hz, but the native resampler "
            "(ishowtts.audio.resample) is not available: build the package (pip install .)"
        ) from exc
    return np.ascontiguousarray(resample(x, src, dst), dtype=np.float32)


def _db_to_amplitude(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def _ms_to_samples(ms: int, sr: int) -> int:
    return int(ms * sr // 1000)


def _length_ms(x: np.ndarray, sr: int) -> int:
    return round(len(x) * 1000 / sr)


# ---------------------------------------------------------------- silence detection (pydub semantics)


def _detect_silence(
    x: np.ndarray, sr: int, min_silence_ms: int, thresh_db: float, seek_ms: int
) -> list[list[int]]:
    """Silent ranges [start_ms, end_ms]: windows of ``min_silence_ms`` whose RMS is <= the threshold,
    tried every ``seek_ms`` (plus the last full window), overlapping windows merged."""
    n_ms = _length_ms(x, sr)
    if n_ms < min_silence_ms:
        return []
    energy = np.concatenate(([0.0], np.cumsum(np.square(x, dtype=np.float64))))
    last = n_ms - min_silence_ms
    starts = np.arange(0, last + 1, seek_ms)
    if last % seek_ms:
        starts = np.append(starts, last)
    lo = np.minimum(starts * sr // 1000, len(x))
    hi = np.minimum((starts + min_silence_ms) * sr // 1000, len(x))
    counts = np.maximum(hi - lo, 1)
    rms = np.sqrt((energy[hi] - energy[lo]) / counts)
    silent = starts[rms <= _db_to_amplitude(thresh_db)].tolist()
    if not silent:
        return []
    ranges: list[list[int]] = []
    range_start = prev = silent[0]
    for s in silent[1:]:
        contiguous = s == prev + seek_ms
        gap = s > prev + min_silence_ms
        if not contiguous and gap:
            ranges.append([range_start, prev + min_silence_ms])
            range_start = s
        prev = s
    ranges.append([range_start, prev + min_silence_ms])
    return ranges


def detect_nonsilent(
    x: np.ndarray, sr: int, min_silence_ms: int, thresh_db: float, seek_ms: int = _SEEK_MS
) -> list[list[int]]:
    """Non-silent ranges [start_ms, end_ms] (the complement of silences of at least ``min_silence_ms``)."""
    n_ms = _length_ms(x, sr)
    silences = _detect_silence(x, sr, min_silence_ms, thresh_db, seek_ms)
    if not silences:
        return [[0, n_ms]]
    if silences[0][0] == 0 and silences[0][1] == n_ms:
        return []
    out: list[list[int]] = []
    prev_end = 0
    for start, end in silences:
        out.append([prev_end, start])
        prev_end = end
    if silences[-1][1] != n_ms:
        out.append([prev_end, n_ms])
    if out and out[0] == [0, 0]:
        out.pop(0)
    return out


def split_on_silence(
    x: np.ndarray,
    sr: int,
    min_silence_ms: int,
    thresh_db: float,
    keep_silence_ms: int,
    seek_ms: int = _SEEK_MS,
) -> list[np.ndarray]:
    """Non-silent stretches, each padded with up to ``keep_silence_ms`` of the silence around it
    (a shorter silence between two stretches is shared at its midpoint)."""
    ranges = [
        [s - keep_silence_ms, e + keep_silence_ms]
        for s, e in detect_nonsilent(x, sr, min_silence_ms, thresh_db, seek_ms)
    ]
    for a, b in itertools.pairwise(ranges):
        if b[0] < a[1]:
            a[1] = (a[1] + b[0]) // 2
            b[0] = a[1]
    n = len(x)
    return [
        x[min(_ms_to_samples(max(s, 0), sr), n) : min(_ms_to_samples(max(e, 0), sr), n)] for s, e in ranges
    ]


def clip_at_silence(x: np.ndarray, sr: int, max_seconds: float = MAX_REF_SECONDS) -> np.ndarray:
    """Upstream's clip to ``max_seconds``: two silence-split passes, then a hard cut."""
    limit_ms = int(max_seconds * 1000)
    half_ms = limit_ms // 2
    out = x
    for pass_no, (min_silence_ms, thresh_db) in enumerate(_CLIP_PASSES, start=1):
        kept: list[np.ndarray] = []
        kept_ms = 0
        for seg in split_on_silence(x, sr, min_silence_ms, thresh_db, _KEEP_SILENCE_MS):
            seg_ms = _length_ms(seg, sr)
            if kept_ms > half_ms and kept_ms + seg_ms > limit_ms:
                log.info("reference clipped at a silence", extra=kv(pass_no=pass_no, kept_ms=kept_ms))
                break
            kept.append(seg)
            kept_ms += seg_ms
        out = np.concatenate(kept) if kept else x[:0]
        if _length_ms(out, sr) <= limit_ms:
            return out
    log.info("reference hard-cut", extra=kv(max_seconds=max_seconds))
    return out[: _ms_to_samples(limit_ms, sr)]


def _leading_silence_samples(x: np.ndarray, sr: int, thresh_db: float, chunk_ms: int) -> int:
    chunk = max(_ms_to_samples(chunk_ms, sr), 1)
    if len(x) == 0:
        return 0
    n_chunks = -(-len(x) // chunk)
    padded = np.zeros(n_chunks * chunk, dtype=np.float64)
    padded[: len(x)] = x
    sq = np.square(padded).reshape(n_chunks, chunk).sum(axis=1)
    counts = np.full(n_chunks, chunk, dtype=np.float64)
    counts[-1] = len(x) - (n_chunks - 1) * chunk
    rms = np.sqrt(sq / counts)
    loud = np.nonzero(rms >= _db_to_amplitude(thresh_db))[0]
    if loud.size == 0:
        return len(x)
    return int(loud[0]) * chunk


def trim_silence_edges(
    x: np.ndarray, sr: int, thresh_db: float = EDGE_SILENCE_DB, chunk_ms: int = 10
) -> np.ndarray:
    """Drop leading and trailing chunks quieter than ``thresh_db`` (all of it if everything is quiet)."""
    start = _leading_silence_samples(x, sr, thresh_db, chunk_ms)
    x = x[start:]
    if not len(x):
        return x
    end = _leading_silence_samples(x[::-1], sr, thresh_db, chunk_ms)
    return x[: len(x) - end] if end > 0 else x


def remove_long_silences(
    x: np.ndarray,
    sr: int = SAMPLE_RATE,
    min_silence_ms: int = 1000,
    thresh_db: float = -50.0,
    keep_silence_ms: int = 500,
) -> np.ndarray:
    """Shorten silences longer than ``min_silence_ms`` (upstream's post-processing of generated audio)."""
    if len(x) == 0:
        return x
    parts = split_on_silence(x, sr, min_silence_ms, thresh_db, keep_silence_ms)
    return np.concatenate(parts).astype(np.float32, copy=False) if parts else x[:0]


# ---------------------------------------------------------------- the whole preparation


def prepare_reference_audio(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Steps 1-4: mono, 24 kHz, clipped at a silence, edges trimmed, 50 ms of silence appended."""
    if not isinstance(sample_rate, int | np.integer) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}")
    x = _resample(to_mono_float32(audio), int(sample_rate), SAMPLE_RATE)
    x = clip_at_silence(x, SAMPLE_RATE)
    x = trim_silence_edges(x, SAMPLE_RATE)
    if len(x) < HOP_LENGTH:
        raise ValueError("reference audio is silent (nothing above -42 dBFS) or too short")
    tail = np.zeros(_ms_to_samples(APPENDED_SILENCE_MS, SAMPLE_RATE), dtype=np.float32)
    return np.concatenate([x, tail]).astype(np.float32, copy=False)


def prepare_voice(
    audio: np.ndarray, sample_rate: int, text: str, target_rms: float = TARGET_RMS
) -> PreparedVoice:
    """Upstream's reference preprocessing; the mel is computed by the engine (it owns the model code)."""
    ref_text = finalize_ref_text(text)
    x = prepare_reference_audio(audio, sample_rate)
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    factor = 1.0
    if rms < target_rms:
        x = (x * np.float32(target_rms / rms)).astype(np.float32)
        factor = rms / target_rms
    log.debug(
        "voice prepared",
        extra=kv(
            seconds=round(len(x) / SAMPLE_RATE, 3), rms=round(rms, 5), text_bytes=len(ref_text.encode())
        ),
    )
    return PreparedVoice(
        audio=x, text=ref_text, model_text=model_ref_text(ref_text), rms=rms, rms_factor=factor
    )
