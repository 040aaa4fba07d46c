"""The published schema (``/openapi.json``) declares the responses the server really sends.

FastAPI declares one error per operation, a 422 with its list-form ``HTTPValidationError``, and a JSON
body for every success; our handlers (``errors.py``) answer every error with ``{"detail": "<message>"}``
outside ``/v1/`` and with OpenAI's error object on ``/v1/``, and several routes answer with audio or text.
The generated schema is post-processed once, here, so the routers stay free of response boilerplate:

- each operation declares the error statuses it can send: from its shape (any parameter or body: 422; a
  body: 400 (invalid JSON, unreadable form), 413 and 415; a path parameter: 404), from
  :data:`EXTRA_ERRORS` (what the handler itself raises: synthesis 429/502/503/504, storage 507, ...), 500
  everywhere (anything unexpected is still a JSON error body), and 401 on every non-public operation when
  an API key is configured (with a bearer security scheme);
- a status a route declares itself (``@router.delete(..., responses={409: {...}})``) keeps its
  description and gets the error body too;
- :data:`OTHER_RESPONSES` adds the non-error answers FastAPI cannot see (``/ready``'s 503, the 204 of a
  filtered danmaku message), and :data:`SUCCESS_MEDIA` the media types of successes that are not JSON
  (audio, Prometheus text, event streams);
- ``HTTPValidationError``/``ValidationError`` leave the components.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from ishowtts.server.encoding import FORMATS
from ishowtts.server.errors import is_openai
from ishowtts.server.schemas import ErrorDetail, OpenAIError
from ishowtts.server.security import PUBLIC_PATHS

REF = "#/components/schemas/{model}"
METHODS = frozenset({"get", "put", "post", "delete", "patch", "options", "head", "trace"})

STATUS_TEXT: dict[int, str] = {
    400: "Invalid request; the message says what (invalid JSON with its line and column, empty text, ...)",
    401: "Missing or wrong API key (send 'Authorization: Bearer <key>')",
    404: "Unknown voice (or an invalid voice id)",
    413: "Body or upload over the size limit",
    415: "Body sent in a media type this operation does not read",
    422: "A field has the wrong type or is out of range; the message names it",
    429: "Synthesis queue full; retry after Retry-After seconds",
    500: "Unexpected server error",
    502: "The engine failed on this request",
    503: "Not accepting requests now; retry after Retry-After seconds",
    504: "Timed out in the queue or the engine",
    507: "Not enough disk space; nothing was stored",
}
RETRY_AFTER = {
    "Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}
}

SYNTHESIS = frozenset({400, 404, 429, 502, 503, 504})
STORAGE = frozenset({400, 507})
# "METHOD /path" -> error statuses the handler raises beyond those its shape implies
EXTRA_ERRORS: dict[str, frozenset[int]] = {
    "POST /api/tts": SYNTHESIS,
    "POST /v1/audio/speech": SYNTHESIS,
    "POST /v1/audio/voices": STORAGE,
    "POST /api/voices/{voice_id}/reference": STORAGE,
    "DELETE /api/voices/{voice_id}/reference": frozenset({507}),
    "POST /api/danmaku/start": frozenset({400}),
    "POST /api/danmaku/stop": frozenset({400}),
    "POST /api/danmaku/enqueue": frozenset({400, 503}),
}
OTHER_RESPONSES: dict[str, dict[str, Any]] = {
    "GET /ready": {
        "503": {
            "description": "Warming up, or the warm-up failed (then 'error' says why)",
            "headers": RETRY_AFTER,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "status": {"type": "string", "enum": ["warming_up", "warmup_failed"]},
                            "error": {"type": "string"},
                        },
                        "required": ["status"],
                    }
                }
            },
        }
    },
    "POST /api/danmaku/enqueue": {
        "204": {
            "description": "Filtered: not queued; the X-Danmaku-Filtered header says why",
            "headers": {"X-Danmaku-Filtered": {"schema": {"type": "string"}}},
        }
    },
}
_AUDIO = {info.media_type.split(";")[0]: {} for info in FORMATS.values()}
# "METHOD /path" -> (success status, its media types) where the success is not (only) JSON
SUCCESS_MEDIA: dict[str, tuple[str, dict[str, Any]]] = {
    "POST /v1/audio/speech": ("200", {**_AUDIO, "text/event-stream": {}}),  # sse: stream_format="sse"
    "POST /api/tts": ("200", {"audio/wav": {}}),  # with 'Accept: audio/wav'; JSON otherwise
    "GET /api/voices/{voice_id}/reference/audio": ("200", {"audio/*": {}}),
    "GET /metrics": ("200", {"text/plain": {}}),
    "GET /api/danmaku/events": ("200", {"text/event-stream": {}}),
}
FASTAPI_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _components(*models: type[BaseModel]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=REF)
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out


def _error_response(status: int, openai: bool, existing: dict[str, Any] | None) -> dict[str, Any]:
    model = OpenAIError if openai else ErrorDetail
    response = dict(existing or {})
    if not response.get("description") or response.get("description") == "Validation Error":
        response["description"] = STATUS_TEXT.get(status) or HTTPStatus(status).phrase
    response["content"] = {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}}
    if status in (429, 503):
        response.setdefault("headers", RETRY_AFTER)
    return response


def error_statuses(key: str, path: str, operation: dict[str, Any], *, api_key: bool) -> set[int]:
    """Every error status the operation ``key`` ("METHOD /path") can answer with."""
    params = operation.get("parameters", [])
    body = "requestBody" in operation
    statuses = {500}
    statuses |= {int(s) for s in operation.get("responses", {}) if s.isdigit() and int(s) >= 400}
    if params or body:
        statuses.add(422)
    if body:
        statuses |= {400, 413, 415}
    if any(p.get("in") == "path" for p in params):
        statuses.add(404)
    if api_key and path not in PUBLIC_PATHS:
        statuses.add(401)
    return statuses | EXTRA_ERRORS.get(key, frozenset())


def declare_errors(schema: dict[str, Any], *, api_key: bool) -> dict[str, Any]:
    """Rewrite FastAPI's generated schema in place (and return it) so its errors are the real ones."""
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {}).update(_components(ErrorDetail, OpenAIError))
    if api_key:
        components.setdefault("securitySchemes", {})["bearer"] = {"type": "http", "scheme": "bearer"}
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            key = f"{method.upper()} {path}"
            responses = operation.setdefault("responses", {})
            for status in sorted(error_statuses(key, path, operation, api_key=api_key)):
                responses[str(status)] = _error_response(status, is_openai(path), responses.get(str(status)))
            responses.update(OTHER_RESPONSES.get(key, {}))
            _declare_success_media(key, responses)
            if api_key and path not in PUBLIC_PATHS:
                operation["security"] = [{"bearer": []}]
            operation["responses"] = dict(sorted(responses.items()))
    for name in FASTAPI_ERROR_SCHEMAS:  # in order: the first one refers to the second
        if f'"{REF.format(model=name)}"' not in json.dumps(schema):
            components["schemas"].pop(name, None)
    return schema


def _declare_success_media(key: str, responses: dict[str, Any]) -> None:
    if key not in SUCCESS_MEDIA:
        return
    status, media = SUCCESS_MEDIA[key]
    content = responses.setdefault(status, {"description": "Successful Response"}).setdefault("content", {})
    json_body = content.pop("application/json", None)
    if json_body is not None and json_body.get("schema", {}).get("$ref"):
        content["application/json"] = json_body  # a declared response model stays (/api/tts)
    content.update(media)


def install_response_schema(app: FastAPI, *, api_key: bool) -> None:
    """Make ``app.openapi()`` (and so ``/openapi.json`` and ``/docs``) publish the real error bodies."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    declared = False

    def openapi() -> dict[str, Any]:
        nonlocal declared
        schema = generate()  # FastAPI caches it on app.openapi_schema
        if not declared:
            declare_errors(schema, api_key=api_key)
            declared = True
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
