from __future__ import annotations

import numpy as np
import pytest

from ishowtts.voices.prepare import (
    PreparedVoice,
    clip_at_silence,
    detect_nonsilent,
    finalize_ref_text,
    model_ref_text,
    prepare_voice,
    remove_long_silences,
    trim_silence_edges,
)

SR = 24_000


def tone(seconds: float, amp: float = 0.3, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR), dtype=np.float32)


def seconds(x: np.ndarray) -> float:
    return len(x) / SR


def test_detect_nonsilent_ms_ranges() -> None:
    x = np.concatenate([silence(0.5), tone(1.0), silence(1.2), tone(0.8)])
    ranges = detect_nonsilent(x, SR, min_silence_ms=1000, thresh_db=-50.0)
    # the 0.5 s lead-in is shorter than 1 s: not a silence; the 1.2 s gap is one
    assert len(ranges) == 2
    assert ranges[0][0] == 0 and abs(ranges[0][1] - 1500) <= 10
    assert abs(ranges[1][0] - 2700) <= 10 and ranges[1][1] == 3500


def test_short_clip_untouched_by_clipping() -> None:
    x = np.concatenate([tone(3.0), silence(0.3), tone(2.0)])
    assert np.array_equal(clip_at_silence(x, SR), x)


def test_clip_at_long_silence_first_pass() -> None:
    x = np.concatenate([tone(4), silence(2), tone(4), silence(2), tone(4)])  # 16 s
    out = clip_at_silence(x, SR)
    # keeps tone+1 s, 1 s+tone+1 s, stops before the third stretch would pass 12 s
    assert seconds(out) == pytest.approx(11.0, abs=0.02)
    trimmed = trim_silence_edges(out, SR)
    assert seconds(trimmed) == pytest.approx(10.0, abs=0.02)


def test_clip_at_short_silence_second_pass() -> None:
    burst, gap = tone(1.7), silence(0.3)  # gaps too short for pass 1 (1000 ms), long enough for pass 2
    x = np.concatenate([np.concatenate([burst, gap]) for _ in range(9)])  # 18 s
    out = trim_silence_edges(clip_at_silence(x, SR), SR)
    assert seconds(out) <= 12.0
    assert seconds(out) > 6.0
    # it ends at the end of a burst (a silence), not mid-burst
    n_periods = (seconds(out) + 0.3) / 2.0
    assert n_periods == pytest.approx(round(n_periods), abs=0.01)


def test_hard_cut_without_silence() -> None:
    out = clip_at_silence(tone(15.0), SR)
    assert len(out) == 12 * SR


def test_trim_edges() -> None:
    x = np.concatenate([silence(0.5), tone(2.0), silence(0.7)])
    out = trim_silence_edges(x, SR)
    assert seconds(out) == pytest.approx(2.0, abs=0.011)
    assert np.abs(out[:240]).max() > 0.01 and np.abs(out[-240:]).max() > 0.01
    assert len(trim_silence_edges(silence(1.0), SR)) == 0


def test_remove_long_silences() -> None:
    x = np.concatenate([tone(1.0), silence(3.0), tone(1.0)])
    out = remove_long_silences(x, SR)
    assert seconds(out) == pytest.approx(3.0, abs=0.02)  # 3 s gap shortened to 2 x 500 ms
    assert np.array_equal(remove_long_silences(tone(2.0), SR), tone(2.0))


def test_prepare_voice_quiet_reference_is_normalised() -> None:
    x = np.concatenate([silence(0.4), tone(3.0, amp=0.03), silence(0.4)])
    v = prepare_voice(x, SR, "Some words")
    assert isinstance(v, PreparedVoice)
    assert v.audio.dtype == np.float32
    assert seconds(v.audio) == pytest.approx(3.05, abs=0.011)  # trimmed + 50 ms of silence
    assert np.all(v.audio[-1200:] == 0)
    assert float(np.sqrt(np.mean(np.square(v.audio, dtype=np.float64)))) == pytest.approx(0.1, rel=1e-4)
    assert v.rms == pytest.approx(0.03 / np.sqrt(2) * np.sqrt(3.0 / 3.05), rel=1e-2)
    assert v.rms_factor == pytest.approx(v.rms / 0.1)
    assert v.ref_frames == len(v.audio) // 256
    assert v.text == "Some words. " and v.model_text == "Some words.  "
    assert v.text_bytes == 12 and v.model_text_bytes == 13


def test_prepare_voice_loud_reference_unscaled() -> None:
    x = tone(2.0, amp=0.5)
    v = prepare_voice(x, SR, "Hello.")
    assert v.rms_factor == 1.0
    np.testing.assert_array_equal(v.audio[: len(x)], x)


def test_prepare_voice_stereo_and_int16() -> None:
    left = tone(1.0, amp=0.4)
    stereo = np.stack([left, left], axis=1)
    v = prepare_voice(stereo, SR, "a")
    np.testing.assert_allclose(v.audio[: len(left)], left)
    pcm = (left * 32767).astype(np.int16)
    v16 = prepare_voice(pcm, SR, "a")
    np.testing.assert_allclose(v16.audio[: len(left)], left, atol=1e-4)


def test_prepare_voice_resamples_to_24k() -> None:
    # needs the native resampler (ishowtts.audio.resample)
    x48 = np.sin(2 * np.pi * 220 * np.arange(96_000) / 48_000).astype(np.float32) * 0.3
    v = prepare_voice(x48, 48_000, "text")
    assert seconds(v.audio) == pytest.approx(2.05, abs=0.011)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="silent"):
        prepare_voice(silence(1.0), SR, "text")
    with pytest.raises(ValueError, match="reference text"):
        prepare_voice(tone(1.0), SR, "  ")
    with pytest.raises(ValueError, match="empty"):
        prepare_voice(np.zeros(0, np.float32), SR, "x")
    with pytest.raises(ValueError, match="NaN"):
        prepare_voice(np.full(100, np.nan, np.float32), SR, "x")
    with pytest.raises(ValueError, match="sample_rate"):
        prepare_voice(tone(1.0), 0, "x")
    with pytest.raises(ValueError, match="shaped"):
        prepare_voice(np.zeros((2, 2, 2), np.float32), SR, "x")


def test_ref_text_rules() -> None:
    assert finalize_ref_text("Hello") == "Hello. "
    assert finalize_ref_text("Hello.") == "Hello. "
    assert finalize_ref_text("Hello. ") == "Hello. "
    assert finalize_ref_text("你好。") == "你好。"
    assert model_ref_text("Hello. ") == "Hello.  "
    assert model_ref_text("你好。") == "你好。"


def test_prepare_voice_uses_the_native_resampler_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wiring only: prepare_voice resamples through ishowtts.audio.resample(x, src, dst) (soxr stands in)."""
    import soxr

    import ishowtts.audio

    calls: list[tuple[int, int]] = []

    def fake_resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
        calls.append((src, dst))
        return soxr.resample(x, src, dst).astype(np.float32)

    monkeypatch.setattr(ishowtts.audio, "resample", fake_resample, raising=False)
    x16 = (0.3 * np.sin(2 * np.pi * 220 * np.arange(32_000) / 16_000)).astype(np.float32)
    v = prepare_voice(x16, 16_000, "text")
    assert calls == [(16_000, 24_000)]
    assert seconds(v.audio) == pytest.approx(2.05, abs=0.011)
