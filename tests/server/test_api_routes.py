"""Every route of the real app (real config, voice store, scheduler, metrics) with the deterministic fake
engine: shapes, formats, streaming order, SSE, errors and limits. Real-speech checks live in
test_api_espeak.py / test_api_f5.py."""

from __future__ import annotations

import asyncio
import base64
import io
import wave
from typing import Any

import numpy as np
import pytest
from _server_helpers import (
    SR,
    AsgiCall,
    FakeBackend,
    decode,
    make_config,
    parse_sse,
    rms,
    serve_app,
    wait_until,
)

from ishowtts import __version__
from ishowtts.server.app import create_app

pytestmark = pytest.mark.anyio

TEXT = "First sentence here. Second one. Third and last"


def app_for(tmp_path: Any, backend: FakeBackend, **sections: dict[str, Any]) -> Any:
    return create_app(make_config(tmp_path, **sections), backend)


async def test_health_ready_and_voices(tmp_path, fake_backend):
    async with serve_app(app_for(tmp_path, fake_backend)) as client:
        r = await client.get("/api/health")
        assert r.status_code == 200
        h = r.json()
        assert h["status"] == "ok" and h["ready"] is True
        assert (h["engine"], h["engine_label"], h["model"], h["device"], h["dtype"]) == (
            "fake",
            "Fake engine",
            "fake-model",
            "cpu",
            "float32",
        )
        assert h["fallback"] is False and h["fallback_reason"] is None
        assert h["voices"] == 1 and h["default_voice"] == "default" and h["version"] == __version__
        assert "api_key" not in r.text
        assert (await client.get("/ready")).status_code == 200
        voices = (await client.get("/api/voices")).json()
        assert [v["id"] for v in voices] == ["default"]
        assert voices[0]["engine"] == "fake" and voices[0]["engine_label"] == "Fake engine"
        assert voices[0]["reference_text"].startswith("Hello, this is the default voice")
        ov = (await client.get("/v1/audio/voices")).json()
        assert ov == {"voices": [{"id": "default", "name": "default"}]}
        models = (await client.get("/v1/models")).json()
        assert models["object"] == "list"
        assert {"f5-tts", "tts-1", "tts-1-hd"} <= {m["id"] for m in models["data"]}


async def test_fallback_reason_is_reported(tmp_path, fake_backend):
    app = create_app(make_config(tmp_path), fake_backend, fallback_reason="F5 engine unavailable: no weights")
    async with serve_app(app) as client:
        h = (await client.get("/api/health")).json()
    assert h["fallback"] is True and h["fallback_reason"] == "F5 engine unavailable: no weights"


async def test_ready_is_503_until_warmup_done(tmp_path, fake_backend):
    fake_backend.block = True  # warm-up is synthesised through the backend: block it
    original = fake_backend.warmup

    def slow_warmup(voices):
        fake_backend._wait(None, None)
        original(voices)

    fake_backend.warmup = slow_warmup  # type: ignore[method-assign]
    app = create_app(make_config(tmp_path), fake_backend, warmup=True)
    async with serve_app(app) as client:
        r = await client.get("/ready")
        assert r.status_code == 503 and r.json()["status"] == "warming_up"
        assert (await client.get("/api/health")).json()["ready"] is False
        fake_backend.gate.set()
        for _ in range(400):
            if (await client.get("/ready")).status_code == 200:
                break
            await _sleep(0.01)
        assert (await client.get("/ready")).status_code == 200
        assert fake_backend.warmed == ["default"]


async def _sleep(s: float) -> None:
    import asyncio

    await asyncio.sleep(s)


async def test_api_tts_json_and_raw_wav(tmp_path, fake_backend):
    expected = np.concatenate(FakeBackend.expected(TEXT))
    async with serve_app(app_for(tmp_path, fake_backend)) as client:
        r = await client.post("/api/tts", json={"text": TEXT, "voice_id": "default", "seed": 7})
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {
            "request_id",
            "voice_id",
            "engine",
            "engine_label",
            "sample_rate",
            "audio_base64",
            "waveform_len",
            "format",
            "spoken_text",
        }
        assert body["format"] == "audio/wav" and body["sample_rate"] == SR and body["voice_id"] == "default"
        assert body["engine"] == "fake" and body["waveform_len"] == len(expected)
        wav = base64.b64decode(body["audio_base64"])
        audio, sr = decode(wav, "wav")
        assert sr == SR and np.allclose(audio, expected, atol=1 / 32768)
        with wave.open(io.BytesIO(wav)) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) == (
                SR,
                1,
                2,
                len(expected),
            )

        raw = await client.post("/api/tts", json={"text": TEXT}, headers={"Accept": "audio/wav"})
        assert raw.status_code == 200 and raw.headers["content-type"] == "audio/wav"
        assert raw.headers["x-request-id"] and raw.headers["x-sample-rate"] == str(SR)
        audio2, _ = decode(raw.content, "wav")
        assert np.allclose(audio2, expected, atol=1 / 32768)


