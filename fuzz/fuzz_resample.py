"""Fuzz target: the resampler bindings (``_native.resample``, ``_native.Resampler``, ``resample_info``).

Contract checked for every input: a clean ``TypeError``/``ValueError`` or a correct result — float32,
``ceil(n * dst / src)`` frames, the same channel layout, bit-identical to the result for a C-contiguous
copy of the input, finite for finite moderate input, and (streamed in random chunks) bit-identical to the
one-shot call. A valid request (C-contiguous float32, rates in range, a supported ratio) must never be
refused. Anything else — a different exception, a crash, a sanitizer report — is a finding.

Run: ``python fuzz/fuzz_resample.py -max_total_time=30`` (atheris), or see ``fuzz/run.sh``.
"""

from __future__ import annotations

import inspect
import itertools
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bytes import ByteReader, canonical, cuts, layouts

from ishowtts import _native

RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000)
ISAS = (None, None, None, "scalar", _native.active_isa() if hasattr(_native, "active_isa") else None, "bogus")
CLEAN = (TypeError, ValueError)
MAX_OUT_FRAMES = 4_000_000


def _rate(r: ByteReader) -> int:
    if r.int_in(0, 7):
        return int(r.pick(RATES))
    return r.pick([0, -1, 1, 2, 7, 999_983, 1_000_000, 1_000_001, r.int_in(1, 200_000)])


def _info_ok(src: int, dst: int) -> bool:
    try:
        _native.resample_info(src, dst)
    except CLEAN:
        return False
    return True


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


def check(data: bytes) -> None:
    r = ByteReader(data)
    src, dst = _rate(r), _rate(r)
    channels = r.pick([0, 0, 1, 2, 3])  # 0: 1-D mono
    n = r.pick([0, 1, 2, 3, r.int_in(0, 64), r.int_in(0, 3000)])
    if src > 0 and dst > 0:  # keep outputs under ~4 M frames: huge upsampling ratios are valid but slow
        n = min(n, max(1, MAX_OUT_FRAMES * src // dst))
    x = r.float32s(n * max(channels, 1))
    x = x.reshape(n) if channels == 0 else x.reshape(n, channels)
    isa = r.pick(ISAS)
    arg, kind = layouts(r, x)
    kind = "ok" if canonical(arg, x) else kind
    try:
        y = _native.resample(arg, src, dst, isa)
    except CLEAN as exc:
        if kind == "ok" and isa != "bogus" and _info_ok(src, dst) and channels in (0, 1, 2):
            raise AssertionError(f"valid request refused: {src}->{dst} ch={channels} n={n}: {exc}") from exc
        return
    assert isinstance(y, np.ndarray) and y.dtype == np.float32, type(y)
    want_frames = math.ceil(n * dst / src)
    assert y.shape[0] == want_frames, (y.shape, want_frames, src, dst, n)
    assert y.ndim == x.ndim and (x.ndim == 1 or y.shape[1] == x.shape[1]), (x.shape, y.shape)
    if kind != "ok":  # accepted a non-canonical layout: it must mean the same samples
        ref = _native.resample(np.ascontiguousarray(x), src, dst, isa)
        assert _same(y, ref), f"layout {kind} changed the result"
    finite = np.isfinite(x).all() and (x.size == 0 or float(np.abs(x).max()) <= 1e6)
    if finite:
        assert np.isfinite(y).all(), "finite input gave non-finite output"
    if kind != "ok" or channels == 3:
        return
    # streaming in random chunks equals the one-shot call, bit for bit
    ch = max(channels, 1)
    rs = _native.Resampler(src, dst, ch, isa)
    bounds = cuts(r, n)  # starts with an empty chunk when n == 0: a stream's shape comes from its chunks
    pieces = [rs.process(x[a:b]) for a, b in itertools.pairwise(bounds)]
    pieces.append(rs.flush())
    got = np.concatenate(pieces, axis=0) if pieces else np.zeros_like(y)
    assert _same(got, y), f"stream != one-shot for {src}->{dst} ch={channels} n={n}"


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
