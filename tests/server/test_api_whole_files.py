"""WAV sizes: a WAV whose length is known before its first byte goes out carries its true RIFF and data
sizes (``/api/tts`` raw and base64, a cache hit, ``/v1/audio/speech`` with ``"stream": false``), read back
by Python's ``wave`` and libsndfile; a streamed WAV keeps 0xFFFFFFFF. ``"stream": false`` answers every
format as one file with a Content-Length."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import numpy as np
import openai
import pytest
from _server_helpers import (
    SR,
    STREAMED_SIZE,
    AsgiCall,
    FakeBackend,
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
from ishowtts.server.encoding import SUPPORTED_FORMATS
from ishowtts.server.schemas import SpeechRequest

pytestmark = pytest.mark.anyio

TEXT = "First sentence here. Second one. Third and last"
EXPECTED = np.concatenate(FakeBackend.expected(TEXT))


def app_for(tmp_path: Any, backend: FakeBackend, **sections: dict[str, Any]) -> Any:
    return create_app(make_config(tmp_path, **sections), backend)


def assert_same_audio(data: bytes) -> None:
    audio, sr = decode(data, "wav")
    assert sr == SR and len(audio) == len(EXPECTED) and np.allclose(audio, EXPECTED, atol=1 / 32768)


async def test_api_tts_raw_and_base64_have_true_sizes(tmp_path, fake_backend):
    async with serve_app(app_for(tmp_path, fake_backend)) as client:
        raw = await client.post("/api/tts", json={"text": TEXT}, headers={"Accept": "audio/wav"})
        js = await client.post("/api/tts", json={"text": TEXT})
    assert raw.status_code == 200 and raw.headers["content-type"] == "audio/wav"
    assert int(raw.headers["content-length"]) == len(raw.content)
    assert_exact_wav(raw.content, len(EXPECTED))
    assert_same_audio(raw.content)
    data = base64.b64decode(js.json()["audio_base64"])
    assert_exact_wav(data, js.json()["waveform_len"])
    assert js.json()["waveform_len"] == len(EXPECTED)


async def test_speech_stream_false_is_one_wav_with_true_sizes(tmp_path, fake_backend):
    app = app_for(tmp_path, fake_backend)
    async with serve_app(app) as client:
        r = await client.post(
            "/v1/audio/speech", json={"input": TEXT, "response_format": "wav", "stream": False}
        )
        metrics = (await client.get("/metrics")).text
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "audio/wav" and int(r.headers["content-length"]) == len(r.content)
    assert r.headers["x-sample-rate"] == str(SR) and r.headers["x-voice-id"] == "default"
    assert_exact_wav(r.content, len(EXPECTED))
    assert_same_audio(r.content)
    assert 'ishowtts_time_to_first_audio_seconds_count{api="openai",mode="full"} 1.0' in metrics


async def test_streamed_wav_keeps_unknown_sizes(tmp_path, fake_backend):
    """The default (``stream`` true) is unchanged: chunked, 0xFFFFFFFF in both size fields."""
    assert SpeechRequest(input="x").stream is True
    async with serve_app(app_for(tmp_path, fake_backend)) as client:
        r = await client.post("/v1/audio/speech", json={"input": TEXT, "response_format": "wav"})
        explicit = await client.post(
            "/v1/audio/speech", json={"input": TEXT, "response_format": "wav", "stream": True}
        )
    for resp in (r, explicit):
        assert resp.status_code == 200 and "content-length" not in resp.headers
        assert wav_sizes(resp.content) == (STREAMED_SIZE, STREAMED_SIZE)
        assert_same_audio(resp.content)  # libsndfile reads to the end of the bytes


@pytest.mark.parametrize("stream", [True, False])
async def test_cache_hit_has_true_sizes(tmp_path, fake_backend, stream):
    """A seeded repeat comes from the finished-audio cache: its length is known before the first byte, so
    even the streamed route sends one exact file (with a Content-Length)."""
    app = app_for(tmp_path, fake_backend)
    body = {"input": TEXT, "response_format": "wav", "seed": 7, "stream": stream}
    async with serve_app(app) as client:
        first = await client.post("/v1/audio/speech", json=body)
        again = await client.post("/v1/audio/speech", json=body)
        tts = await client.post(
            "/api/tts", json={"text": TEXT, "seed": 7}, headers={"Accept": "audio/wav"}
        )  # same key (text, voice, params): a hit too
        sse = await client.post(
            "/v1/audio/speech", json={**body, "stream": True, "stream_format": "sse"}
        )  # a hit sent as one SSE delta
    stats = app.state.ishowtts.scheduler.stats()
    assert stats["completed"] == 1 and stats["cache_hits"] == 3 and fake_backend.started == 1
    if stream:
        assert wav_sizes(first.content) == (STREAMED_SIZE, STREAMED_SIZE)
    else:
        assert_exact_wav(first.content, len(EXPECTED))
    for resp in (again, tts):
        assert resp.status_code == 200 and int(resp.headers["content-length"]) == len(resp.content)
        assert_exact_wav(resp.content, len(EXPECTED))
        assert_same_audio(resp.content)
    events = parse_sse(sse.content)
    assert [e["type"] for e in events] == ["speech.audio.delta", "speech.audio.done"]
    assert_exact_wav(base64.b64decode(events[0]["audio"]), len(EXPECTED))


@pytest.mark.parametrize("fmt", SUPPORTED_FORMATS)
async def test_stream_false_every_format(tmp_path, fake_backend, fmt):
    async with serve_app(app_for(tmp_path, fake_backend)) as client:
        r = await client.post(
            "/v1/audio/speech", json={"input": TEXT, "response_format": fmt, "stream": False}
        )
        streamed = await client.post("/v1/audio/speech", json={"input": TEXT, "response_format": fmt})
    assert r.status_code == 200, r.text
    assert int(r.headers["content-length"]) == len(r.content)
    assert r.headers["content-type"] == streamed.headers["content-type"]
    audio, sr = decode(r.content, fmt)
    assert sr == SR
    if fmt in ("wav", "pcm", "flac"):
        assert len(audio) == len(EXPECTED) and np.allclose(audio, EXPECTED, atol=1 / 32768)
        skip = 44 if fmt == "wav" else 0  # only the WAV header's size fields differ
        assert r.content[skip:] == streamed.content[skip:] and len(r.content) == len(streamed.content)
    else:
        assert len(EXPECTED) <= len(audio) <= len(EXPECTED) + 2 * 1152 + 960
        assert abs(rms(audio) - rms(EXPECTED)) < 0.2 * rms(EXPECTED)


async def test_stream_false_with_sse_is_refused(tmp_path, fake_backend):
    async with serve_app(app_for(tmp_path, fake_backend)) as client:
        r = await client.post(
            "/v1/audio/speech", json={"input": TEXT, "stream": False, "stream_format": "sse"}
        )
        wrong_type = await client.post("/v1/audio/speech", json={"input": TEXT, "stream": "no"})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["param"] == "stream_format" and '"stream": true' in err["message"]
    assert fake_backend.started == 0
    assert wrong_type.status_code in (400, 422) and "stream" in wrong_type.text


async def test_stream_false_errors_and_disconnect(tmp_path, fake_backend):
    """Errors keep their status codes; a client that goes away cancels the synthesis."""
    fake_backend.fail_on = "explode"
    app = app_for(tmp_path, fake_backend)
    scheduler = app.state.ishowtts.scheduler
    async with serve_app(app) as client:
        r = await client.post("/v1/audio/speech", json={"input": "explode", "stream": False})
        assert r.status_code == 502 and r.json()["error"]["type"] == "server_error"
        r = await client.post("/v1/audio/speech", json={"input": "hi", "voice": "nobody", "stream": False})
        assert r.status_code == 404
        fake_backend.block = True
        call = AsgiCall(app, "POST", "/v1/audio/speech", {"input": TEXT, "stream": False}).start()
        await wait_until(lambda: fake_backend.started == 2, what="synthesis started")
        call.disconnect.set()
        await asyncio.wait_for(call.task, 30)
        await wait_until(lambda: fake_backend.cancelled == 1, what="engine cancelled")
        await wait_until(lambda: scheduler.stats()["running"] == 0, what="slot freed")
    assert call.status == 499


async def test_openai_client_extra_body_stream_false(tmp_path, fake_backend):
    """The README's advice with the official client: ``extra_body={"stream": False}`` gives a file that
    Python's ``wave`` reads with its real length; the plain snippet gives the streamed header."""
    app = app_for(tmp_path, fake_backend)
    async with serve_app(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
        client = openai.AsyncOpenAI(
            base_url="http://testserver/v1", api_key="unused", http_client=http, max_retries=0
        )
        args = {"model": "f5-tts", "voice": "default", "input": TEXT, "response_format": "wav"}
        exact, streamed = tmp_path / "exact.wav", tmp_path / "streamed.wav"
        async with client.audio.speech.with_streaming_response.create(
            **args, extra_body={"stream": False}
        ) as response:
            await response.stream_to_file(exact)
        async with client.audio.speech.with_streaming_response.create(**args) as response:
            await response.stream_to_file(streamed)
    assert_exact_wav(exact.read_bytes(), len(EXPECTED))
    assert wav_sizes(streamed.read_bytes()) == (STREAMED_SIZE, STREAMED_SIZE)
