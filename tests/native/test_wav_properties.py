"""Property tests for the WAV encoder: any float32 input -> the reference bytes, any other array -> a
clean exception; streaming in random chunkings equals one-shot encoding."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ishowtts import _native
from ishowtts.audio.wav import WAV_HEADER_BYTES, WavStreamEncoder, encode_pcm16, encode_wav

pytestmark = pytest.mark.native

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def ref_pcm16(x: np.ndarray) -> bytes:
    with np.errstate(invalid="ignore"):
        y = x.astype(np.float64).reshape(-1) * 32768.0
    y = np.clip(np.where(np.isnan(y), 0.0, y), -32768.0, 32767.0)
    return np.rint(y).astype("<i2").tobytes()


# Any float32 bit pattern: NaNs (all payloads), infinities, denormals, huge values, and ordinary audio.
any_f32 = st.floats(width=32, allow_nan=True, allow_infinity=True, allow_subnormal=True)
audio_f32 = st.one_of(
    st.floats(min_value=-1.25, max_value=1.25, width=32),
    any_f32,
    st.integers(-40000, 40000).map(lambda k: np.float32((k + 0.5) / 32768.0)),  # rounding ties
)


def audio_arrays(channels: int = 0) -> st.SearchStrategy[np.ndarray]:
    frames = st.one_of(st.integers(0, 3), st.integers(0, 100), st.integers(0, 3000))
    shape = frames.map(lambda n: (n,) if channels == 0 else (n, channels))
    # Large arrays: a random float32 signal with hypothesis-drawn values scattered in (fast to generate).
    return st.builds(
        _scatter,
        hnp.arrays(np.float32, shape, elements=audio_f32, fill=st.just(0.0)),
        st.integers(0, 2**32 - 1),
    )


def _scatter(x: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = (rng.standard_normal(x.shape) * 0.7).astype(np.float32)
    return np.where(x != 0, x, noise).astype(np.float32) if seed % 4 else x


@FAST
@given(x=audio_arrays())
def test_pcm16_matches_reference_for_any_floats(x: np.ndarray) -> None:
    want = ref_pcm16(x)
    assert encode_pcm16(x) == want
    for isa in _native._pcm16_isas():
        assert _native._encode_pcm16_with_isa(x, isa) == want, isa
    wav = encode_wav(x, 24000)
    assert wav[WAV_HEADER_BYTES:] == want and len(wav) == WAV_HEADER_BYTES + 2 * x.size


@FAST
@given(x=st.one_of(audio_arrays(1), audio_arrays(2)), fmt=st.sampled_from(["pcm16", "float32"]))
def test_multichannel_wav_body(x: np.ndarray, fmt: str) -> None:
    body = encode_wav(x, 48000, fmt)[WAV_HEADER_BYTES:]  # type: ignore[arg-type]
    assert body == (ref_pcm16(x) if fmt == "pcm16" else x.astype("<f4").tobytes())


@FAST
@given(
    x=audio_arrays(),
    cuts=st.lists(st.integers(0, 3000), max_size=8),
    fmt=st.sampled_from(["pcm16", "float32"]),
)
def test_streaming_equals_one_shot(x: np.ndarray, cuts: list[int], fmt: str) -> None:
    enc = WavStreamEncoder(24000, sample_format=fmt)  # type: ignore[arg-type]
    bounds = sorted({0, x.shape[0], *(c for c in cuts if c <= x.shape[0])})
    body = b"".join(enc.encode(x[a:b]) for a, b in itertools.pairwise(bounds))
    assert body == encode_wav(x, 24000, fmt)[WAV_HEADER_BYTES:]  # type: ignore[arg-type]


@FAST
@given(
    base=hnp.arrays(np.float32, st.integers(2, 400), elements=audio_f32, fill=st.just(0.25)),
    step=st.integers(2, 5),
    start=st.integers(0, 1),
)
def test_strided_views_are_refused_never_misread(base: np.ndarray, step: int, start: int) -> None:
    view = base[start::step]
    if view.flags.c_contiguous:  # length-0/1 views are contiguous: then they must encode correctly
        assert encode_pcm16(view) == ref_pcm16(view)
        return
    with pytest.raises(TypeError, match="not C-contiguous"):
        encode_pcm16(view)
    assert encode_pcm16(np.ascontiguousarray(view)) == ref_pcm16(view)


@FAST
@given(n=st.integers(1, 300), offset=st.integers(1, 3), data=st.data())
def test_misaligned_buffers_are_refused(n: int, offset: int, data: st.DataObject) -> None:
    raw = bytearray(4 * n + offset)
    x = np.frombuffer(raw, np.float32, count=n, offset=offset)
    assert not x.flags.aligned
    with pytest.raises(TypeError, match="aligned"):
        encode_pcm16(x)
    values = data.draw(hnp.arrays(np.float32, n, elements=audio_f32, fill=st.just(-0.5)))
    assert encode_pcm16(values.copy()) == ref_pcm16(values)


@FAST
@given(
    dtype=st.sampled_from([np.float64, np.float16, np.int16, np.int32, np.complex64, ">f4"]),
    n=st.integers(0, 50),
)
def test_other_dtypes_raise_type_error(dtype: object, n: int) -> None:
    x = np.zeros(n, dtype=dtype)
    with pytest.raises(TypeError, match=r"float32.*np\.ascontiguousarray"):
        encode_wav(x, 24000)
