"""The API with the real espeak-ng engine: real speech (24 kHz, non-silent, longer text -> longer audio),
streaming in sentence chunks, every format, and cancellation of a real synthesis on disconnect."""

from __future__ import annotations

import asyncio
import base64

import numpy as np
import pytest
from _server_helpers import (
    SR,
    STREAMED_SIZE,
    AsgiCall,
    assert_exact_wav,
    decode,
    make_config,
    parse_sse,
    rms,
    serve_app,
    wait_until,
    wav_sizes,
)

from ishowtts.server.app import create_app

pytestmark = pytest.mark.anyio

SHORT = "Hello there."
LONG = "Hello there. This is a much longer piece of text, read aloud by the fallback engine. It has three sentences."


async def test_health_reports_espeak(tmp_path, espeak_backend):
    app = create_app(make_config(tmp_path), espeak_backend, fallback_reason="F5 engine unavailable: test")
    async with serve_app(app) as client:
        h = (await client.get("/api/health")).json()
    assert h["engine"] == "espeak" and h["engine_label"] == "espeak-ng (fallback)"
    assert h["model"].startswith("espeak-ng") and h["device"] == "cpu"
    assert h["fallback"] is True and h["fallback_reason"] == "F5 engine unavailable: test"


async def test_real_speech_grows_with_text(tmp_path, espeak_backend):
    async with serve_app(create_app(make_config(tmp_path), espeak_backend)) as client:
        short = await client.post("/api/tts", json={"text": SHORT})
        long = await client.post("/api/tts", json={"text": LONG})
    assert short.status_code == 200 and long.status_code == 200
    a_short, sr1 = decode(base64.b64decode(short.json()["audio_base64"]), "wav")
    a_long, sr2 = decode(base64.b64decode(long.json()["audio_base64"]), "wav")
    assert sr1 == sr2 == SR == short.json()["sample_rate"]
    assert short.json()["engine"] == "espeak" and short.json()["waveform_len"] == len(a_short)
    assert 0.3 < len(a_short) / SR < 3.0
    assert len(a_long) > 3 * len(a_short)
    assert rms(a_short) > 0.01 and rms(a_long) > 0.01
    assert np.max(np.abs(a_long)) <= 1.0


async def test_speed_changes_duration(tmp_path, espeak_backend):
    async with serve_app(create_app(make_config(tmp_path), espeak_backend)) as client:
        normal = await client.post("/v1/audio/speech", json={"input": LONG, "response_format": "pcm"})
        fast = await client.post(
            "/v1/audio/speech", json={"input": LONG, "response_format": "pcm", "speed": 2.0}
        )
    n, _ = decode(normal.content, "pcm")
    f, _ = decode(fast.content, "pcm")
    assert len(f) < 0.75 * len(n)


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("fmt", ["wav", "pcm", "mp3", "opus", "flac"])
async def test_every_format_is_real_speech(tmp_path, espeak_backend, fmt, stream):
    async with serve_app(create_app(make_config(tmp_path), espeak_backend)) as client:
        r = await client.post(
            "/v1/audio/speech",
            json={"input": LONG, "voice": "default", "response_format": fmt, "stream": stream},
        )
    assert r.status_code == 200, r.text
    audio, sr = decode(r.content, fmt)
    assert sr == SR and len(audio) / SR > 2.0 and rms(audio) > 0.01
    assert ("content-length" in r.headers) is not stream  # stream=false: one file with its length


async def test_readme_wavs_have_true_sizes(tmp_path, espeak_backend):
    """The README's snippets: /api/tts and ``"stream": false`` give WAVs whose header sizes are the audio's
    (what sox and Python's ``wave`` read the duration from); the streamed default keeps 0xFFFFFFFF."""
    async with serve_app(create_app(make_config(tmp_path), espeak_backend)) as client:
        tts = await client.post("/api/tts", json={"text": LONG}, headers={"Accept": "audio/wav"})
        body = {"model": "f5-tts", "input": LONG, "voice": "default", "response_format": "wav"}
        whole = await client.post("/v1/audio/speech", json={**body, "stream": False})
        streamed = await client.post("/v1/audio/speech", json=body)
    n_tts, n_whole = assert_exact_wav(tts.content), assert_exact_wav(whole.content)
    assert 2.0 < n_tts / SR < 30.0 and abs(n_whole - n_tts) < 0.01 * n_tts  # espeak-ng varies a little
    assert rms(decode(whole.content, "wav")[0]) > 0.01
    assert wav_sizes(streamed.content) == (STREAMED_SIZE, STREAMED_SIZE)
    streamed_audio, _ = decode(streamed.content, "wav")
    assert abs(len(streamed_audio) - n_tts) < 0.01 * n_tts


async def test_stream_arrives_in_sentence_chunks_and_sse(tmp_path, espeak_backend):
    app = create_app(make_config(tmp_path), espeak_backend)
    async with serve_app(app) as client:
        call = AsgiCall(app, "POST", "/v1/audio/speech", {"input": LONG, "response_format": "pcm"}).start()
        await asyncio.wait_for(call.task, 60)
        bodies = [m["body"] for m in call.messages if m.get("body")]
        assert len(bodies) >= 3  # one per sentence (plus the resampler tail)
        streamed, _ = decode(b"".join(bodies), "pcm")
        whole = await client.post("/api/tts", json={"text": LONG}, headers={"Accept": "audio/wav"})
        full, _ = decode(whole.content, "wav")
        # the same speech, chunked (espeak-ng's output length varies by a few hundred samples per run)
        assert abs(len(streamed) - len(full)) < 0.01 * len(full)
        sse = await client.post(
            "/v1/audio/speech", json={"input": LONG, "response_format": "pcm", "stream_format": "sse"}
        )
        events = parse_sse(sse.content)
        assert events[-1]["type"] == "speech.audio.done" and len(events) >= 4
        data = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
        assert abs(len(data) - 2 * len(full)) < 0.02 * len(full)


async def test_disconnect_cancels_real_synthesis(tmp_path, espeak_backend):
    text = " ".join(f"This is sentence number {i} of a very long text." for i in range(60))
    app = create_app(make_config(tmp_path, queue={"max_size": 1}), espeak_backend)
    scheduler = app.state.ishowtts.scheduler
    async with serve_app(app) as client:
        call = AsgiCall(app, "POST", "/v1/audio/speech", {"input": text, "response_format": "wav"}).start()
        await asyncio.wait_for(call.first_body.wait(), 60)
        await wait_until(lambda: len([m for m in call.messages if m.get("body")]) >= 2, what="first audio")
        call.disconnect.set()
        await asyncio.wait_for(call.task, 30)
        await wait_until(lambda: scheduler.stats()["running"] == 0, timeout=30, what="slot freed")
        stats = scheduler.stats()
        assert stats["cancelled"] == 1 and stats["completed"] == 0
        r = await client.post("/api/tts", json={"text": SHORT})
        assert r.status_code == 200