async def test_api_tts_params_reach_the_engine(tmp_path, fake_backend):
    seen: list[Any] = []
    original = fake_backend.stream

    def spy(text, voice, params, cancel=None):
        seen.append(params)
        return original(text, voice, params, cancel)

    fake_backend.stream = spy  # type: ignore[method-assign]
    body = {
        "text": "Hi there",
        "speed": 1.5,
        "target_rms": 0.2,
        "cross_fade_duration": 0.1,
        "sway_sampling_coef": 0.5,
        "cfg_strength": 3.0,
        "nfe_step": 8,
        "fix_duration": 2.5,
        "remove_silence": True,
        "seed": 42,
    }
    async with serve_app(app_for(tmp_path, fake_backend)) as client:
        assert (await client.post("/api/tts", json=body)).status_code == 200
    p = seen[0]
    assert (p.speed, p.target_rms, p.cross_fade_duration, p.sway_sampling_coef) == (1.5, 0.2, 0.1, 0.5)
    assert (p.cfg_strength, p.nfe_step, p.fix_duration, p.remove_silence, p.seed) == (3.0, 8, 2.5, True, 42)


@pytest.mark.parametrize("fmt", ["wav", "pcm", "mp3", "opus", "flac"])
async def test_speech_every_format_decodes(tmp_path, fake_backend, fmt):
    expected = np.concatenate(FakeBackend.expected(TEXT))
    async with serve_app(app_for(tmp_path, fake_backend)) as client:
        r = await client.post(
            "/v1/audio/speech",
            json={"model": "tts-1", "input": TEXT, "voice": "default", "response_format": fmt},
        )
        assert r.status_code == 200, r.text
        assert r.headers["x-accel-buffering"] == "no"
        media = {
            "wav": "audio/wav",
            "pcm": "audio/pcm",
            "mp3": "audio/mpeg",
            "opus": "audio/ogg",
            "flac": "audio/flac",
        }
        assert r.headers["content-type"].startswith(media[fmt])
        audio, sr = decode(r.content, fmt)
    assert sr == SR
    if fmt in ("wav", "pcm", "flac"):  # lossless: exact to one LSB
        assert len(audio) == len(expected) and np.allclose(audio, expected, atol=1 / 32768)
    else:  # lossy: the length (plus codec padding) and the overall level survive
        assert len(expected) <= len(audio) <= len(expected) + 2 * 1152 + 960
        assert abs(rms(audio) - rms(expected)) < 0.2 * rms(expected)


