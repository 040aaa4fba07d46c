"""Gate cases: PCM16 WAV encoding of 10 s of 24 kHz mono against its peers (same-run ratio of minimum times;
see benchmarks/gatelib.py). ``required`` in floors.json is the hard floor per kernel set (AVX2+FMA: above
half the lowest ratio any recorded machine class measured, so a 2x slowdown fails; NEON: issue 2's 3x numpy
/ 20x soundfile); ``baselines`` are the medians per machine class.

The peers live here so benchmarks/test_wav.py measures exactly the same functions.

"Best numpy idiom": the fastest numpy code found that produces the same bytes as ours (header included) for
every input, tried against multiplying/clipping/rounding in other orders, ``nan_to_num``, boolean-mask
fix-ups, cache-blocked loops and ``where=`` casts (see the report in the pull request):

- ``numpy_fast``: multiply, clip, rint in place, then an unsafe cast straight into an int16 array that already
  holds the header, and one ``tobytes``. NaN reaches the cast; x86-64 (cvttps2dq gives INT_MIN, whose low 16
  bits are 0) and aarch64 (fcvtzs gives 0) both turn it into 0, but numpy documents the cast as undefined.
- ``numpy_strict``: the same plus an explicit ``isnan`` fix-up: correct everywhere, ~20% slower.

The gate compares against ``numpy_fast`` when it is byte-exact on the edge values on this machine (the harder
peer), else ``numpy_strict``.
"""

from __future__ import annotations

import io
import struct

import numpy as np
import soundfile as sf

from gatelib import GateCase
from ishowtts.audio import active_isa
from ishowtts.audio.wav import encode_wav

SECONDS = 10.0
RATE = 24000
_HEADER = struct.Struct("<4sI4s4sIHHIIHH4sI")


def pcm16_header(n_samples: int, rate: int, channels: int = 1) -> bytes:
    data = 2 * n_samples
    return _HEADER.pack(
        b"RIFF", 36 + data, b"WAVE", b"fmt ", 16, 1, channels, rate, 2 * channels * rate, 2 * channels, 16,
        b"data", data,
    )  # fmt: skip


def _numpy_body(x: np.ndarray, rate: int, strict: bool) -> bytes:
    n = x.size
    out = np.empty(n + 22, np.int16)  # 22 int16 = the 44-byte header, so tobytes() is the only copy
    out[:22].view(np.uint8)[:] = np.frombuffer(
        pcm16_header(n, rate, 1 if x.ndim == 1 else x.shape[1]), np.uint8
    )
    y = np.multiply(x.reshape(-1), np.float32(32768.0))
    np.clip(y, -32768.0, 32767.0, out=y)
    np.rint(y, out=y)
    with np.errstate(invalid="ignore"):
        np.copyto(out[22:], y, casting="unsafe")
    if strict:
        nan = np.isnan(y)
        if nan.any():
            out[22:][nan] = 0
    return out.tobytes()


def numpy_fast(x: np.ndarray, rate: int) -> bytes:
    return _numpy_body(x, rate, strict=False)


def numpy_strict(x: np.ndarray, rate: int) -> bytes:
    return _numpy_body(x, rate, strict=True)


def soundfile_wav(x: np.ndarray, rate: int) -> bytes:
    """soundfile (libsndfile) PCM16 WAV into memory. Floors instead of rounding: not byte-exact with ours."""
    buf = io.BytesIO()
    sf.write(buf, x, rate, subtype="PCM_16", format="WAV")
    return buf.getvalue()


def edge_signal() -> np.ndarray:
    lsb = 1.0 / 32768.0
    vals = [0.0, 1.0, -1.0, np.nan, np.inf, -np.inf, 1e30, -1e30, 0.5 * lsb, 1.5 * lsb, -2.5 * lsb]
    vals += [32766.5 * lsb, 32767.5 * lsb, -32768.5 * lsb, 1e-42]
    return np.array(vals * 3, dtype=np.float32)


def bench_signal(seconds: float = SECONDS, rate: int = RATE, channels: int = 0) -> np.ndarray:
    """Speech-like level (about -10 dBFS RMS) with occasional clipping; deterministic."""
    n = int(seconds * rate)
    shape = (n,) if channels == 0 else (n, channels)
    return (np.random.default_rng(0).standard_normal(shape) * 0.3).astype(np.float32)


def best_numpy_idiom() -> tuple[str, object]:
    e = edge_signal()
    if numpy_fast(e, RATE) == encode_wav(e, RATE):
        return "numpy_fast", numpy_fast
    return "numpy_strict", numpy_strict


def _cases() -> list[GateCase]:
    x = bench_signal()
    ours_bytes = encode_wav(x, RATE)
    name, idiom = best_numpy_idiom()
    assert idiom(x, RATE) == ours_bytes, "numpy peer must produce our exact bytes"
    note = f"10 s mono float32 at 24 kHz -> PCM16 WAV bytes, kernels {active_isa()}"
    return [
        GateCase(
            name="wav_pcm16_10s_24k_vs_numpy",
            ours=lambda: encode_wav(x, RATE),
            peer=lambda: idiom(x, RATE),
            peer_name=f"numpy idiom ({name})",
            inner=20,
            rounds=31,
            notes=note,
        ),
        GateCase(
            name="wav_pcm16_10s_24k_vs_soundfile",
            ours=lambda: encode_wav(x, RATE),
            peer=lambda: soundfile_wav(x, RATE),
            peer_name="soundfile",
            inner=3,
            rounds=21,
            notes=note,
        ),
    ]


CASES = _cases()
