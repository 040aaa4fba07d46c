"""Python wrappers over the native audio core (``ishowtts._native``).

Public API: ``resample``, ``Resampler``, ``encode_wav``, ``WavStreamEncoder``, ``BufferPool``, ``active_isa``.
Inputs are float32 arrays shaped (samples,) or (samples, channels).
"""

from ishowtts.audio.isa import active_isa

__all__ = ["active_isa"]

try:  # filled in as the native components land
    from ishowtts.audio.resample import Resampler, resample  # noqa: F401

    __all__ += ["Resampler", "resample"]
except ImportError:  # pragma: no cover - transitional
    pass
try:
    from ishowtts.audio.wav import WavStreamEncoder, encode_wav  # noqa: F401

    __all__ += ["WavStreamEncoder", "encode_wav"]
except ImportError:  # pragma: no cover - transitional
    pass
try:
    from ishowtts.audio.pool import BufferPool  # noqa: F401

    __all__ += ["BufferPool"]
except ImportError:  # pragma: no cover - transitional
    pass
