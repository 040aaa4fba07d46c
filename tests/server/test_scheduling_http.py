"""Queue limits and cancellation through HTTP: 429 + Retry-After under a full queue, and a client that
disconnects (streaming or not, running or queued) cancels its synthesis and frees its slot."""

from __future__ import annotations

import asyncio

import pytest
from _server_helpers import AsgiCall, FakeBackend, make_config, serve_app, wait_until

from ishowtts.server.app import create_app

pytestmark = pytest.mark.anyio


def small_queue_app(tmp_path, backend: FakeBackend, max_size: int = 1):
    return create_app(make_config(tmp_path, queue={"max_size": max_size, "timeout_s": 30.0}), backend)


async def test_full_queue_is_429_with_retry_after(tmp_path, fake_backend):
    fake_backend.block = True
    app = small_queue_app(tmp_path, fake_backend)
    scheduler = app.state.ishowtts.scheduler
    async with serve_app(app) as client:
        running = asyncio.ensure_future(client.post("/api/tts", json={"text": "first"}))
        await wait_until(lambda: fake_backend.started == 1, what="first request running")
        queued = asyncio.ensure_future(
            client.post("/v1/audio/speech", json={"input": "second", "response_format": "pcm"})
        )
        await wait_until(lambda: scheduler.stats()["queue_depth"] == 1, what="second request queued")
        for path, body in (("/api/tts", {"text": "third"}), ("/v1/audio/speech", {"input": "third"})):
            r = await client.post(path, json=body)
            assert r.status_code == 429, r.text
            assert int(r.headers["retry-after"]) >= 1
            message = r.json()["error"]["message"] if path.startswith("/v1/") else r.json()["detail"]
            assert "queue is full" in message
        fake_backend.gate.set()
        assert (await running).status_code == 200
        assert (await queued).status_code == 200
        assert fake_backend.texts == ["first", "second"]  # the rejected ones never reached the engine
        metrics = (await client.get("/metrics")).text
    assert 'route="/api/tts",status="429"' in metrics


@pytest.mark.parametrize("fmt", ["pcm", "mp3", "opus", "flac"])
async def test_stream_disconnect_cancels_and_frees_slot(tmp_path, fake_backend, fmt):
    fake_backend.chunk_delay = 0.2
    text = ". ".join(f"Sentence number {i}" for i in range(50))
    app = small_queue_app(tmp_path, fake_backend)
    scheduler = app.state.ishowtts.scheduler
    async with serve_app(app) as client:
        call = AsgiCall(app, "POST", "/v1/audio/speech", {"input": text, "response_format": fmt}).start()
        await asyncio.wait_for(call.started.wait(), 30)  # flac sends no bytes before the end
        await wait_until(
            lambda: fake_backend.started == 1 and scheduler.stats()["running"] == 1, what="running"
        )
        await asyncio.sleep(0.3)  # a few chunks in (mp3/opus encode them in worker threads)
        assert call.status == 200
        call.disconnect.set()
        await asyncio.wait_for(call.task, 10)
        await wait_until(lambda: fake_backend.cancelled == 1, what="engine sees the cancellation")
        await wait_until(lambda: scheduler.stats()["running"] == 0, what="slot freed")
        assert fake_backend.completed == 0
        stats = scheduler.stats()
        assert stats["queue_depth"] == 0 and stats["cancelled"] == 1
        # the single slot is free again: a new request is served
        fake_backend.chunk_delay = 0.0
        r = await client.post("/api/tts", json={"text": "next one"})
        assert r.status_code == 200


async def test_non_streaming_disconnect_cancels_running_synthesis(tmp_path, fake_backend):
    fake_backend.block = True
    app = small_queue_app(tmp_path, fake_backend)
    scheduler = app.state.ishowtts.scheduler
    async with serve_app(app) as client:
        call = AsgiCall(app, "POST", "/api/tts", {"text": "long running"}).start()
        await wait_until(lambda: fake_backend.started == 1, what="synthesis running")
        call.disconnect.set()
        await asyncio.wait_for(call.task, 10)
        await wait_until(lambda: fake_backend.cancelled == 1, what="engine sees the cancellation")
        await wait_until(lambda: scheduler.stats()["running"] == 0, what="slot freed")
        assert call.status == 499
        fake_backend.block = False
        assert (await client.post("/api/tts", json={"text": "after"})).status_code == 200


async def test_disconnect_while_queued_drops_the_request(tmp_path, fake_backend):
    fake_backend.block = True
    app = small_queue_app(tmp_path, fake_backend, max_size=2)
    scheduler = app.state.ishowtts.scheduler
    async with serve_app(app) as client:
        first = asyncio.ensure_future(client.post("/api/tts", json={"text": "first"}))
        await wait_until(lambda: fake_backend.started == 1, what="first running")
        waiting = AsgiCall(
            app, "POST", "/v1/audio/speech", {"input": "queued one", "response_format": "wav"}
        ).start()
        await wait_until(lambda: scheduler.stats()["queue_depth"] == 1, what="second queued")
        waiting.disconnect.set()
        await asyncio.wait_for(waiting.task, 10)
        await wait_until(lambda: scheduler.stats()["queue_depth"] == 0, what="queued request dropped")
        fake_backend.gate.set()
        assert (await first).status_code == 200
        await asyncio.sleep(0.1)
    assert fake_backend.texts == ["first"]  # the dropped request never ran
    assert waiting.status == 499
