"""Kernel dispatch: the SIMD kernels are active where the CPU has them, and SIMD agrees with scalar.

Stated tolerance: |simd - scalar| <= 1e-6 * max|x| per sample (measured worst: 1.3e-7). Both sum the same
float32 products in the same order; the only difference is FMA (one rounding) against multiply-then-add (two),
over <= ~450 taps whose absolute sum is about 1.2.
"""

from __future__ import annotations

import os
import platform

import numpy as np
import pytest

from ishowtts import _native
from ishowtts.audio import Resampler, active_isa, resample

pytestmark = pytest.mark.native

SIMD_TOLERANCE = 1e-6  # measured worst over all 64 pairs: 1.3e-7
FORCED_SCALAR = os.environ.get("ISHOWTTS_FORCE_SCALAR", "") not in ("", "0")
X86 = platform.machine().lower() in ("x86_64", "amd64")
RATES = [8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000]


def simd_isa() -> str | None:
    detected = _native.detected_isa()
    return None if detected == "scalar" else detected


def test_active_isa_matches_environment() -> None:
    if FORCED_SCALAR:
        assert active_isa() == "scalar"
    elif X86:
        assert active_isa() == "avx2+fma", "x86-64 CI machines have AVX2+FMA; the SIMD kernels must be in use"
    assert Resampler(24000, 48000).isa == active_isa()


def test_per_object_isa_choice() -> None:
    assert Resampler(24000, 48000, isa="scalar").isa == "scalar"
    if simd_isa():
        assert Resampler(24000, 48000, isa=simd_isa()).isa == simd_isa()
    if X86:
        with pytest.raises(ValueError, match="neon"):
            Resampler(24000, 48000, isa="neon")


@pytest.mark.skipif(_native.detected_isa() == "scalar", reason="this CPU has no SIMD kernels to compare")
@pytest.mark.parametrize("dst", RATES)
def test_simd_agrees_with_scalar(dst: int) -> None:
    rng = np.random.default_rng(dst)
    for src in RATES:
        x = (rng.standard_normal(3001) * 0.5).astype(np.float32)
        x[1500] = 1.0  # full-scale sample
        a = resample(x, src, dst, isa=simd_isa())
        b = resample(x, src, dst, isa="scalar")
        assert a.shape == b.shape
        err = float(np.max(np.abs(a - b), initial=0.0))
        assert err <= SIMD_TOLERANCE * float(np.abs(x).max()), (src, dst, err)


@pytest.mark.skipif(_native.detected_isa() == "scalar", reason="this CPU has no SIMD kernels to compare")
def test_simd_and_scalar_streams_agree_with_their_one_shots() -> None:
    x = np.random.default_rng(5).standard_normal((5000, 2)).astype(np.float32)
    for isa in ("scalar", simd_isa()):
        r = Resampler(44100, 24000, channels=2, isa=isa)
        out = np.concatenate([r.process(x[:1]), r.process(x[1:777]), r.process(x[777:]), r.flush()])
        np.testing.assert_array_equal(out, resample(x, 44100, 24000, isa=isa))
