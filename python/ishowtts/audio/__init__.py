"""Python wrappers over the native audio core (``ishowtts._native``).

Inputs are float32 arrays shaped (samples,) or (samples, channels); float64 or strided input raises a
TypeError naming the fix instead of being copied silently.
"""

from ishowtts.audio.isa import active_isa, detected_isa
from ishowtts.audio.pool import BufferPool, PoolStats, default_pool
from ishowtts.audio.resample import Resampler, resample, resample_info
from ishowtts.audio.wav import WAV_HEADER_BYTES, WavStreamEncoder, encode_pcm16, encode_wav, to_pcm16

__all__ = [
    "WAV_HEADER_BYTES",
    "BufferPool",
    "PoolStats",
    "Resampler",
    "WavStreamEncoder",
    "active_isa",
    "default_pool",
    "detected_isa",
    "encode_pcm16",
    "encode_wav",
    "resample",
    "resample_info",
    "to_pcm16",
]
