"""The espeak-ng engine: real speech from libespeak-ng. Tests of the 24 kHz backend need the native
resampler (``ishowtts.audio.Resampler``); the library-level tests run without it.

libespeak-ng is not bit-reproducible (its noise sources drift between calls: the same text comes out a few
samples longer or shorter with different noise), so comparisons between two renderings use durations and
loudness envelopes, never exact equality."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ishowtts.engine.backend import Backend, CancelToken, SynthesisCancelled, SynthesisParams
from ishowtts.engine.espeak import (
    EspeakBackend,
    _Library,
    rate_for_speed,
    split_sentences,
    trim_edges,
)
from ishowtts.engine.scheduler import Scheduler

SHORT = "Hello there."
LONG = "Hello there. This is a much longer sentence, read aloud by the fallback engine. And a third one!"


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def envelope(x: np.ndarray, sr: int, frame_s: float = 0.02) -> np.ndarray:
    n = int(frame_s * sr)
    frames = x[: x.size // n * n].reshape(-1, n)
    return np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))


def same_speech(a: np.ndarray, b: np.ndarray, sr: int = 24_000) -> bool:
    """Two renderings of the same text: equal length within 30 ms and matching loudness envelopes."""
    if abs(a.size - b.size) > 0.03 * sr:
        return False
    ea, eb = envelope(a, sr), envelope(b, sr)
    n = min(ea.size, eb.size)
    return float(np.corrcoef(ea[:n], eb[:n])[0, 1]) > 0.9


@pytest.fixture(scope="module")
def lib() -> _Library:
    return _Library.get()


@pytest.fixture(scope="module")
def backend() -> EspeakBackend:
    return EspeakBackend()


def test_library_speaks_at_native_rate(lib: _Library) -> None:
    assert lib.sample_rate == 22_050 and lib.version
    with lib.lock:
        short = lib.synth(SHORT, "en", 175, None)
        long = lib.synth(LONG, "en", 175, None)
    assert short.dtype == np.int16
    assert 0.4 < short.size / lib.sample_rate < 2.5
    assert long.size > 3 * short.size
    assert np.abs(long).max() > 3000  # real speech, not silence


def test_library_callback_abort(lib: _Library) -> None:
    calls = 0

    def stop() -> bool:
        nonlocal calls
        calls += 1
        return calls > 2

    with lib.lock:
        partial = lib.synth(LONG * 3, "en", 175, stop)
        full = lib.synth(LONG * 3, "en", 175, None)
    assert 0 < partial.size < full.size / 4


def test_library_rate_changes_duration(lib: _Library) -> None:
    with lib.lock:
        slow = lib.synth(LONG, "en", 100, None)
        fast = lib.synth(LONG, "en", 350, None)
    assert slow.size > 2 * fast.size


def test_split_sentences() -> None:
    assert split_sentences("One. Two!  Three? four") == ["One.", "Two!", "Three?", "four"]
    assert split_sentences("你好。今天天气很好！我们走吧") == ["你好。", "今天天气很好！", "我们走吧"]
    assert split_sentences("a\nb\x00c") == ["a", "b c"]
    assert split_sentences("  \n ") == []
    assert split_sentences("3.14 is pi") == ["3.14 is pi"]
    long = "word " * 100 + "end, " + "more " * 10
    pieces = split_sentences(long, max_chars=50)
    assert all(0 < len(p) <= 50 for p in pieces) and " ".join(pieces).split() == long.split()
    assert (
        split_sentences("aaaa, " + "b" * 80, max_chars=40)[0] == "aaaa, " + "b" * 34
    )  # no late break: hard cut at 40
    assert split_sentences("x" * 30 + ", tail and more words here", max_chars=40)[0] == "x" * 30 + ","


def test_rate_for_speed() -> None:
    assert rate_for_speed(1.0) == 175
    assert rate_for_speed(2.0) == 350
    assert rate_for_speed(0.25) == 80 and rate_for_speed(4.0) == 700 and rate_for_speed(10) == 800
    with pytest.raises(ValueError):
        rate_for_speed(0)


def test_trim_edges() -> None:
    x = np.zeros(10_000, np.float32)
    x[4000:5000] = 0.5
    y = trim_edges(x, 1000, keep_s=0.1)
    assert y.size == 1000 + 200 and np.abs(y).max() == 0.5
    assert trim_edges(np.zeros(10, np.float32), 1000).size == 0


# ---------------------------------------------------------------------------------------------- backend
def test_backend_protocol_and_info(backend: EspeakBackend) -> None:
    assert isinstance(backend, Backend)
    assert (
        backend.name == "espeak" and backend.label == "espeak-ng (fallback)" and backend.sample_rate == 24_000
    )
    info = backend.info()
    assert info["model"].startswith("espeak-ng") and info["device"] == "cpu"


def test_real_speech_at_24k_grows_with_text(backend: EspeakBackend, h) -> None:
    short = backend.synthesize(SHORT, h.voice(), SynthesisParams())
    long = backend.synthesize(LONG, h.voice(), SynthesisParams())
    assert short.dtype == np.float32 and short.ndim == 1
    assert long.size > 3 * short.size
    assert rms(long) > 0.02 and np.abs(long).max() > 0.1
    assert np.isfinite(long).all() and np.abs(long).max() <= 1.0
    # the resampled output is 24 kHz: same duration as the 22.05 kHz native rendering
    lib = _Library.get()
    with lib.lock:
        native = lib.synth(SHORT, "en", 175, None)
    assert abs(short.size / 24_000 - native.size / 22_050) < 0.01  # a wrong ratio would be off by ~8 %


def test_stream_yields_sentences_that_add_up_to_synthesize(backend: EspeakBackend, h) -> None:
    chunks = list(backend.stream(LONG, h.voice(), SynthesisParams()))
    assert len(chunks) >= 3  # sentence by sentence
    assert all(c.dtype == np.float32 and c.ndim == 1 and c.size > 0 for c in chunks)
    assert same_speech(np.concatenate(chunks), backend.synthesize(LONG, h.voice(), SynthesisParams()))
    first_sentence = backend.synthesize("Hello there.", h.voice(), SynthesisParams())
    assert abs(chunks[0].size - first_sentence.size) < 0.05 * 24_000  # the first chunk is the first sentence


def test_speed_is_honoured(backend: EspeakBackend, h) -> None:
    normal = backend.synthesize(LONG, h.voice(), SynthesisParams(speed=1.0))
    fast = backend.synthesize(LONG, h.voice(), SynthesisParams(speed=2.0))
    slow = backend.synthesize(LONG, h.voice(), SynthesisParams(speed=0.6))
    assert fast.size < 0.65 * normal.size and slow.size > 1.4 * normal.size


def test_remove_silence_trims(backend: EspeakBackend, h) -> None:
    text = "First part.\n\n\nSecond part."

    def tail_s(x: np.ndarray) -> float:
        return (x.size - np.flatnonzero(np.abs(x) > 0.01)[-1]) / 24_000

    plain = backend.synthesize(text, h.voice(), SynthesisParams())
    trimmed = backend.synthesize(text, h.voice(), SynthesisParams(remove_silence=True))
    assert tail_s(plain) > 0.2  # espeak's sentence-final pause
    assert tail_s(trimmed) < 0.11
    assert trimmed.size < plain.size - 0.3 * 24_000  # both sentence pauses were shortened


def test_languages(backend: EspeakBackend, h) -> None:
    assert backend.voice_name("zh") == "cmn" and backend.voice_name("en-US") in ("en-us", "en")
    assert backend.voice_name("xx-unknown") == "en"
    zh = backend.synthesize("你好，今天天气很好。", h.voice(language="zh"), SynthesisParams())
    assert zh.size > 24_000 * 0.5 and rms(zh) > 0.02


def test_empty_text_is_an_error(backend: EspeakBackend, h) -> None:
    with pytest.raises(ValueError, match="empty"):
        backend.synthesize(" \n ", h.voice(), SynthesisParams())


def test_cancel_token_stops_synthesis(backend: EspeakBackend, h) -> None:
    token = CancelToken()
    token.cancel("gone")
    with pytest.raises(SynthesisCancelled):
        backend.synthesize(LONG, h.voice(), SynthesisParams(), token)
    token2 = CancelToken()
    it = backend.stream(LONG, h.voice(), SynthesisParams(), token2)
    next(it)
    token2.cancel()
    with pytest.raises(SynthesisCancelled):
        list(it)


def test_thread_safe_under_concurrency(backend: EspeakBackend, h) -> None:
    texts = [
        "One.",
        "Thread two is speaking now.",
        "Three, and a longer sentence than the others here.",
        "Four!",
    ]
    expected = [backend.synthesize(t, h.voice(), SynthesisParams()) for t in texts]
    results: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        for _ in range(3):
            results[i] = backend.synthesize(texts[i], h.voice(), SynthesisParams())

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        assert same_speech(results[i], expected[i]), i
    assert not same_speech(expected[0], backend.synthesize(LONG, h.voice(), SynthesisParams()))


@pytest.mark.anyio
async def test_scheduler_with_real_espeak(backend: EspeakBackend, h) -> None:
    sched = Scheduler(backend, max_queue=8, timeout_s=30, cache_size=8)
    await sched.start()
    whole = await sched.synthesize(LONG, h.voice(), SynthesisParams(seed=1))
    chunks = [c async for c in sched.stream(LONG, h.voice(), SynthesisParams())]
    assert len(chunks) >= 3 and same_speech(np.concatenate(chunks), whole.audio)
    assert whole.sample_rate == 24_000 and 0 < whole.rtf < 1
    again = await sched.synthesize(LONG, h.voice(), SynthesisParams(seed=1))
    assert again.cached
    np.testing.assert_array_equal(again.audio, whole.audio)
    await sched.stop()


def test_missing_native_resampler_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import ishowtts.audio
    from ishowtts.engine.espeak import EspeakUnavailable

    monkeypatch.delattr(ishowtts.audio, "Resampler", raising=False)
    with pytest.raises(EspeakUnavailable, match="native resampler"):
        EspeakBackend()
