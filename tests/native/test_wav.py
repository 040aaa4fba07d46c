"""WAV encoder: byte-exact against a numpy reference, decodable by soundfile and ``wave``, bad input."""

from __future__ import annotations

import io
import itertools
import os
import platform
import struct
import threading
import wave

import numpy as np
import pytest
import soundfile as sf

from ishowtts import _native
from ishowtts.audio.isa import active_isa
from ishowtts.audio.pool import default_pool
from ishowtts.audio.wav import WAV_HEADER_BYTES, WavStreamEncoder, encode_pcm16, encode_wav, to_pcm16

pytestmark = pytest.mark.native

LSB = 1.0 / 32768.0


# ---------------------------------------------------------------------------------------- the reference
def ref_pcm16(x: np.ndarray) -> bytes:
    """clamp(x * 32768, -32768, 32767), round half to even, NaN -> 0; computed in float64."""
    with np.errstate(invalid="ignore"):  # signalling NaNs in the edge values
        y = np.asarray(x, dtype=np.float32).astype(np.float64).reshape(-1) * 32768.0
    y = np.where(np.isnan(y), 0.0, y)
    y = np.clip(y, -32768.0, 32767.0)
    return np.rint(y).astype("<i2").tobytes()


def ref_header(
    tag: int, channels: int, rate: int, bits: int, data_bytes: int, streaming: bool = False
) -> bytes:
    block = channels * bits // 8
    riff = 0xFFFFFFFF if streaming else 36 + data_bytes
    data = 0xFFFFFFFF if streaming else data_bytes
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        *(b"RIFF", riff, b"WAVE", b"fmt ", 16, tag, channels, rate, rate * block, block, bits, b"data", data),
    )


def ref_wav(x: np.ndarray, rate: int, fmt: str = "pcm16") -> bytes:
    channels = 1 if x.ndim == 1 else x.shape[1]
    if fmt == "pcm16":
        body = ref_pcm16(x)
        return ref_header(1, channels, rate, 16, len(body)) + body
    body = np.ascontiguousarray(x, dtype="<f4").tobytes()
    return ref_header(3, channels, rate, 32, len(body)) + body


def f32_from_bits(*bits: int) -> list[float]:
    return list(np.array(bits, dtype=np.uint32).view(np.float32))


def edge_values() -> np.ndarray:
    one = np.float32(1.0)
    vals: list[float] = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5]
    vals += [np.nextafter(one, np.float32(2)), np.nextafter(one, np.float32(0))]
    vals += [np.nextafter(-one, np.float32(-2)), np.nextafter(-one, np.float32(0))]
    # half-LSB ties: round half to even, at zero, mid-range and both rails
    for k in [0, 1, 2, 3, 100, 101, 16383, 32765, 32766, 32767, 32768]:
        vals += [(k + 0.5) * LSB, -(k + 0.5) * LSB]
    vals += [(k + d) * LSB for k in (7, -7, 32766, -32767) for d in (0.49, 0.51)]
    vals += [32767 * LSB, 32767.25 * LSB, 32767.75 * LSB, -32768.25 * LSB, -32769 * LSB]
    vals += [np.nan, -np.nan, np.inf, -np.inf]
    vals += f32_from_bits(0x7FA00000, 0xFFC00001, 0x7F800001)  # signalling / negative / payload NaNs
    vals += f32_from_bits(0x00000001, 0x807FFFFF, 0x00400000)  # denormals
    vals += [np.finfo(np.float32).tiny, 1e10, -1e10, 3.4028235e38, -3.4028235e38, 1e-30, 65536.0]
    return np.array(vals, dtype=np.float32)


def noise(n: int, channels: int = 0, seed: int = 0) -> np.ndarray:
    shape = (n,) if channels == 0 else (n, channels)
    return (np.random.default_rng(seed).standard_normal(shape) * 0.6).astype(np.float32)


