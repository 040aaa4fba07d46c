"""API key (Bearer) on every request except the public ones; CORS.

The key is checked by an ASGI middleware wrapped around the whole app, so every route — including routes
added later, mounted sub-apps and WebSockets — is covered unless listed in :data:`PUBLIC_PATHS`. Public:
``/api/health`` and ``/ready`` (probes), CORS preflights (``OPTIONS`` with
``Access-Control-Request-Method``; they carry no credentials by design), and GET/HEAD of files that exist
in the static web UI directory (the page itself holds no data; it asks the user for the key and sends it
as Bearer on API calls). Browsers cannot put headers on WebSocket handshakes or EventSource requests, so
WebSockets and ``Accept: text/event-stream`` GETs may also pass the key as ``?api_key=``.
"""

from __future__ import annotations

import hmac
import logging
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from ishowtts.logging_setup import kv
from ishowtts.server.errors import error_response

log = logging.getLogger(__name__)

PUBLIC_PATHS: frozenset[str] = frozenset({"/api/health", "/ready"})
CORS_METHODS = ["GET", "POST", "DELETE", "OPTIONS"]
CORS_HEADERS = ["Authorization", "Content-Type", "Accept"]
EXPOSED_HEADERS = ["Retry-After", "X-Request-Id", "X-Danmaku-Filtered", "X-Sample-Rate"]


def key_matches(presented: str | None, expected: str) -> bool:
    if presented is None:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, api_key: str, static_dir: Path | None = None) -> None:
        if not api_key:
            raise ValueError("api_key must be non-empty")
        self.app = app
        self.api_key = api_key
        self.static_dir = static_dir.resolve() if static_dir is not None else None

    def _is_public(self, scope: Scope) -> bool:
        path: str = scope.get("path", "")
        if path in PUBLIC_PATHS:
            return True
        if scope["type"] != "http":
            return False
        method = scope.get("method", "GET")
        if method == "OPTIONS" and any(
            n == b"access-control-request-method" for n, _ in scope.get("headers", ())
        ):
            return True
        return method in ("GET", "HEAD") and self._is_static_file(path)

    def _is_static_file(self, path: str) -> bool:
        if self.static_dir is None or path.startswith(("/api/", "/v1/", "/metrics")):
            return False
        rel = path.lstrip("/") or "index.html"
        try:
            target = (self.static_dir / rel).resolve()
        except (OSError, ValueError):
            return False
        if target.is_dir():
            target = target / "index.html"
        return target.is_file() and target.is_relative_to(self.static_dir)

    def _presented(self, scope: Scope) -> str | None:
        token = bearer_token(scope)
        if token is None and (scope["type"] == "websocket" or _is_event_stream(scope)):
            values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("api_key")
            token = values[0] if values else None
        return token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self._is_public(scope):
            await self.app(scope, receive, send)
            return
        presented = self._presented(scope)
        if key_matches(presented, self.api_key):
            await self.app(scope, receive, send)
            return
        reason = "missing API key" if presented is None else "invalid API key"
        log.info("rejected request", extra=kv(path=scope.get("path"), reason=reason))
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": reason})
            return
        message = f"{reason}: send 'Authorization: Bearer <key>'"
        response = error_response(
            scope.get("path", ""),
            401,
            message,
            code="unauthorized",
            headers={"WWW-Authenticate": 'Bearer realm="ishowtts"'},
        )
        await response(scope, receive, send)


def _is_event_stream(scope: Scope) -> bool:
    if scope.get("method") != "GET":
        return False
    return any(n == b"accept" and b"text/event-stream" in v for n, v in scope.get("headers", ()))


def add_cors(app: FastAPI, origins: list[str]) -> None:
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=CORS_METHODS,
        allow_headers=CORS_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        allow_credentials=False,
        max_age=600,
    )
