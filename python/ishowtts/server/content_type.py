"""415 for a request body of the wrong media type, decided before the body's fields are validated.

A route with a JSON body takes ``application/json`` (or ``application/*+json``); a route with form fields
takes ``multipart/form-data`` or ``application/x-www-form-urlencoded``. A request that sends a body with
any other Content-Type, or with none (``curl -d`` sends form encoding), gets 415 naming the type to send,
instead of a 422 about fields it never got. A request without a body is left to the route (a missing
body is a 422; an optional one is fine).

Installed once for the whole app as an app-level dependency (see ``app.py``), so routes added later are
covered without touching the routers. A body-less route, a WebSocket and the static files are never
checked.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import params
from starlette.requests import HTTPConnection

from ishowtts.server.errors import ApiError

BodyKind = Literal["json", "form"]
FORM_TYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})
EXPECTED = {
    "json": "the body as JSON with 'Content-Type: application/json'",
    "form": "form fields as 'multipart/form-data' (curl -F)",
}


def body_kind(route: Any) -> BodyKind | None:
    """What a FastAPI route reads from the request body (the same rule FastAPI's body parser uses)."""
    field = getattr(route, "body_field", None)
    if field is None:
        return None
    return "form" if isinstance(field.field_info, params.Form) else "json"  # params.File is a Form


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def accepts(kind: BodyKind, mtype: str) -> bool:
    if kind == "form":
        return mtype in FORM_TYPES
    return mtype == "application/json" or (mtype.startswith("application/") and mtype.endswith("+json"))


def _has_body(conn: HTTPConnection) -> bool:
    length = conn.headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "transfer-encoding" in conn.headers


async def require_media_type(conn: HTTPConnection) -> None:
    """App-level dependency: 415 when a body arrives in a media type the matched route cannot read."""
    if conn.scope.get("type") != "http":
        return
    kind = body_kind(conn.scope.get("route"))
    if kind is None or not _has_body(conn):
        return
    raw = conn.headers.get("content-type")
    if accepts(kind, media_type(raw)):
        return
    got = f"Content-Type {media_type(raw)!r}" if raw else "no Content-Type"
    raise ApiError(
        415, f"unsupported media type: got {got}; send {EXPECTED[kind]}", code="unsupported_media_type"
    )