# ---------------------------------------------------------------------------------------- exactness
def test_edge_values_byte_exact() -> None:
    x = edge_values()
    assert encode_pcm16(x) == ref_pcm16(x)
    assert encode_wav(x, 24000) == ref_wav(x, 24000)
    got = np.frombuffer(encode_pcm16(x), "<i2")
    # spot-check the convention itself, independent of the reference
    expect = {1.0: 32767, -1.0: -32768, 0.5 * LSB: 0, 1.5 * LSB: 2, 2.5 * LSB: 2, -2.5 * LSB: -2}
    for v, want in expect.items():
        assert got[np.flatnonzero(x == np.float32(v))[0]] == want, v
    assert np.all(got[np.isnan(x)] == 0)
    assert got[x == np.inf][0] == 32767 and got[x == -np.inf][0] == -32768


@pytest.mark.parametrize("n", [*range(0, 70), 127, 128, 129, 1023, 4097, 24_000, 40_001])
def test_every_kernel_matches_reference_all_tail_lengths(n: int) -> None:
    x = np.ascontiguousarray(np.concatenate([edge_values(), noise(n, seed=n) * 1.3])[:n])
    want = ref_pcm16(x)
    for isa in _native._pcm16_isas():
        assert _native._encode_pcm16_with_isa(x, isa) == want, isa
    assert encode_pcm16(x) == want


def test_simd_and_scalar_agree_on_a_long_signal() -> None:
    x = noise(240_000, seed=1) * 2.0  # ~10 s at 24 kHz, heavily clipped
    x[::997] = np.nan
    outs = {isa: _native._encode_pcm16_with_isa(x, isa) for isa in _native._pcm16_isas()}
    assert len(set(outs.values())) == 1, "kernels disagree (tolerance: none, the conversion is exact)"
    assert outs["scalar"] == ref_pcm16(x)


def test_active_isa_is_simd_on_x86_64() -> None:
    forced = os.environ.get("ISHOWTTS_FORCE_SCALAR", "") not in ("", "0")
    if platform.machine().lower() in ("x86_64", "amd64"):
        assert active_isa() == ("scalar" if forced else "avx2+fma")
        assert "avx2+fma" in _native._pcm16_isas()
    assert active_isa() in _native._pcm16_isas()


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 24000, 44100, 48000])
def test_float32_wav_is_bit_exact(rate: int) -> None:
    x = np.concatenate([edge_values(), noise(1000, seed=2)])
    b = encode_wav(x, rate, "float32")
    assert b == ref_wav(x, rate, "float32")
    decoded, sr = sf.read(io.BytesIO(b), dtype="float32")
    assert sr == rate
    assert np.array_equal(decoded.view(np.uint32), x.view(np.uint32))


def test_stereo_interleaving() -> None:
    x = noise(1001, channels=2, seed=3)
    x[:, 1] *= -0.5
    b = encode_wav(x, 48000)
    assert b == ref_wav(x, 48000)
    frames = np.frombuffer(b[WAV_HEADER_BYTES:], "<i2").reshape(-1, 2)
    assert np.array_equal(frames[:, 0], np.frombuffer(ref_pcm16(x[:, 0].copy()), "<i2"))
    assert np.array_equal(frames[:, 1], np.frombuffer(ref_pcm16(x[:, 1].copy()), "<i2"))
    f = encode_wav(x, 48000, "float32")
    assert np.array_equal(np.frombuffer(f[WAV_HEADER_BYTES:], "<f4").reshape(-1, 2), x)


def test_mono_column_is_mono() -> None:
    x = noise(100, seed=4)
    assert encode_wav(x.reshape(-1, 1), 24000) == encode_wav(x, 24000)


