"""Request errors at the HTTP edge, in both error shapes: invalid JSON (400 naming line and column), a body
in the wrong media type (415), a method a route does not take (405 with Allow, also with the web page
served at /), and an unexpected failure (a JSON 500)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from _server_helpers import iter_http_routes, serve_app

from ishowtts.server.schemas import ErrorDetail, OpenAIError

pytestmark = pytest.mark.anyio


def message(r: httpx.Response) -> str:
    """The error message, after checking the body has exactly the shape of its path's error model."""
    if r.request.url.path.startswith("/v1/"):
        return OpenAIError.model_validate(r.json()).error.message
    return ErrorDetail.model_validate(r.json()).detail


# ---------------------------------------------------------------------------------------------- invalid JSON
@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        (
            "/api/tts",
            b'{"text": "hi",',
            "line 1, column 15: Expecting property name enclosed in double quotes",
        ),
        ("/api/tts", b'{\n  "text": "hi"\n  "speed": 1\n}', "line 3, column 3: Expecting ',' delimiter"),
        ("/v1/audio/speech", b'{"input": hi}', "line 1, column 11: Expecting value"),
        ("/api/danmaku/enqueue", b"{'text': 'single quotes'}", "line 1, column 2: Expecting property name"),
    ],
)
async def test_invalid_json_is_400_naming_line_and_column(fake_app, fake_backend, path, body, where):
    async with serve_app(fake_app) as client:
        r = await client.post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert message(r).startswith(f"invalid JSON at {where}"), message(r)
    if path.startswith("/v1/"):
        assert r.json()["error"]["code"] == "invalid_json"
    assert fake_backend.started == 0


async def test_valid_json_with_wrong_fields_is_still_422(fake_app):
    async with serve_app(fake_app) as client:
        r = await client.post("/api/tts", json={"text": 5})
    assert r.status_code == 422 and message(r).startswith("text: ")


# ---------------------------------------------------------------------------------------------- media type
@pytest.mark.parametrize(
    ("path", "content_type", "got"),
    [
        ("/api/tts", "text/plain", "got Content-Type 'text/plain'"),
        (
            "/api/tts",
            "application/x-www-form-urlencoded",
            "got Content-Type 'application/x-www-form-urlencoded'",
        ),
        ("/api/tts", None, "got no Content-Type"),
        ("/v1/audio/speech", "text/plain; charset=utf-8", "got Content-Type 'text/plain'"),
        ("/api/danmaku/enqueue", "application/xml", "got Content-Type 'application/xml'"),
    ],
)
async def test_json_route_refuses_other_media_types_with_415(fake_app, fake_backend, path, content_type, got):
    headers = {"content-type": content_type} if content_type else {}
    async with serve_app(fake_app) as client:
        r = await client.post(path, content=b'{"text": "hi", "input": "hi"}', headers=headers)
    assert r.status_code == 415, r.text
    assert got in message(r) and "application/json" in message(r)
    assert fake_backend.started == 0


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/vnd.ishowtts+json"])
async def test_json_route_takes_json_media_types(fake_app, content_type):
    async with serve_app(fake_app) as client:
        r = await client.post("/api/tts", content=b'{"text": "Hi"}', headers={"content-type": content_type})
    assert r.status_code == 200, r.text


async def test_a_missing_body_is_not_a_media_type_error(fake_app):
    async with serve_app(fake_app) as client:
        r = await client.post("/api/tts")  # no body, no Content-Type: the body is missing, a 422
        stop = await client.post("/api/danmaku/stop")  # an optional body may be left out
    assert r.status_code == 422 and message(r) == "body: Field required"
    assert stop.status_code == 200, stop.text


@pytest.mark.parametrize("path", ["/v1/audio/voices", "/api/voices/default/reference"])
async def test_form_route_refuses_json_with_415(fake_app, path):
    async with serve_app(fake_app) as client:
        r = await client.post(path, json={"name": "x", "text": "words"})
    assert r.status_code == 415, r.text
    assert "got Content-Type 'application/json'" in message(r) and "multipart/form-data" in message(r)


# ---------------------------------------------------------------------------------------------- wrong method
@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/api/tts", "POST"),
        ("GET", "/v1/audio/speech", "POST"),
        ("PUT", "/v1/audio/voices", "GET, POST"),
        ("GET", "/api/danmaku/enqueue", "POST"),
        ("POST", "/api/health", "GET"),
    ],
)
async def test_wrong_method_is_405_with_allow(fake_app, method, path, allow):
    async with serve_app(fake_app) as client:
        r = await client.request(method, path)
    assert r.status_code == 405, r.text
    assert sorted(r.headers["allow"].split(", ")) == sorted(allow.split(", "))
    assert message(r) == f"method {method} is not allowed here; allowed: {r.headers['allow']}"


async def test_every_route_answers_405_to_a_method_it_does_not_take(fake_app):
    routes: dict[str, set[str]] = {}
    for method, path in iter_http_routes(fake_app):
        routes.setdefault(path.replace("{voice_id}", "default"), set()).add(method)
    assert "/api/tts" in routes and len(routes) >= 12
    async with serve_app(fake_app) as client:
        for path, methods in routes.items():
            r = await client.request("PATCH", path)  # no route takes PATCH
            assert r.status_code == 405, (path, r.status_code, r.text)
            assert set(r.headers["allow"].split(", ")) >= methods, (path, r.headers["allow"])


async def test_web_page_and_unknown_paths_still_answer_as_before(fake_app):
    async with serve_app(fake_app) as client:
        page = await client.get("/")
        script = await client.get("/app.js")
        missing = await client.get("/no-such-file.txt")
        post_page = await client.post("/index.html")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert script.status_code == 200
    assert missing.status_code == 404 and message(missing) == "Not Found"
    assert post_page.status_code == 405 and "GET" in post_page.headers["allow"]


# ---------------------------------------------------------------------------------------------- unexpected
@contextlib.asynccontextmanager
async def real_errors_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Like serve_app, but an unhandled exception becomes the 500 a real server sends (not re-raised)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.mark.parametrize("path", ["/api/voices", "/v1/audio/voices"])
async def test_an_unexpected_failure_is_a_json_500(fake_app, monkeypatch, path):
    def broken() -> list[Any]:
        raise RuntimeError("a bug")

    async with real_errors_client(fake_app) as client:
        monkeypatch.setattr(fake_app.state.ishowtts.store, "list", broken)
        r = await client.get(path)
        monkeypatch.undo()
    assert r.status_code == 500
    assert message(r) == "internal server error; the server log has the details"  # the bug stays in the log
    if path.startswith("/v1/"):
        assert r.json()["error"]["type"] == "server_error"
