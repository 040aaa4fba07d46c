from __future__ import annotations

import numpy as np
import pytest

from ishowtts.voices.audio_io import InvalidAudio, decode_audio


@pytest.mark.parametrize(
    ("fmt", "subtype", "sr", "ext", "media"),
    [
        ("WAV", "PCM_16", 24_000, "wav", "audio/wav"),
        ("WAV", "FLOAT", 44_100, "wav", "audio/wav"),
        ("FLAC", "PCM_24", 16_000, "flac", "audio/flac"),
        ("OGG", "VORBIS", 22_050, "ogg", "audio/ogg"),
        ("OGG", "OPUS", 48_000, "ogg", "audio/ogg"),
        ("MP3", "MPEG_LAYER_III", 24_000, "mp3", "audio/mpeg"),
    ],
)
def test_every_upload_format_decodes_to_mono_float32(h, fmt, subtype, sr, ext, media) -> None:
    src = h.tone(1.5, sr, freq=330.0)
    data = h.encode(src, sr, fmt, subtype)
    out = decode_audio(data, f"clip.{ext}")
    assert out.samples.dtype == np.float32 and out.samples.ndim == 1
    assert out.sample_rate == sr and out.extension == ext and out.media_type == media
    assert abs(out.duration - 1.5) < 0.1  # codecs may pad a little
    rms = float(np.sqrt(np.mean(out.samples**2)))
    assert abs(rms - 0.3 / np.sqrt(2)) < 0.03


def test_stereo_is_downmixed(h) -> None:
    left = h.tone(1.0)
    stereo = np.stack([left, -left * 0 + left], axis=1)
    out = decode_audio(h.encode(stereo, h.SR, "WAV", "FLOAT"))
    np.testing.assert_allclose(out.samples, left, atol=1e-6)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda h: b"", "empty"),
        (lambda h: b"not audio at all" * 100, "not a decodable audio file"),
        (lambda h: h.encode(h.tone(1.0))[:30], "not a decodable audio file"),
        (lambda h: h.encode(h.tone(0.1)), "shorter than"),
        (lambda h: h.encode(h.tone(31.0, 8000), 8000), "longer than the 30 s limit"),
        (lambda h: h.encode(np.zeros(24_000, np.float32)), "silent"),
        (lambda h: h.encode(h.tone(1.0, 8000), 8000, "AIFF"), "unsupported format AIFF"),
        (lambda h: h.encode(np.full(24_000, np.nan, np.float32), 24_000, "WAV", "FLOAT"), "NaN"),
    ],
)
def test_bad_audio_is_rejected_with_a_reason(h, make, message) -> None:
    with pytest.raises(InvalidAudio, match=message):
        decode_audio(make(h), "upload.bin")


def test_size_limit_checked_before_decoding(h) -> None:
    data = h.encode(h.tone(2.0))
    with pytest.raises(InvalidAudio, match="over the 1024-byte limit"):
        decode_audio(data, max_bytes=1024)


def test_not_bytes_rejected() -> None:
    with pytest.raises(InvalidAudio, match="expected bytes"):
        decode_audio("a string")  # type: ignore[arg-type]
