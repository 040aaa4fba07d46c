"""Resampler throughput: 10 s of mono float32 per ratio, ours (auto dispatch and scalar) against soxr HQ and
scipy.signal.resample_poly. Run: ``pytest benchmarks/test_resample.py`` (pytest-benchmark; information only,
the CI gate is ``benchmarks/gates/resample.py``). ``extra_info["x_realtime"]`` is seconds of audio per second.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ishowtts.audio import Resampler, active_isa, resample

soxr = pytest.importorskip("soxr")
signal = pytest.importorskip("scipy.signal")

RATIOS = [(24000, 48000), (24000, 16000), (48000, 24000), (44100, 24000), (22050, 24000)]
SECONDS = 10.0


def _ours(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    return resample(x, src, dst)


def _ours_scalar(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    return resample(x, src, dst, isa="scalar")


def _soxr_hq(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    return soxr.resample(x, src, dst, quality="HQ")


def _scipy_poly(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    g = math.gcd(src, dst)
    return signal.resample_poly(x, dst // g, src // g)


METHODS = {
    "ours": _ours,
    "ours_scalar": _ours_scalar,
    "soxr_hq": _soxr_hq,
    "scipy_resample_poly": _scipy_poly,
}


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize(("src", "dst"), RATIOS, ids=[f"{s}-{d}" for s, d in RATIOS])
def test_resample_10s_mono(benchmark, src: int, dst: int, method: str) -> None:
    x = (np.random.default_rng(0).standard_normal(int(SECONDS * src)) * 0.3).astype(np.float32)
    fn = METHODS[method]
    benchmark.group = f"resample {src}->{dst} 10 s mono"
    benchmark.extra_info["isa"] = (
        active_isa() if method == "ours" else ("scalar" if method == "ours_scalar" else "")
    )
    y = benchmark(fn, x, src, dst)
    assert abs(len(y) - SECONDS * dst) <= 1
    if benchmark.stats is not None:
        benchmark.extra_info["x_realtime"] = round(SECONDS / benchmark.stats.stats.min, 1)


@pytest.mark.parametrize(("src", "dst"), RATIOS, ids=[f"{s}-{d}" for s, d in RATIOS])
def test_resample_10s_mono_streamed_20ms_chunks(benchmark, src: int, dst: int) -> None:
    """Same signal fed to Resampler.process in 20 ms chunks, then flush (per-call overhead included)."""
    x = (np.random.default_rng(0).standard_normal(int(SECONDS * src)) * 0.3).astype(np.float32)
    chunk = src // 50
    benchmark.group = f"resample {src}->{dst} 10 s mono"

    def streamed() -> int:
        r = Resampler(src, dst)
        n = sum(len(r.process(x[i : i + chunk])) for i in range(0, len(x), chunk))
        return n + len(r.flush())

    n = benchmark(streamed)
    assert n == math.ceil(len(x) * dst / src)
