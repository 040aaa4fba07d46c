"""Response encoding: every format decodes back with soundfile; streaming encoders emit bytes as chunks
arrive and their concatenation is a valid file; PCM16 conversion contract (round half to even, clamp,
NaN -> 0); WAV comes from the native encoder alone (true sizes whole, 0xFFFFFFFF streamed)."""

from __future__ import annotations

import io
import struct
import wave

import numpy as np
import pytest
import soundfile as sf
from _server_helpers import SR, decode

from ishowtts.audio import wav as native_wav
from ishowtts.server import encoding
from ishowtts.server.encoding import (
    SUPPORTED_FORMATS,
    StreamEncoder,
    UnsupportedFormat,
    encode_audio,
    encode_pcm16,
    format_info,
)


def speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    x = 0.25 * env * (np.sin(2 * np.pi * 180 * t) + 0.5 * np.sin(2 * np.pi * 720 * t))
    return (x + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


@pytest.mark.parametrize("fmt", SUPPORTED_FORMATS)
def test_whole_file_roundtrip(fmt):
    x = speechlike(1.2)
    audio, sr = decode(encode_audio(x, fmt, SR), fmt)
    assert sr == SR
    if fmt in ("wav", "pcm", "flac"):
        assert len(audio) == len(x) and np.max(np.abs(audio - x)) <= 1 / 32768 + 1e-7
    else:
        assert len(x) <= len(audio) <= len(x) + 3000
        # lossy codecs delay the signal: find the best alignment, then the waveform must match well
        best = max(correlation(audio[d:], x) for d in range(0, 2400, 8))
        assert best > 0.9, best


@pytest.mark.parametrize("fmt", SUPPORTED_FORMATS)
def test_stream_encoder_concatenation_decodes(fmt):
    x = speechlike(3.0, seed=1)
    chunks = np.array_split(x, [12_000, 12_500, 40_000])
    enc = StreamEncoder(fmt, SR)
    pieces = [enc.header()] + [enc.encode(c) for c in chunks] + [enc.finish()]
    audio, sr = decode(b"".join(pieces), fmt)
    assert sr == SR
    if fmt in ("wav", "pcm", "flac"):
        assert np.max(np.abs(audio - x)) <= 1 / 32768 + 1e-7
    else:
        assert len(x) <= len(audio) <= len(x) + 3000
    if fmt in ("wav", "pcm"):  # one piece per chunk, each exactly that chunk's samples
        assert [len(p) for p in pieces[1:-1]] == [2 * len(c) for c in chunks]
    if fmt == "mp3":  # progressive: bytes come out before the end
        assert sum(len(p) for p in pieces[:-1]) > 0
    if fmt == "flac":  # encoded at the end
        assert not any(pieces[:-1]) and pieces[-1][:4] == b"fLaC"


def test_opus_streams_pages_as_they_fill():
    enc = StreamEncoder("opus", SR)
    x = speechlike(6.0, seed=2)
    early = b"".join(enc.encode(c) for c in np.array_split(x, 12))
    assert early[:4] == b"OggS" and len(early) > 2000  # pages were flushed before finish()
    rest = enc.finish()
    audio, sr = decode(early + rest, "opus")
    assert sr == SR and len(audio) >= len(x)


def test_streaming_wav_header():
    head = StreamEncoder("wav", SR).header()
    assert len(head) == 44
    riff, size, wave_, fmt_, fmt_len, tag, ch, rate, bps, align, bits, data, dsize = struct.unpack(
        "<4sI4s4sIHHIIHH4sI", head
    )
    assert (riff, wave_, fmt_, data) == (b"RIFF", b"WAVE", b"fmt ", b"data")
    assert size == 0xFFFFFFFF and dsize == 0xFFFFFFFF
    assert (fmt_len, tag, ch, rate, bps, align, bits) == (16, 1, 1, SR, 2 * SR, 2, 16)


def test_pcm16_conversion_contract():
    x = np.array(
        [0.0, 1.0, -1.0, 2.0, -2.0, 0.5 / 32768, 1.5 / 32768, -0.5 / 32768, np.nan, np.inf, -np.inf, 1e-40],
        dtype=np.float32,
    )
    got = np.frombuffer(encode_pcm16(x), "<i2").tolist()
    assert got == [0, 32767, -32768, 32767, -32768, 0, 2, 0, 0, 32767, -32768, 0]


def test_one_native_wav_path():
    """Whole files and streams come from the native encoder: a whole WAV has its true sizes, a streamed
    one the native streaming header, and both carry the same PCM16 samples."""
    x = speechlike(0.7, seed=3)
    x[::97] = 1.5
    whole = encode_audio(x, "wav", SR)
    assert whole == encoding.encode_wav(x, SR) == native_wav.encode_wav(x, SR)
    riff, data_size = struct.unpack_from("<I", whole, 4)[0], struct.unpack_from("<I", whole, 40)[0]
    assert (riff, data_size) == (len(whole) - 8, 2 * len(x))
    with wave.open(io.BytesIO(whole)) as w:
        assert (w.getnframes(), w.getframerate()) == (len(x), SR)
    enc = StreamEncoder("wav", SR)
    assert enc.header() == native_wav.WavStreamEncoder(SR).header()
    assert enc.encode(x) == encode_pcm16(x) == native_wav.encode_pcm16(x) == whole[44:]


@pytest.mark.parametrize("fmt", ["aac", "ogg", "", "WAV "])
def test_unsupported_formats_name_the_supported_ones(fmt):
    with pytest.raises(UnsupportedFormat, match="mp3, opus, flac, wav, pcm"):
        format_info(fmt)


def test_rejects_non_mono():
    with pytest.raises(ValueError, match="mono"):
        encode_audio(np.zeros((10, 2), np.float32), "wav", SR)


def test_empty_audio_is_a_valid_file():
    for fmt in ("wav", "flac", "mp3", "opus"):
        data = encode_audio(np.zeros(0, np.float32), fmt, SR)
        assert sf.info(io.BytesIO(data)).samplerate == SR
        enc = StreamEncoder(fmt, SR)
        streamed = enc.header() + enc.finish()
        audio, sr = decode(streamed, fmt)
        assert sr == SR and np.all(np.abs(audio) < 1e-3)
    assert encode_audio(np.zeros(0, np.float32), "pcm", SR) == b""
