"""Errors -> HTTP responses with a clear message.

``/v1/...`` answers in OpenAI's shape ``{"error": {"message", "type", "param", "code"}}``; everything else
in FastAPI's ``{"detail": "message"}``. Domain exceptions map to status codes here, once:
unknown voice 404, bad audio/input 400, invalid JSON 400 (naming line and column), full queue 429 +
Retry-After, timeout 504, engine failure 502, scheduler stopped 503, wrong types 422, anything unexpected
500 (still a JSON error body). ``openapi_responses.py`` declares these bodies in the published schema.
"""

from __future__ import annotations

import errno
import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ishowtts.engine.scheduler import EngineFailure, QueueFull, RequestTimeout, SchedulerClosed
from ishowtts.logging_setup import kv
from ishowtts.server.encoding import UnsupportedFormat
from ishowtts.server.schemas import error_body
from ishowtts.voices.store import InvalidAudio, VoiceNotFound

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or {}


def is_openai(request_path: str) -> bool:
    return request_path.startswith("/v1/")


def error_response(
    path: str,
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = error_body(message, openai=is_openai(path), code=code, param=param)
    if is_openai(path) and status >= 500:
        body["error"]["type"] = "server_error"
    return JSONResponse(body, status_code=status, headers=headers)


def queue_full_error(exc: QueueFull) -> ApiError:
    retry = max(1, math.ceil(float(getattr(exc, "retry_after", 1.0) or 1.0)))
    return ApiError(
        429,
        f"the synthesis queue is full; retry in {retry} s",
        code="queue_full",
        headers={"Retry-After": str(retry)},
    )


def map_exception(exc: BaseException) -> ApiError | None:
    """The HTTP error for a domain exception, or None when it is not one of ours."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, VoiceNotFound):
        return ApiError(404, str(exc), code="voice_not_found", param="voice")
    if isinstance(exc, InvalidAudio):
        return ApiError(400, f"invalid audio: {exc}", code="invalid_audio")
    if isinstance(exc, UnsupportedFormat):
        return ApiError(400, str(exc), code="unsupported_format", param="response_format")
    if isinstance(exc, QueueFull):
        return queue_full_error(exc)
    if isinstance(exc, RequestTimeout):
        return ApiError(504, f"synthesis timed out: {exc}", code="timeout")
    if isinstance(exc, EngineFailure):
        return ApiError(502, f"synthesis failed: {exc}", code="engine_error")
    if isinstance(exc, SchedulerClosed):
        return ApiError(
            503, f"not accepting requests: {exc}", code="unavailable", headers={"Retry-After": "5"}
        )
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ApiError(
            507, "not enough disk space to store this; nothing was saved", code="insufficient_storage"
        )
    if isinstance(exc, OSError):
        log.error("storage error", extra=kv(error=repr(exc)))
        return ApiError(500, "could not write to the data directory; nothing was saved", code="storage_error")
    return None


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    parts: list[str] = []
    first_param: str | None = None
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "form")]
        where = ".".join(loc) or "body"
        first_param = first_param or where
        parts.append(f"{where}: {err.get('msg', 'invalid value')}")
    return "; ".join(parts) or "invalid request", first_param


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path. Starlette's own 405 names only the first route that
    matched the path, so ``GET|POST /v1/audio/voices`` (two routes) would answer ``Allow: GET``."""
    allowed = []
    for method in HTTP_METHODS:
        scope = {k: dict(v) if isinstance(v, dict) else v for k, v in request.scope.items()}
        scope["method"] = method
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def _invalid_json_message(exc: RequestValidationError) -> str | None:
    """``invalid JSON at line L, column C: <reason>`` when the body was not JSON at all, else None."""
    for err in exc.errors():
        if err.get("type") != "json_invalid":
            continue
        loc = err.get("loc", ())
        pos = loc[-1] if loc and isinstance(loc[-1], int) else 0
        doc = exc.body if isinstance(exc.body, str) else ""
        line = doc.count("\n", 0, pos) + 1
        column = pos - doc.rfind("\n", 0, pos)  # 1-based, as json.JSONDecodeError counts
        reason = (err.get("ctx") or {}).get("error") or err.get("msg", "not JSON")
        return f"invalid JSON at line {line}, column {column}: {reason}"
    return None


def install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        err = map_exception(exc)
        assert err is not None
        if err.status >= 500:
            log.warning(
                "request failed", extra=kv(path=request.url.path, status=err.status, error=err.message)
            )
        return error_response(
            request.url.path, err.status, err.message, code=err.code, param=err.param, headers=err.headers
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        invalid_json = _invalid_json_message(exc)
        if invalid_json is not None:
            return error_response(request.url.path, 400, invalid_json, code="invalid_json")
        message, param = _validation_message(exc)
        return error_response(request.url.path, 422, message, code="invalid_type", param=param)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail: Any = exc.detail
        headers = dict(exc.headers or {})
        if exc.status_code == 405 and "Allow" in headers:
            headers["Allow"] = ", ".join(allowed_methods(request)) or headers["Allow"]
            detail = f"method {request.method} is not allowed here; allowed: {headers['Allow']}"
        return error_response(request.url.path, exc.status_code, str(detail), headers=headers)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises after sending this, so the server still logs the traceback
        log.error("unhandled error", extra=kv(path=request.url.path, error=repr(exc)))
        message = "internal server error; the server log has the details"
        return error_response(request.url.path, 500, message, code="internal_error")

    for cls in (
        ApiError,
        VoiceNotFound,
        InvalidAudio,
        UnsupportedFormat,
        QueueFull,
        RequestTimeout,
        EngineFailure,
        SchedulerClosed,
        OSError,  # disk full / unwritable data directory: a JSON 507/500, never a plain-text 500
    ):
        app.add_exception_handler(cls, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