# ---------------------------------------------------------------------------------------- decoders
@pytest.mark.parametrize("channels", [1, 2])
def test_decodes_with_soundfile_and_wave(channels: int) -> None:
    x = noise(2400, channels=0 if channels == 1 else 2, seed=5)
    b = encode_wav(x, 24000)
    want = np.frombuffer(ref_pcm16(x), "<i2").reshape(x.shape)
    decoded, sr = sf.read(io.BytesIO(b), dtype="int16")
    assert sr == 24000 and np.array_equal(decoded, want)
    info = sf.info(io.BytesIO(b))
    assert (info.format, info.subtype, info.channels, info.frames) == ("WAV", "PCM_16", channels, 2400)
    with wave.open(io.BytesIO(b)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (
            channels,
            2,
            24000,
            2400,
        )
        assert w.readframes(2400) == want.tobytes()
    info32 = sf.info(io.BytesIO(encode_wav(x, 24000, "float32")))
    assert (info32.subtype, info32.frames) == ("FLOAT", 2400)


@pytest.mark.parametrize("shape", [(0,), (0, 1), (0, 2)])
def test_empty_input_gives_a_valid_empty_wav(shape: tuple[int, ...]) -> None:
    x = np.zeros(shape, np.float32)
    channels = 1 if len(shape) == 1 else shape[1]
    b = encode_wav(x, 16000)
    assert b == ref_header(1, channels, 16000, 16, 0)
    assert sf.info(io.BytesIO(b)).frames == 0
    with wave.open(io.BytesIO(b)) as w:
        assert w.getnframes() == 0 and w.getnchannels() == channels
    assert encode_wav(x, 16000, "float32") == ref_header(3, channels, 16000, 32, 0)
    assert encode_pcm16(x) == b""
    assert to_pcm16(x).shape == shape


# ---------------------------------------------------------------------------------------- streaming
@pytest.mark.parametrize(("channels", "fmt"), [(1, "pcm16"), (2, "pcm16"), (1, "float32"), (2, "float32")])
def test_stream_header_and_chunks(channels: int, fmt: str) -> None:
    enc = WavStreamEncoder(24000, channels=channels, sample_format=fmt)  # type: ignore[arg-type]
    bits = 16 if fmt == "pcm16" else 32
    header = enc.header()
    assert header == ref_header(1 if fmt == "pcm16" else 3, channels, 24000, bits, 0, streaming=True)
    assert header[4:8] == header[40:44] == b"\xff\xff\xff\xff"
    assert enc.bytes_per_frame == channels * bits // 8
    x = noise(5000, channels=0 if channels == 1 else channels, seed=6)
    cuts = [0, 1, 17, 1000, 1001, 4096, 5000]
    body = b"".join(enc.encode(np.ascontiguousarray(x[a:b])) for a, b in itertools.pairwise(cuts))
    one_shot = encode_wav(x, 24000, fmt)  # type: ignore[arg-type]
    assert body == one_shot[WAV_HEADER_BYTES:]
    decoded, sr = sf.read(io.BytesIO(header + body), dtype="float32" if fmt == "float32" else "int16")
    assert sr == 24000 and decoded.shape[0] == 5000


def test_stream_header_is_read_to_eof_by_wave() -> None:
    enc = WavStreamEncoder(24000)
    x = noise(300, seed=7)
    with wave.open(io.BytesIO(enc.header() + enc.encode(x))) as w:
        assert w.readframes(10_000) == ref_pcm16(x)


def test_stream_rejects_wrong_channel_count() -> None:
    with pytest.raises(ValueError, match="2-channel"):
        WavStreamEncoder(24000, channels=2).encode(noise(10))
    with pytest.raises(ValueError, match="1-channel"):
        WavStreamEncoder(24000).encode(noise(10, channels=2))
    assert WavStreamEncoder(24000).encode(noise(10).reshape(-1, 1)) == ref_pcm16(noise(10))
    with pytest.raises(ValueError, match="channels"):
        WavStreamEncoder(24000, channels=3)
    with pytest.raises(ValueError, match="sample_format"):
        WavStreamEncoder(24000, sample_format="mp3")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------- to_pcm16
def test_to_pcm16_is_pooled_and_exact() -> None:
    x = noise(4800, channels=2, seed=8)
    before = default_pool().stats()
    y = to_pcm16(x)
    assert y.dtype == np.int16 and y.shape == x.shape
    assert y.ctypes.data % 64 == 0
    assert y.tobytes() == ref_pcm16(x)
    during = default_pool().stats()
    assert during.bytes_in_use >= before.bytes_in_use + y.nbytes
    assert during.hits + during.misses == before.hits + before.misses + 1
    del y
    assert default_pool().stats().releases == during.releases + 1


# ---------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros(10, np.float64), "got a float64 array"),
        (np.zeros(20, np.float32)[::2], "not C-contiguous"),
        (np.zeros((10, 2), np.float32, order="F"), "not C-contiguous"),
        (np.zeros(10, ">f4"), "float32"),
        ([0.0, 0.1], "got a list"),
        (np.frombuffer(bytes(401), np.float32, offset=1), "aligned"),
    ],
)
def test_wrong_array_types_raise_type_error_naming_the_fix(bad: object, match: str) -> None:
    for fn in (lambda a: encode_wav(a, 24000), encode_pcm16, to_pcm16, WavStreamEncoder(24000).encode):
        with pytest.raises(TypeError, match=match):
            fn(bad)
    with pytest.raises(TypeError, match=r"np\.ascontiguousarray|copy\(\)"):
        encode_pcm16(bad)


