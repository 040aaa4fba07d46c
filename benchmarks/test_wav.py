"""WAV encoding benchmarks (pytest-benchmark; information only, the CI gate is benchmarks/gates/wav.py).

Run: ``pytest benchmarks/test_wav.py`` (add ``--benchmark-only``/``--benchmark-json``) as needed.
Groups:
- 10 s mono 24 kHz -> PCM16 WAV bytes: ours (auto dispatch), ours with the scalar kernel (samples only, so
  compare it with ``encode_pcm16``), the numpy idioms that give the same bytes, and soundfile.
- 10 s stereo 48 kHz PCM16 and float32 WAV: ours vs numpy / soundfile.
- a 100 ms streaming chunk (per-call overhead): ``WavStreamEncoder.encode`` vs the numpy idiom.
Each peer's output is checked before it is timed.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gate import load_module
from ishowtts import _native
from ishowtts.audio import active_isa
from ishowtts.audio.wav import WAV_HEADER_BYTES, WavStreamEncoder, encode_pcm16, encode_wav

peers = load_module(Path(__file__).resolve().parent / "gates" / "wav.py")  # the gate's peers, checked here
RATE = peers.RATE
X = peers.bench_signal()
X_STEREO_48K = peers.bench_signal(rate=48000, channels=2)
REF = encode_wav(X, RATE)


def _check_soundfile(b: bytes, x: np.ndarray) -> None:
    decoded, _ = sf.read(io.BytesIO(b), dtype="int16")
    ours = np.frombuffer(encode_pcm16(x), "<i2").reshape(decoded.shape)
    assert np.max(np.abs(decoded.astype(np.int32) - ours)) <= 1  # libsndfile floors: within 1 LSB


PCM16_MONO = {
    "ours": lambda x: encode_wav(x, RATE),
    "ours_pcm16_body_only": lambda x: encode_pcm16(x),
    "ours_scalar_body_only": lambda x: _native._encode_pcm16_with_isa(x, "scalar"),
    "numpy_fast": lambda x: peers.numpy_fast(x, RATE),
    "numpy_strict": lambda x: peers.numpy_strict(x, RATE),
    "soundfile": lambda x: peers.soundfile_wav(x, RATE),
}


@pytest.mark.parametrize("method", list(PCM16_MONO))
def test_pcm16_wav_10s_24k_mono(benchmark, method: str) -> None:
    fn = PCM16_MONO[method]
    out = fn(X)
    if method == "soundfile":
        _check_soundfile(out, X)
    elif "body_only" in method:
        assert out == REF[WAV_HEADER_BYTES:]
    else:
        assert out == REF
    benchmark.group = "PCM16 WAV, 10 s mono 24 kHz"
    benchmark.extra_info["isa"] = active_isa() if method == "ours" else ""
    benchmark(fn, X)
    if benchmark.stats is not None:
        benchmark.extra_info["x_realtime"] = round(peers.SECONDS / benchmark.stats.stats.min)


def _numpy_float32_wav(x: np.ndarray, rate: int) -> bytes:
    channels = x.shape[1]
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        *(b"RIFF", 36 + x.nbytes, b"WAVE", b"fmt ", 16, 3, channels, rate, 4 * channels * rate, 4 * channels,
          32, b"data", x.nbytes),
    )  # fmt: skip
    return header + x.astype("<f4", copy=False).tobytes()


STEREO = {
    "ours_pcm16": lambda x: encode_wav(x, 48000),
    "numpy_fast_pcm16": lambda x: peers.numpy_fast(x, 48000),
    "soundfile_pcm16": lambda x: peers.soundfile_wav(x, 48000),
    "ours_float32": lambda x: encode_wav(x, 48000, "float32"),
    "numpy_float32": lambda x: _numpy_float32_wav(x, 48000),
}


@pytest.mark.parametrize("method", list(STEREO))
def test_wav_10s_48k_stereo(benchmark, method: str) -> None:
    fn = STEREO[method]
    out = fn(X_STEREO_48K)
    if method.startswith("soundfile"):
        _check_soundfile(out, X_STEREO_48K)
    elif method.endswith("float32"):
        assert out == encode_wav(X_STEREO_48K, 48000, "float32")
    else:
        assert out == encode_wav(X_STEREO_48K, 48000)
    benchmark.group = "WAV, 10 s stereo 48 kHz"
    benchmark(fn, X_STEREO_48K)


CHUNK = np.ascontiguousarray(X[:2400])  # 100 ms at 24 kHz: one streaming step
_ENC = WavStreamEncoder(RATE)


def _numpy_chunk(x: np.ndarray) -> bytes:
    y = np.multiply(x, np.float32(32768.0))
    np.clip(y, -32768.0, 32767.0, out=y)
    np.rint(y, out=y)
    return y.astype(np.int16).tobytes()


@pytest.mark.parametrize("method", ["ours_stream_encode", "numpy"])
def test_stream_chunk_100ms(benchmark, method: str) -> None:
    fn = _ENC.encode if method == "ours_stream_encode" else _numpy_chunk
    assert fn(CHUNK) == encode_pcm16(CHUNK)
    benchmark.group = "PCM16 streaming chunk, 100 ms at 24 kHz"
    benchmark(fn, CHUNK)
