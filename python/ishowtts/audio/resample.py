"""Sample-rate conversion: polyphase Kaiser-windowed sinc in the native core (``ishowtts._native``).

Conventions
-----------
* Input: float32 numpy arrays shaped ``(samples,)`` or ``(samples, channels)``, C-contiguous. Anything else
  (float64, strided views, lists) raises ``TypeError`` naming the fix (``np.ascontiguousarray(x,
  dtype=np.float32)``): the core never converts or copies silently.
* Rates: integers in [1, 1_000_000] Hz; ``dst/src`` reduces to ``L/M``. Any pair works whose polyphase tables
  fit in 64 MiB (every pair of 8, 11.025, 16, 22.05, 24, 32, 44.1 and 48 kHz does). Same rate -> a copy.
* Time alignment: output sample ``n`` is the band-limited input evaluated at input time ``n * src / dst``;
  the filter delay is compensated, so output and input are aligned sample for sample at t = 0.
* Length: a one-shot call on N samples returns ``ceil(N * dst / src)`` samples (the signal is taken as zero
  outside the input).
* Streaming: ``Resampler.process`` returns every output whose input window is complete; ``flush`` returns
  the rest and resets. The concatenation of all ``process`` outputs and ``flush`` equals the one-shot output
  bit for bit, for any chunking (chunks of 0 and 1 samples included). The look-ahead is
  ``latency_input_samples`` (40 input samples for 24 -> 48 kHz; about 36 samples of the lower rate plus a
  group of 8 outputs in general).
* Quality (lower of the two rates = Nyquist): passband ripple below 0.01 dB to 0.85 Nyquist, -3 dB near 0.94
  Nyquist, alias/image rejection beyond 110 dB from 1.05 Nyquist, SNR above 120 dB for tones up to 0.75
  Nyquist (``tests/native/test_resample_quality.py`` measures these against soxr HQ).
* Kernels: AVX2+FMA or NEON when the CPU has them, else scalar; ``ISHOWTTS_FORCE_SCALAR=1`` (set before
  import) forces scalar. ``isa=`` picks one explicitly (used by the tests to compare SIMD with scalar).
"""

from __future__ import annotations

import logging
import numbers

import numpy as np

from ishowtts import _native
from ishowtts.logging_setup import kv

log = logging.getLogger(__name__)

__all__ = ["Resampler", "resample", "resample_info"]


def _rate(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be an int number of Hz, got {type(value).__name__}")
    if isinstance(value, numbers.Integral):
        return int(value)
    f = float(value)
    if not np.isfinite(f) or f != int(f):
        raise ValueError(f"{name} must be a whole number of Hz, got {value!r}")
    return int(f)


def resample(x: np.ndarray, src_rate: int, dst_rate: int, *, isa: str | None = None) -> np.ndarray:
    """Resample ``x`` (float32, ``(samples,)`` or ``(samples, channels)``) from ``src_rate`` to ``dst_rate``.

    Returns a new float32 array of ``ceil(len(x) * dst_rate / src_rate)`` frames with the same number of
    dimensions; same rate returns a copy. ``isa`` ('scalar', 'avx2+fma', 'neon') overrides the kernels chosen
    at import.
    """
    return _native.resample(x, _rate(src_rate, "src_rate"), _rate(dst_rate, "dst_rate"), isa)


def resample_info(src_rate: int, dst_rate: int) -> dict:
    """Filter design figures for a rate pair: reduced ratio, taps, latency, table size."""
    return _native.resample_info(_rate(src_rate, "src_rate"), _rate(dst_rate, "dst_rate"))


class Resampler:
    """Streaming resampler: keeps filter history between :meth:`process` calls.

    One instance serves one stream from one thread at a time (overlapping calls raise ``RuntimeError``).
    """

    def __init__(self, src_rate: int, dst_rate: int, channels: int = 1, *, isa: str | None = None) -> None:
        if isinstance(channels, bool) or not isinstance(channels, numbers.Integral):
            raise TypeError(f"channels must be an int, got {type(channels).__name__}")
        self._impl = _native.Resampler(
            _rate(src_rate, "src_rate"), _rate(dst_rate, "dst_rate"), int(channels), isa
        )
        log.debug(
            "resampler created",
            extra=kv(
                src_rate=self.src_rate,
                dst_rate=self.dst_rate,
                channels=self.channels,
                isa=self.isa,
                latency_input_samples=self.latency_input_samples,
            ),
        )

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """Feed ``chunk`` (float32, ``(samples,)`` for mono or ``(samples, channels)``); returns the outputs now
        complete (possibly none)."""
        return self._impl.process(chunk)

    def flush(self) -> np.ndarray:
        """Return the remaining outputs (input treated as zero past its end) and reset for a new stream."""
        return self._impl.flush()

    def reset(self) -> None:
        """Drop all history and pending output; the next :meth:`process` starts a new stream."""
        self._impl.reset()

    @property
    def src_rate(self) -> int:
        return self._impl.src_rate

    @property
    def dst_rate(self) -> int:
        return self._impl.dst_rate

    @property
    def channels(self) -> int:
        return self._impl.channels

    @property
    def isa(self) -> str:
        """Kernel set this instance uses."""
        return self._impl.isa

    @property
    def latency_input_samples(self) -> float:
        """Input samples an output waits for beyond its own time instant (streaming look-ahead)."""
        return self._impl.latency_input_samples

    @property
    def latency(self) -> float:
        """Streaming look-ahead in seconds."""
        return self._impl.latency_input_samples / self._impl.src_rate

    @property
    def input_frames(self) -> int:
        """Input frames received since the last reset/flush."""
        return self._impl.input_frames

    @property
    def output_frames(self) -> int:
        """Output frames returned since the last reset/flush."""
        return self._impl.output_frames

    def __repr__(self) -> str:
        return (
            f"Resampler({self.src_rate} -> {self.dst_rate} Hz, channels={self.channels}, isa={self.isa!r}, "
            f"latency={self.latency * 1e3:.2f} ms)"
        )
