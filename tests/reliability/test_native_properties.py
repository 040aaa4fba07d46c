"""Native-core properties not already in tests/native: the *streaming* resampler fed special values
(NaN, Inf, denormals, float32 extremes) still equals the one-shot call bit for bit, and streaming chunks
in layouts the binding must refuse or handle (strided, misaligned, float64, Fortran, read-only) give a
clean TypeError or exactly the contiguous result — never a crash or a silently different output. Also
the fuzz targets' own checks run on hypothesis-drawn bytes (a regression run of fuzz/*.py)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ishowtts.audio import Resampler, resample

pytestmark = pytest.mark.native

RATES = (8000, 16000, 22050, 24000, 44100, 48000)
PAIRS = [(s, d) for s in RATES for d in RATES]
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
special = st.one_of(
    st.floats(width=32, allow_nan=True, allow_infinity=True, allow_subnormal=True),
    st.sampled_from(
        [0.0, -0.0, 1e-45, -1e-45, 1.1754942e-38, 3.4028235e38, -3.4028235e38, np.nan, np.inf, -np.inf]
    ),
)


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


def cut(n: int, sizes: list[int]) -> list[tuple[int, int]]:
    bounds = [0]
    for s in sizes:
        bounds.append(min(n, bounds[-1] + s))
    bounds.append(n)
    return list(itertools.pairwise(bounds))


@FAST
@given(
    st.sampled_from(PAIRS),
    hnp.arrays(np.float32, st.integers(0, 600), elements=special),
    st.lists(st.integers(0, 64), max_size=20),
)
def test_stream_of_special_values_equals_one_shot(pair, x, sizes) -> None:
    src, dst = pair
    want = resample(x, src, dst)
    r = Resampler(src, dst)
    got = np.concatenate([r.process(x[a:b]) for a, b in cut(len(x), sizes)] + [r.flush()])
    assert same(got, want)
    # finite samples far from any non-finite input stay finite (a NaN/Inf spreads only over the filter)
    if np.isfinite(x).all() and (x.size == 0 or np.abs(x).max() < 1e30):
        assert np.isfinite(got).all()


def _layout(x: np.ndarray, kind: int) -> np.ndarray:
    if kind == 0:
        return np.repeat(x, 2, axis=0)[::2]  # strided
    if kind == 1:  # misaligned by one byte
        buf = np.zeros(x.nbytes + 1, np.uint8)
        v = buf[1:].view(np.float32).reshape(x.shape)
        v[...] = x
        return v
    if kind == 2:
        return x.astype(np.float64)
    if kind == 3:
        return np.asfortranarray(x)
    ro = x.copy()
    ro.setflags(write=False)
    return ro


@FAST
@given(
    st.sampled_from(PAIRS),
    st.sampled_from([1, 2]),
    st.integers(0, 300),
    st.integers(0, 4),
    st.lists(st.integers(0, 40), max_size=10),
    st.integers(0, 2**32 - 1),
)
def test_stream_chunks_in_odd_layouts_are_exact_or_refused(pair, channels, n, kind, sizes, seed) -> None:
    src, dst = pair
    x = (np.random.default_rng(seed).standard_normal((n, channels)) * 0.3).astype(np.float32)
    if channels == 1:
        x = x[:, 0].copy()
    ref = Resampler(src, dst, channels)
    r = Resampler(src, dst, channels)
    outs, refs = [], []
    for a, b in cut(n, sizes):
        chunk = _layout(x[a:b].copy(), kind)
        refs.append(ref.process(x[a:b]))
        try:
            outs.append(r.process(chunk))
        except TypeError as exc:
            assert "ascontiguousarray" in str(exc) or "float32" in str(exc), exc
            if kind == 4 or (chunk.flags.c_contiguous and chunk.dtype == np.float32 and chunk.flags.aligned):
                raise AssertionError(f"a valid chunk was refused: {exc}") from exc
            outs.append(r.process(np.ascontiguousarray(chunk, dtype=np.float32)))  # the documented fix
    outs.append(r.flush())
    refs.append(ref.flush())
    assert same(np.concatenate(outs, axis=0), np.concatenate(refs, axis=0))


# ---------------------------------------------------------------------------------------------- fuzz targets
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=2048))
def test_fuzz_resample_target_on_hypothesis_bytes(fuzz_targets, data: bytes) -> None:
    fuzz_targets["fuzz_resample"].check(data)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=4096))
def test_fuzz_wav_target_on_hypothesis_bytes(fuzz_targets, data: bytes) -> None:
    fuzz_targets["fuzz_wav"].check(data)
