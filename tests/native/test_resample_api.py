"""Resampler API contract: lengths, copies, pooled outputs, and clean exceptions for bad input (never a crash)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ishowtts import _native
from ishowtts.audio import Resampler, resample

pytestmark = pytest.mark.native

RATES = [8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000]
FIX = "np.ascontiguousarray(x, dtype=np.float32)"


@pytest.mark.parametrize("n", [0, 1, 2, 3, 999])
def test_output_length_is_ceil_for_every_pair(n: int) -> None:
    x = np.ones(n, np.float32)
    for src in RATES:
        for dst in RATES:
            y = resample(x, src, dst)
            assert y.dtype == np.float32 and y.ndim == 1
            assert len(y) == math.ceil(n * dst / src), (src, dst, n)


def test_empty_input_gives_empty_output_with_shape() -> None:
    assert resample(np.zeros(0, np.float32), 24000, 48000).shape == (0,)
    assert resample(np.zeros((0, 2), np.float32), 24000, 48000).shape == (0, 2)
    r = Resampler(24000, 48000, channels=2)
    assert r.process(np.zeros((0, 2), np.float32)).shape == (0, 2)
    assert r.flush().shape == (0, 2)


def test_same_rate_is_a_copy() -> None:
    x = np.random.default_rng(0).standard_normal((100, 2)).astype(np.float32)
    y = resample(x, 24000, 24000)
    np.testing.assert_array_equal(y, x)
    assert not np.shares_memory(x, y)
    r = Resampler(16000, 16000)
    np.testing.assert_array_equal(r.process(x[:, 0].copy()), x[:, 0])
    assert len(r.flush()) == 0


def test_outputs_live_in_pool_buffers() -> None:
    y = resample(np.ones(1000, np.float32), 24000, 48000)
    assert type(y.base).__name__ == "PyCapsule"  # owned by the native pool, handed over without a copy


def test_dc_passes_with_unit_gain() -> None:
    y = resample(np.full(4000, 0.25, np.float32), 24000, 16000)
    np.testing.assert_allclose(y[100:-100], 0.25, rtol=2e-4)


@pytest.mark.parametrize(
    ("x", "what"),
    [
        (np.zeros(10, np.float64), "dtype float64"),
        (np.zeros(10, np.int16), "dtype int16"),
        (np.zeros(20, np.float32)[::2], "not C-contiguous"),
        (np.zeros((10, 2), np.float32).T, "not C-contiguous"),
        (np.zeros(10, ">f4"), "dtype >f4"),
        ([0.0, 1.0], "numpy.ndarray"),
    ],
)
def test_wrong_arrays_raise_type_error_naming_the_fix(x, what: str) -> None:
    with pytest.raises(TypeError, match="ascontiguousarray") as err:
        resample(x, 24000, 48000)
    assert what in str(err.value)
    assert FIX.split("(")[0] in str(err.value)
    with pytest.raises(TypeError, match="ascontiguousarray"):
        Resampler(24000, 48000).process(x)


@pytest.mark.parametrize("rate", [0, -1, -48000, 1_000_001, 10**12])
def test_bad_rates_raise_value_error(rate: int) -> None:
    x = np.zeros(10, np.float32)
    with pytest.raises(ValueError, match="sample rates"):
        resample(x, rate, 48000)
    with pytest.raises(ValueError, match="sample rates"):
        resample(x, 48000, rate)
    with pytest.raises(ValueError, match="sample rates"):
        Resampler(rate, 48000)


@pytest.mark.parametrize("rate", [24000.5, float("nan"), float("inf")])
def test_non_integer_rates_raise_value_error(rate: float) -> None:
    with pytest.raises(ValueError, match="whole number"):
        resample(np.zeros(10, np.float32), rate, 48000)


@pytest.mark.parametrize("rate", ["24000", None, True])
def test_non_numeric_rates_raise_type_error(rate) -> None:
    with pytest.raises(TypeError):
        resample(np.zeros(10, np.float32), rate, 48000)


def test_integral_float_rates_are_accepted() -> None:
    np.testing.assert_array_equal(
        resample(np.ones(50, np.float32), 22050.0, 24000), resample(np.ones(50, np.float32), 22050, 24000)
    )


def test_ratio_with_oversized_tables_is_refused() -> None:
    with pytest.raises(ValueError, match="MiB"):
        resample(np.zeros(10, np.float32), 1_000_000, 1)
    with pytest.raises(ValueError, match="MiB"):
        Resampler(999_983, 1_000_000)  # coprime: ~10^6 phases


@pytest.mark.parametrize("shape", [(), (4, 2, 1), (2, 2, 2, 2)])
def test_wrong_ndim_raises_value_error(shape) -> None:
    with pytest.raises(ValueError, match="ndim"):
        resample(np.zeros(shape, np.float32), 24000, 48000)


def test_zero_channels_raise_value_error() -> None:
    with pytest.raises(ValueError, match="channels"):
        resample(np.zeros((10, 0), np.float32), 24000, 48000)
    with pytest.raises(ValueError, match="channels"):
        Resampler(24000, 48000, channels=0)


def test_channel_mismatch_in_streaming_raises_value_error() -> None:
    r = Resampler(24000, 48000, channels=2)
    with pytest.raises(ValueError, match="2 channel"):
        r.process(np.zeros((10, 3), np.float32))
    with pytest.raises(ValueError, match="1-D input is mono"):
        r.process(np.zeros(10, np.float32))
    # The failed calls changed nothing.
    x = np.random.default_rng(1).standard_normal((300, 2)).astype(np.float32)
    out = np.concatenate([r.process(x), r.flush()])
    np.testing.assert_array_equal(out, resample(x, 24000, 48000))


def test_more_than_2_31_samples_is_refused_before_reading() -> None:
    huge = np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), shape=(2**31,), strides=(4,))
    assert huge.flags.c_contiguous  # a view over 4 bytes; reading it would crash, checking it must not
    with pytest.raises(ValueError, match="2\\*\\*31"):
        resample(huge, 24000, 48000)
    with pytest.raises(ValueError, match="2\\*\\*31"):
        Resampler(24000, 48000).process(huge)


def test_unknown_isa_raises_value_error() -> None:
    with pytest.raises(ValueError, match="unknown isa"):
        resample(np.zeros(10, np.float32), 24000, 48000, isa="sse9")
    with pytest.raises(ValueError, match="isa"):
        Resampler(24000, 48000, isa="avx512")


def test_misaligned_input_gives_the_aligned_result() -> None:
    x = np.random.default_rng(2).standard_normal(1001).astype(np.float32)
    raw = np.zeros(x.nbytes + 1, np.uint8)
    mis = raw[1:].view(np.float32)
    mis[:] = x
    assert not mis.flags.aligned and mis.flags.c_contiguous
    np.testing.assert_array_equal(resample(mis, 44100, 24000), resample(x, 44100, 24000))
    stereo = raw[1:].view(np.float32)[:1000].reshape(500, 2)
    np.testing.assert_array_equal(resample(stereo, 24000, 16000), resample(stereo.copy(), 24000, 16000))


def test_readonly_input_is_fine() -> None:
    x = np.ones(100, np.float32)
    x.setflags(write=False)
    assert len(resample(x, 24000, 48000)) == 200


def test_nan_stays_local() -> None:
    """NaN/Inf propagate to the outputs whose filter window (plus its group of 8) covers them, no further."""
    x = np.zeros(4000, np.float32)
    x[2000] = np.nan
    x[3000] = np.inf
    for src, dst in [(24000, 48000), (44100, 24000)]:
        y = resample(x, src, dst)
        reach = (_native.resample_info(src, dst)["taps_per_group"] + 16) * dst / src
        bad = np.flatnonzero(~np.isfinite(y))
        assert len(bad) > 0
        centres = np.array([2000, 3000]) * dst / src
        assert np.all(np.min(np.abs(bad[:, None] - centres[None, :]), axis=1) <= reach)


special_floats = st.one_of(
    st.floats(width=32, allow_nan=True, allow_infinity=True, allow_subnormal=True),
    st.sampled_from([0.0, -0.0, 1e-45, -1e-45, 1e-38, 3.4e38, -3.4e38, np.nan, np.inf, -np.inf]),
)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([(s, d) for s in RATES for d in RATES]),
    hnp.arrays(np.float32, st.integers(0, 300), elements=special_floats),
    st.integers(0, 3),
)
def test_any_float32_values_and_layouts(pair, x: np.ndarray, layout: int) -> None:
    """NaN/Inf/denormal/huge values, misaligned and non-contiguous arrays: correct output or a clean error."""
    src, dst = pair
    if layout == 0:
        y = resample(x, src, dst)
        assert y.shape == (math.ceil(len(x) * dst / src),)
        if np.all(np.isfinite(x)) and np.abs(x).max(initial=0) < 1e30:
            assert np.all(np.isfinite(y))
        r = Resampler(src, dst)
        np.testing.assert_array_equal(
            np.concatenate([r.process(x[: len(x) // 2]), r.process(x[len(x) // 2 :]), r.flush()]), y
        )
    elif layout == 1:  # misaligned view of the same values
        raw = np.zeros(x.nbytes + 2, np.uint8)
        mis = raw[2:].view(np.float32)
        mis[:] = x
        np.testing.assert_array_equal(resample(mis, src, dst), resample(x, src, dst))
    elif layout == 2:  # strided: refused, never copied silently
        if len(x) >= 4:  # x[::2] has >= 2 elements, so it is really strided
            with pytest.raises(TypeError, match="ascontiguousarray"):
                resample(x[::2], src, dst)
    else:  # float64: refused
        with pytest.raises(TypeError, match="float64"):
            resample(x.astype(np.float64), src, dst)


def test_concurrent_one_shots_from_threads_match_serial() -> None:
    """Kernels run without the GIL: threads resampling at once (plans built concurrently too) get the serial
    results."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(9)
    jobs = [
        (rng.standard_normal(5000).astype(np.float32), src, dst)
        for src, dst in [(11025, 32000), (32000, 11025), (22050, 44100), (16000, 44100)] * 3
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda job: resample(*job), jobs))
    for (x, src, dst), y in zip(jobs, results, strict=True):
        np.testing.assert_array_equal(y, resample(x, src, dst))
