"""/metrics must carry what the load harness and the docs promise to cross-check: the HTTP, scheduler and
danmaku counters of the same app."""

from __future__ import annotations

import pytest
from _server_helpers import make_config, serve_app, wait_until

from ishowtts.server.app import create_app

pytestmark = pytest.mark.anyio


def chat(i: int) -> dict:
    return {"platform": "test", "channel": "chan", "username": f"u{i}", "text": f"hello number {i}"}


async def test_http_and_scheduler_counters_match_the_traffic(tmp_path, fake_backend) -> None:
    app = create_app(make_config(tmp_path / "data"), fake_backend)
    async with serve_app(app) as client:
        for i in range(3):
            assert (await client.post("/api/tts", json={"text": f"hi {i}"})).status_code == 200
        assert (await client.post("/api/tts", json={"text": ""})).status_code == 400
        metrics = (await client.get("/metrics")).text
    assert 'ishowtts_http_requests_total{method="POST",route="/api/tts",status="200"} 3.0' in metrics
    assert 'ishowtts_http_requests_total{method="POST",route="/api/tts",status="400"} 1.0' in metrics
    assert 'ishowtts_synthesis_events_total{event="queued"} 3.0' in metrics
    assert 'ishowtts_synthesis_events_total{event="finished"} 3.0' in metrics


async def test_danmaku_counters_are_exported(tmp_path, fake_backend) -> None:
    app = create_app(make_config(tmp_path / "data", danmaku={"cooldown_s": 0.0}), fake_backend)
    service = app.state.ishowtts.extras["danmaku"]
    async with serve_app(app) as client:
        for i in range(2):
            assert (await client.post("/api/danmaku/enqueue", json=chat(i))).status_code == 202
        await wait_until(lambda: service.synthesized == 2, what="clips synthesised")
        metrics = (await client.get("/metrics")).text
    assert 'ishowtts_danmaku_messages_total{outcome="accepted"} 2.0' in metrics
    assert 'ishowtts_danmaku_clips_total{outcome="synthesised"} 2.0' in metrics