async def test_streamed_wav_header_and_chunk_order(tmp_path, fake_backend):
    """Each synthesised chunk goes out as its own body message, in order, while later ones are still
    being synthesised (driven at the ASGI level: httpx's ASGI transport buffers whole responses)."""
    fake_backend.chunk_delay = 0.3
    parts = FakeBackend.expected(TEXT)
    app = app_for(tmp_path, fake_backend)
    async with serve_app(app):
        call = AsgiCall(app, "POST", "/v1/audio/speech", {"input": TEXT, "response_format": "wav"}).start()
        await asyncio.wait_for(call.first_body.wait(), 30)
        await wait_until(lambda: len([m for m in call.messages if m.get("body")]) >= 2, what="first audio")
        assert fake_backend.completed == 0  # first audio is out before the engine finished
        await asyncio.wait_for(call.task, 30)
    assert call.status == 200
    headers = dict(call.messages[0]["headers"])
    assert headers[b"x-accel-buffering"] == b"no" and headers[b"content-type"] == b"audio/wav"
    bodies = [m["body"] for m in call.messages if m["type"] == "http.response.body" and m.get("body")]
    header = bodies[0]
    assert len(header) == 44 and header[:4] == b"RIFF" and header[4:8] == b"\xff\xff\xff\xff"
    assert header[36:40] == b"data" and header[40:44] == b"\xff\xff\xff\xff"
    assert len(bodies) == 1 + len(parts)
    for body, part in zip(bodies[1:], parts, strict=True):
        samples = np.frombuffer(body, "<i2").astype(np.float32) / 32768
        assert len(samples) == len(part) and np.allclose(samples, part, atol=1 / 32768)
    assert call.messages[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    audio, sr = decode(b"".join(bodies), "wav")  # the streaming header decodes with libsndfile
    assert sr == SR and len(audio) == sum(len(p) for p in parts)


async def test_pcm_stream_is_raw_s16le(tmp_path, fake_backend):
    async with serve_app(app_for(tmp_path, fake_backend)) as client:
        r = await client.post("/v1/audio/speech", json={"input": "Hello", "response_format": "pcm"})
    expected = np.concatenate(FakeBackend.expected("Hello"))
    assert r.content == np.rint(expected * 32768).astype("<i2").tobytes()


@pytest.mark.parametrize("fmt", ["pcm", "wav", "mp3"])
async def test_sse_events(tmp_path, fake_backend, fmt):
    expected = np.concatenate(FakeBackend.expected(TEXT))
    async with serve_app(app_for(tmp_path, fake_backend)) as client:
        r = await client.post(
            "/v1/audio/speech",
            json={"input": TEXT, "voice": {"id": "default"}, "response_format": fmt, "stream_format": "sse"},
        )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(r.content)
    assert [e["type"] for e in events[:-1]] == ["speech.audio.delta"] * (len(events) - 1)
    assert len(events) >= 2 and events[-1]["type"] == "speech.audio.done"
    usage = events[-1]["usage"]
    assert usage["input_tokens"] == len(TEXT)
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    data = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    audio, _ = decode(data, fmt)
    if fmt == "mp3":
        assert len(audio) >= len(expected)
    else:
        assert np.allclose(audio, expected, atol=1 / 32768)
        assert usage["output_tokens"] == len(expected) // 256


async def test_openai_voice_names_map_to_default(tmp_path, fake_backend):
    async with serve_app(app_for(tmp_path, fake_backend)) as client:
        r = await client.post(
            "/v1/audio/speech", json={"input": "Hi", "voice": "alloy", "response_format": "pcm"}
        )
        assert r.status_code == 200 and r.headers["x-voice-id"] == "default"


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("path", "body", "status", "needle"),
    [
        ("/api/tts", {"text": ""}, 400, "text: must not be empty"),
        ("/api/tts", {"text": "   \n "}, 400, "must not be empty"),
        ("/api/tts", {"text": "x" * 10_000}, 400, "10000 characters is over the 1000"),
        ("/api/tts", {"text": "hi", "voice_id": "nobody"}, 404, "unknown voice 'nobody'"),
        ("/api/tts", {"text": "hi", "voice_id": "../etc"}, 404, "invalid voice id"),
        ("/api/tts", {"text": 5}, 422, "text"),
        ("/api/tts", {"text": "hi", "speed": "fast"}, 422, "speed"),
        ("/api/tts", {"text": "hi", "speed": 9}, 422, "speed"),
        ("/api/tts", {"text": "hi", "nfe_step": 0}, 422, "nfe_step"),
        ("/api/tts", {"text": "hi", "remove_silence": "yes"}, 422, "remove_silence"),
        ("/api/tts", {"text": "hi", "engine": "f5"}, 400, "does not match"),
        ("/api/tts", {}, 422, "text"),
        ("/v1/audio/speech", {"input": ""}, 400, "input: must not be empty"),
        ("/v1/audio/speech", {"input": "x" * 10_000}, 400, "over the 4096"),
        ("/v1/audio/speech", {"input": "hi", "response_format": "aac"}, 400, "mp3, opus, flac, wav, pcm"),
        ("/v1/audio/speech", {"input": "hi", "voice": "nobody"}, 404, "unknown voice"),
        ("/v1/audio/speech", {"input": "hi", "voice": {"id": 3}}, 422, "voice"),
        ("/v1/audio/speech", {"input": "hi", "speed": 0.1}, 422, "speed"),
        ("/v1/audio/speech", {"input": "hi", "stream_format": "chunks"}, 422, "stream_format"),
        ("/v1/audio/speech", {"input": ["a"]}, 422, "input"),
    ],
)
async def test_bad_inputs_are_clear_4xx(tmp_path, fake_backend, path, body, status, needle):
    async with serve_app(app_for(tmp_path, fake_backend)) as client:
        r = await client.post(path, json=body)
    assert r.status_code == status, r.text
    payload = r.json()
    message = payload["error"]["message"] if path.startswith("/v1/") else payload["detail"]
    assert needle in message
    assert fake_backend.started == 0  # nothing reached the engine


