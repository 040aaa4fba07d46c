"""Fuzz target: the WAV encoder bindings (``encode_wav``, ``encode_pcm16``, ``to_pcm16``,
``WavStreamEncoder``).

Contract checked for every input: a clean ``TypeError``/``ValueError`` or exactly the reference bytes —
a canonical 44-byte header whose fields match the request, then PCM16 = ``clip(rint(x * 32768))`` with
NaN -> 0 (or the float32 bits unchanged), and streamed chunks equal to the one-shot body. A valid request
(C-contiguous float32, 1 or 2 channels, rate in range) must never be refused.

Run: ``python fuzz/fuzz_wav.py -max_total_time=30`` (atheris), or see ``fuzz/run.sh``.
"""

from __future__ import annotations

import inspect
import itertools
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bytes import ByteReader, canonical, cuts, layouts

from ishowtts import _native

CLEAN = (TypeError, ValueError)
MIN_RATE, MAX_RATE = 1_000, 768_000
HEADER = int(_native.WAV_HEADER_BYTES)


def ref_pcm16(x: np.ndarray) -> bytes:
    with np.errstate(invalid="ignore", over="ignore"):
        y = x.astype(np.float64).reshape(-1) * 32768.0
    y = np.clip(np.where(np.isnan(y), 0.0, y), -32768.0, 32767.0)
    return np.rint(y).astype("<i2").tobytes()


def check_header(h: bytes, rate: int, channels: int, fmt: str, data_bytes: int | None) -> None:
    assert len(h) == HEADER == 44
    riff, riff_size, wave, fmt_id, fmt_len, tag, ch, sr, byte_rate, align, bits, data_id, size = (
        struct.unpack("<4sI4s4sIHHIIHH4sI", h)
    )
    width = 2 if fmt == "pcm16" else 4
    assert (riff, wave, fmt_id, data_id) == (b"RIFF", b"WAVE", b"fmt ", b"data")
    assert fmt_len == 16 and tag == (1 if fmt == "pcm16" else 3) and bits == 8 * width
    assert ch == channels and sr == rate and align == channels * width and byte_rate == rate * align
    if data_bytes is None:  # streaming header
        assert size == riff_size == 0xFFFFFFFF
    else:
        assert size == data_bytes and riff_size == 36 + data_bytes


def check(data: bytes) -> None:
    r = ByteReader(data)
    channels = r.pick([0, 0, 1, 2, 3])  # 0: 1-D mono
    n = r.pick([0, 1, 2, 3, 15, 16, 17, r.int_in(0, 64), r.int_in(0, 5000)])
    x = r.float32s(n * max(channels, 1))
    x = x.reshape(n) if channels == 0 else x.reshape(n, channels)
    rate = r.pick(
        [24000, 48000, 8000, MIN_RATE, MAX_RATE, 0, -1, MIN_RATE - 1, MAX_RATE + 1, r.int_in(1, 10**6)]
    )
    fmt = r.pick(["pcm16", "pcm16", "float32", "bogus", ""])
    arg, kind = layouts(r, x)
    kind = "ok" if canonical(arg, x) else kind
    valid = (
        kind == "ok"
        and channels in (0, 1, 2)
        and MIN_RATE <= rate <= MAX_RATE
        and fmt in ("pcm16", "float32")
    )
    ch = max(channels, 1)
    want_body = ref_pcm16(x) if fmt == "pcm16" else np.ascontiguousarray(x, dtype="<f4").tobytes()

    which = r.int_in(0, 3)
    chunks_ok = True
    try:
        if which == 0:
            out = _native.encode_wav(arg, rate, fmt)
        elif which == 1:
            out = _native.encode_pcm16(arg)
        elif which == 2:
            out = _native.to_pcm16(arg)
        else:
            enc = _native.WavStreamEncoder(rate, ch, fmt)
            out = enc.header()
            for a, b in itertools.pairwise(cuts(r, n)):
                chunk = arg[a:b] if isinstance(arg, np.ndarray) and arg.ndim else arg
                # a slice of 0 or 1 frames of a strided view is contiguous: validity is per chunk
                chunks_ok = chunks_ok and canonical(chunk, x[a:b])
                out += enc.encode(chunk)
    except CLEAN as exc:
        needs_rate = which in (0, 3)
        if (
            kind == "ok"
            and channels in (0, 1, 2)
            and (not needs_rate or (MIN_RATE <= rate <= MAX_RATE and fmt in ("pcm16", "float32")))
        ):
            raise AssertionError(f"valid request refused (api {which}, ch={channels}, n={n}): {exc}") from exc
        return
    if which == 0:
        assert valid, f"accepted {kind} ch={channels} rate={rate} fmt={fmt!r}"
        check_header(out[:HEADER], rate, ch, fmt, len(want_body))
        assert out[HEADER:] == want_body
    elif which == 1:
        assert kind == "ok" and channels in (0, 1, 2), f"accepted {kind} ch={channels}"
        assert out == ref_pcm16(x)
    elif which == 2:
        assert kind == "ok" and channels in (0, 1, 2), f"accepted {kind} ch={channels}"
        assert isinstance(out, np.ndarray) and out.dtype == np.int16 and out.shape == x.shape
        assert out.tobytes() == ref_pcm16(x)
    else:
        assert chunks_ok and channels in (0, 1, 2), f"accepted {kind} ch={channels}"
        check_header(out[:HEADER], rate, ch, fmt, None)
        assert out[HEADER:] == want_body


def main() -> None:
    import atheris

    # coverage of the checking code guides the fuzzer (the .so is not instrumented); only our functions:
    # instrument_all() would spend most of a short run instrumenting numpy
    g = globals()
    for name, fn in list(g.items()):
        if inspect.isfunction(fn) and fn.__module__ in (__name__, "_bytes") and name != "main":
            g[name] = atheris.instrument_func(fn)
    atheris.Setup(sys.argv, g["check"])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
