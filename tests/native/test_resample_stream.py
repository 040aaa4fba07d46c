"""Streaming == one-shot (bit for bit) for random chunkings, and one-shot == an independent float64 reference
of the documented formula y[n] = sum_i x[i] * w(i - n * src / dst), for every supported rate pair."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ishowtts.audio import Resampler, resample
from ishowtts.audio.resample import resample_info

pytestmark = pytest.mark.native

RATES = [8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000]
PAIRS = [(s, d) for s in RATES for d in RATES]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def chunk_sizes(draw, total: int) -> list[int]:
    sizes = []
    left = total
    while left > 0:
        size = draw(st.one_of(st.sampled_from([0, 1, 2, 7, 8, 9]), st.integers(0, max(1, left))))
        sizes.append(min(size, left))
        left -= sizes[-1]
        if len(sizes) > 60:  # keep examples small: finish with one chunk
            sizes.append(left)
            left = 0
    return sizes


@st.composite
def stream_case(draw):
    src, dst = draw(st.sampled_from(PAIRS))
    channels = draw(st.sampled_from([1, 1, 2, 3]))
    n = draw(st.one_of(st.sampled_from([0, 1, 2, 7]), st.integers(0, 2500)))
    seed = draw(st.integers(0, 2**32 - 1))
    return src, dst, channels, n, seed, chunk_sizes(draw, n)


def signal(n: int, channels: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, channels)).astype(np.float32) * 0.3
    return x[:, 0].copy() if channels == 1 else x


def stream(r: Resampler, x: np.ndarray, sizes: list[int]) -> np.ndarray:
    outs, pos = [], 0
    for size in sizes:
        outs.append(r.process(x[pos : pos + size]))
        pos += size
    outs.append(r.flush())
    return np.concatenate(outs, axis=0)


@SETTINGS
@given(stream_case())
def test_streaming_equals_one_shot_bitwise(case) -> None:
    src, dst, channels, n, seed, sizes = case
    x = signal(n, channels, seed)
    expected = resample(x, src, dst)
    assert expected.shape == (
        (math.ceil(n * dst / src),) if channels == 1 else (math.ceil(n * dst / src), channels)
    )
    r = Resampler(src, dst, channels=channels)
    got = stream(r, x, sizes)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got.reshape(expected.shape), expected)
    # flush() reset the stream: a second pass over the same input gives the same samples again.
    np.testing.assert_array_equal(stream(r, x, [n]).reshape(expected.shape), expected)


@pytest.mark.parametrize(("src", "dst"), [(24000, 48000), (44100, 24000), (8000, 11025)])
def test_reset_mid_stream_starts_over(src: int, dst: int) -> None:
    x = signal(3000, 1, 7)
    r = Resampler(src, dst)
    r.process(signal(1234, 1, 8))
    r.reset()
    np.testing.assert_array_equal(stream(r, x, [1000, 2000]), resample(x, src, dst))


@pytest.mark.parametrize(("src", "dst"), [(24000, 48000), (48000, 24000), (44100, 24000), (22050, 24000)])
def test_streaming_latency_bound(src: int, dst: int) -> None:
    """After E input samples, every output whose time is <= E - latency has been returned."""
    r = Resampler(src, dst)
    lat = r.latency_input_samples
    assert lat == pytest.approx(resample_info(src, dst)["latency_input_samples"])
    assert r.latency == pytest.approx(lat / src)
    x = signal(5000, 1, 3)
    produced = 0
    for end in range(0, 5000, 97):
        produced += len(r.process(x[end : end + 97]))
        fed = min(end + 97, 5000)
        expected_min = min(math.floor((fed - lat) * dst / src) + 1, math.ceil(fed * dst / src))
        assert produced >= max(expected_min, 0), (fed, produced, expected_min)
        assert produced <= math.ceil(fed * dst / src)


def reference(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    """float64 evaluation of the documented resampling formula (independent of the native table layout)."""
    info = resample_info(src, dst)
    up, down = info["up"], info["down"]
    fc = info["cutoff"] * min(1.0, up / down)
    half = info["half_width"] * max(1.0, down / up)
    beta = info["kaiser_beta"]
    n_out = math.ceil(len(x) * up / down)
    y = np.zeros(n_out)
    xi = x.astype(np.float64)
    for n in range(n_out):
        tau = n * down / up
        lo, hi = max(0, math.ceil(tau - half)), min(len(x) - 1, math.floor(tau + half))
        if lo > hi:
            continue
        t = np.arange(lo, hi + 1) - tau
        win = np.i0(beta * np.sqrt(np.clip(1 - (t / half) ** 2, 0, None))) / np.i0(beta)
        y[n] = np.dot(xi[lo : hi + 1], fc * np.sinc(fc * t) * win)
    return y


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([p for p in PAIRS if p[0] != p[1]]), st.integers(0, 400), st.integers(0, 2**32 - 1))
def test_one_shot_matches_float64_reference(pair, n: int, seed: int) -> None:
    src, dst = pair
    x = signal(n, 1, seed)
    got = resample(x, src, dst)
    want = reference(x, src, dst)
    assert got.shape == want.shape
    # float32 taps and float32 accumulation over <= ~450 taps: well under 1e-5 of full scale.
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * max(1.0, float(np.abs(x).max(initial=0))))


def test_stereo_channels_are_independent() -> None:
    x = signal(4000, 2, 11)
    y = resample(x, 44100, 24000)
    np.testing.assert_array_equal(y[:, 0], resample(np.ascontiguousarray(x[:, 0]), 44100, 24000))
    np.testing.assert_array_equal(y[:, 1], resample(np.ascontiguousarray(x[:, 1]), 44100, 24000))


def test_time_alignment_of_an_impulse() -> None:
    """The delay is compensated: an impulse at input sample 480 peaks at output sample 480 * dst / src."""
    for src, dst in [(24000, 48000), (48000, 24000), (24000, 16000)]:
        x = np.zeros(2000, np.float32)
        x[480] = 1.0
        y = resample(x, src, dst)
        assert int(np.argmax(y)) == 480 * dst // src
