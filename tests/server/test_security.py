"""API key on/off, route by route, taken from the app's own route table (so a new route is covered
automatically), plus the public exceptions."""

from __future__ import annotations

import asyncio
import re

import pytest
from _server_helpers import API_KEY, AsgiCall, iter_http_routes, make_config, serve_app

from ishowtts.server.app import create_app
from ishowtts.server.security import PUBLIC_PATHS

pytestmark = pytest.mark.anyio


def http_routes(app) -> list[tuple[str, str]]:
    return [(m, re.sub(r"\{[^}]+\}", "default", p)) for m, p in iter_http_routes(app)]


async def status_of(app, method: str, path: str, headers: dict[str, str] | None = None) -> int:
    """The response status, read at the ASGI level so endless streams (SSE) do not block the test."""
    call = AsgiCall(app, method, path, None, headers).start()
    done = asyncio.ensure_future(call.started.wait())
    await asyncio.wait({done, call.task}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    call.disconnect.set()
    await asyncio.wait_for(call.task, 30)
    assert call.status is not None, (method, path)
    return call.status


async def test_route_table_is_not_empty_and_covers_the_apis(tmp_path, fake_backend):
    app = create_app(make_config(tmp_path), fake_backend)
    paths = {p for _, p in http_routes(app)}
    for needed in (
        "/api/health",
        "/ready",
        "/metrics",
        "/api/tts",
        "/api/voices",
        "/api/voices/default/reference",
        "/api/voices/default/reference/audio",
        "/v1/audio/speech",
        "/v1/audio/voices",
        "/v1/models",
    ):
        assert needed in paths


async def test_every_route_needs_the_key_except_health_and_ready(tmp_path, fake_backend):
    app = create_app(make_config(tmp_path, server={"api_key": API_KEY}), fake_backend)
    routes = http_routes(app)
    assert len(routes) >= 12
    good = {"Authorization": f"Bearer {API_KEY}"}
    async with serve_app(app) as client:
        for method, path in routes:
            if path in PUBLIC_PATHS:
                assert await status_of(app, method, path) == 200, (method, path)
                continue
            r = await client.request(method, path) if "events" not in path else None
            if r is not None:
                assert r.status_code == 401, (method, path, r.status_code)
                assert r.headers["www-authenticate"].startswith("Bearer")
            assert await status_of(app, method, path) == 401, (method, path)
            assert await status_of(app, method, path, {"Authorization": "Bearer wrong"}) == 401
            assert await status_of(app, method, path, {"Authorization": "Basic " + API_KEY}) == 401
            assert await status_of(app, method, path, good) != 401, (method, path)
        # unknown paths are not an escape hatch either
        assert (await client.get("/no/such/route")).status_code == 401
        # a real request with the key works end to end
        r = await client.post("/api/tts", json={"text": "Hello"}, headers=good)
        assert r.status_code == 200
        r = await client.post("/v1/audio/speech", json={"input": "Hello"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert fake_backend.texts == ["Hello"]


async def test_websocket_needs_the_key(tmp_path, fake_backend):
    app = create_app(make_config(tmp_path, server={"api_key": API_KEY}), fake_backend)
    sent: list[dict] = []

    async def receive():
        return {"type": "websocket.connect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": "/api/danmaku/stream",
        "raw_path": b"/api/danmaku/stream",
        "query_string": b"",
        "headers": [],
        "root_path": "",
        "scheme": "ws",
        "subprotocols": [],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "asgi": {"version": "3.0"},
    }
    await asyncio.wait_for(app(scope, receive, send), 5)
    assert sent and sent[0]["type"] == "websocket.close" and sent[0]["code"] == 1008


async def test_without_key_everything_is_open(tmp_path, fake_backend):
    app = create_app(make_config(tmp_path), fake_backend)
    async with serve_app(app):
        for method, path in http_routes(app):
            assert await status_of(app, method, path) != 401, (method, path)


async def test_health_never_shows_the_key(tmp_path, fake_backend):
    app = create_app(make_config(tmp_path, server={"api_key": API_KEY}), fake_backend)
    async with serve_app(app) as client:
        r = await client.get("/api/health")
    assert r.status_code == 200 and API_KEY not in r.text


async def test_static_files_public_but_not_api(tmp_path, fake_backend):
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<html>ui</html>")
    (web / "app.js").write_text("console.log(1)")
    app = create_app(make_config(tmp_path / "data", server={"api_key": API_KEY}), fake_backend, web_dir=web)
    async with serve_app(app) as client:
        assert (await client.get("/")).text == "<html>ui</html>"
        assert (await client.get("/app.js")).status_code == 200
        assert (await client.get("/missing.js")).status_code == 401
        assert (await client.get("/../secret")).status_code in (401, 404)
        assert (await client.get("/api/voices")).status_code == 401
        assert (await client.post("/app.js")).status_code == 401


def test_espeak_only_server_does_not_import_torch() -> None:
    """The fallback engine must start fast and small on machines without F5 weights (or a GPU stack)."""
    import subprocess
    import sys

    code = "import sys, ishowtts.server.app, ishowtts.cli.serve; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "False", out.stderr