@pytest.mark.parametrize(
    "shape",
    [(10, 3), (10, 0), (2, 3, 4), ()],
)
def test_wrong_shapes_raise_value_error(shape: tuple[int, ...]) -> None:
    x = np.zeros(shape, np.float32)
    with pytest.raises(ValueError, match=r"channels|dimensions"):
        encode_wav(x, 24000)
    with pytest.raises(ValueError):
        encode_pcm16(x)


@pytest.mark.parametrize("rate", [0, -24000, 999, 768_001, 10**30])
def test_bad_sample_rates(rate: int) -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        encode_wav(noise(10), rate)
    with pytest.raises(ValueError, match="sample_rate"):
        WavStreamEncoder(rate)
    with pytest.raises(ValueError, match="sample_rate"):
        _native.encode_wav(noise(10), max(min(rate, 2**62), -(2**62)), "pcm16")


def test_non_int_rate_and_bad_format() -> None:
    with pytest.raises(TypeError, match="sample_rate"):
        encode_wav(noise(10), 24000.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sample_format"):
        encode_wav(noise(10), 24000, "pcm24")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sample_format"):
        _native.encode_wav(noise(10), 24000, "pcm24")
    with pytest.raises(ValueError, match="isa"):
        _native._encode_pcm16_with_isa(noise(10), "sse9")


def _huge(n: int, channels: int = 0) -> np.ndarray:
    """A C-contiguous float32 array header claiming n frames over a 4-byte buffer: sizes are checked
    before any sample is read, so nothing past the buffer is ever touched (if a check were missing, the
    test would crash rather than pass)."""
    base = np.zeros(1, np.float32)
    if channels:
        a = np.lib.stride_tricks.as_strided(base, shape=(n, channels), strides=(4 * channels, 4))
    else:
        a = np.lib.stride_tricks.as_strided(base, shape=(n,), strides=(4,))
    assert a.flags.c_contiguous
    return a


def test_more_than_2_pow_31_samples_is_refused() -> None:
    too_many = _huge(2**31 + 1)
    for fn in (encode_pcm16, to_pcm16, WavStreamEncoder(24000).encode, lambda a: encode_wav(a, 24000)):
        with pytest.raises(ValueError, match="2\\^31"):
            fn(too_many)
    with pytest.raises(ValueError, match="2\\^31"):
        WavStreamEncoder(24000, channels=2).encode(_huge(2**30 + 1, channels=2))


def test_riff_size_limit() -> None:
    with pytest.raises(ValueError, match="too long for one WAV"):
        encode_wav(_huge(2**31), 24000)  # 4 GiB of PCM16 > the 32-bit RIFF size
    with pytest.raises(ValueError, match="too long for one WAV"):
        encode_wav(_huge(2**30), 24000, "float32")


def test_concurrent_encoding_releases_gil_safely() -> None:
    xs = [noise(96_000, seed=s) for s in range(4)]  # above the GIL-release threshold
    want = [ref_wav(x, 24000) for x in xs]
    results: list[bool] = [False] * 4

    def work(i: int) -> None:
        results[i] = all(encode_wav(xs[i], 24000) == want[i] for _ in range(5))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results)


def test_read_only_and_subclass_inputs_are_accepted() -> None:
    x = noise(3000, seed=9)
    ro = np.frombuffer(x.tobytes(), np.float32)
    assert not ro.flags.writeable
    assert encode_wav(ro, 24000) == ref_wav(x, 24000)
    mm = x.view(np.memmap)  # an ndarray subclass
    assert encode_pcm16(mm) == ref_pcm16(x)


def test_non_array_inputs_name_their_type() -> None:
    with pytest.raises(TypeError, match="got a memoryview"):
        encode_pcm16(memoryview(noise(4).tobytes()))
    with pytest.raises(TypeError, match="got a NoneType"):
        encode_wav(None, 24000)  # type: ignore[arg-type]