async def test_malformed_json_is_400(tmp_path, fake_backend):
    async with serve_app(app_for(tmp_path, fake_backend)) as client:
        r = await client.post("/api/tts", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["detail"].startswith("invalid JSON at line 1, column 2: ")


async def test_engine_failure_is_502_and_worker_survives(tmp_path, fake_backend):
    fake_backend.fail_on = "explode"
    async with serve_app(app_for(tmp_path, fake_backend)) as client:
        r = await client.post("/api/tts", json={"text": "please explode"})
        assert r.status_code == 502 and "fake engine failure" in r.json()["detail"]
        r = await client.post("/v1/audio/speech", json={"input": "explode again", "response_format": "wav"})
        assert r.status_code == 502 and r.json()["error"]["type"] == "server_error"
        assert (await client.post("/api/tts", json={"text": "fine"})).status_code == 200
        metrics = (await client.get("/metrics")).text
    assert 'ishowtts_engine_errors_total{kind="EngineFailure"} 2.0' in metrics


async def test_failure_mid_stream(tmp_path, fake_backend):
    """After the first chunk the status is already sent: an audio stream is cut off without its final
    chunk (the client sees a broken transfer), an SSE stream ends with an error event."""
    fake_backend.fail_after = 1
    app = app_for(tmp_path, fake_backend)
    async with serve_app(app) as client:
        call = AsgiCall(app, "POST", "/v1/audio/speech", {"input": TEXT, "response_format": "pcm"}).start()
        await asyncio.wait_for(call.task, 30)
        assert call.status == 200 and call.first_body.is_set()
        assert not any(m.get("more_body") is False for m in call.messages)  # never completed
        r = await client.post(
            "/v1/audio/speech", json={"input": TEXT, "response_format": "pcm", "stream_format": "sse"}
        )
        events = parse_sse(r.content)
        assert [e["type"] for e in events] == ["speech.audio.delta", "error"]
        assert "fake engine failure" in events[-1]["error"]["message"]
        fake_backend.fail_after = None
        assert (await client.post("/api/tts", json={"text": TEXT})).status_code == 200


async def test_stopped_scheduler_is_503(tmp_path, fake_backend):
    app = app_for(tmp_path, fake_backend)
    async with serve_app(app) as client:
        await app.state.ishowtts.scheduler.stop()
        r = await client.post("/api/tts", json={"text": "late"})
        assert r.status_code == 503 and "not accepting" in r.json()["detail"]


async def test_timeout_is_504(tmp_path, fake_backend):
    fake_backend.block = True
    async with serve_app(app_for(tmp_path, fake_backend, queue={"timeout_s": 0.2})) as client:
        r = await client.post("/api/tts", json={"text": "never finishes"})
        assert r.status_code == 504 and "timed out" in r.json()["detail"]
        await _wait_cancelled(fake_backend)


async def _wait_cancelled(backend: FakeBackend) -> None:
    import asyncio

    for _ in range(400):
        if backend.cancelled:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the engine never saw the cancellation")


async def test_body_size_limit_413(tmp_path, fake_backend):
    app = app_for(tmp_path, fake_backend, server={"max_body_bytes": 4096, "max_upload_bytes": 2048})
    async with serve_app(app) as client:
        r = await client.post("/api/tts", json={"text": "x" * 5000})
        assert r.status_code == 413 and "4096 byte limit" in r.json()["detail"]

        async def chunks():  # no content-length: counted as it arrives
            for _ in range(10):
                yield b"x" * 1000

        r = await client.post("/api/tts", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413


async def test_metrics_exposition(tmp_path, fake_backend):
    async with serve_app(app_for(tmp_path, fake_backend)) as client:
        await client.post("/api/tts", json={"text": "Hello", "seed": 1})
        await client.post("/api/tts", json={"text": "Hello", "seed": 1})  # cache hit
        await client.post("/v1/audio/speech", json={"input": "Hello", "response_format": "pcm"})
        await client.post("/api/tts", json={"text": ""})
        r = await client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    for needle in (
        'ishowtts_http_requests_total{method="POST",route="/api/tts",status="200"} 2.0',
        'ishowtts_http_requests_total{method="POST",route="/api/tts",status="400"} 1.0',
        'ishowtts_http_requests_total{method="POST",route="/v1/audio/speech",status="200"} 1.0',
        'ishowtts_cache_lookups_total{result="hit"} 1.0',
        'ishowtts_cache_lookups_total{result="miss"} 1.0',
        'ishowtts_synthesis_events_total{event="finished"} 2.0',
        "ishowtts_queue_depth 0.0",
        'ishowtts_time_to_first_audio_seconds_count{api="openai",mode="stream"} 1.0',
        "ishowtts_synthesis_rtf_count 2.0",
        "ishowtts_engine_time_to_first_audio_seconds_count 1.0",
        "ishowtts_gpu_memory_allocated_bytes",
        "ishowtts_http_request_duration_seconds_bucket",
    ):
        assert needle in text, needle


async def test_cors_preflight_allows_delete(tmp_path, fake_backend):
    app = app_for(tmp_path, fake_backend, server={"cors_origins": ["http://ui.example"], "api_key": "k"})
    async with serve_app(app) as client:
        r = await client.options(
            "/api/voices/default/reference",
            headers={
                "Origin": "http://ui.example",
                "Access-Control-Request-Method": "DELETE",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert r.status_code == 200
        assert "DELETE" in r.headers["access-control-allow-methods"]
        assert r.headers["access-control-allow-origin"] == "http://ui.example"
        r = await client.get("/api/voices", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in r.headers
