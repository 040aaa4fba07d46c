"""``GET /api/health``, ``GET /ready``, ``GET /metrics``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from ishowtts.hardware import cpu_features
from ishowtts.server.schemas import HealthResponse
from ishowtts.server.state import StateDep

router = APIRouter()


@router.get("/api/health", response_model=HealthResponse)
async def health(state: StateDep) -> dict[str, Any]:
    info = state.engine_info()
    dtype = info.get("dtype")
    return {
        "status": "ok",
        "ready": state.ready.is_set(),
        "engine": state.backend.name,
        "engine_label": state.backend.label,
        "model": _opt_str(info.get("model")),
        "device": _opt_str(info.get("device")),
        "dtype": _opt_str(dtype),
        "compile": info.get("compile") if isinstance(info.get("compile"), bool) else None,
        "quantize": _opt_str(info.get("quantize")),
        "attention": _opt_str(info.get("attention")),
        "decided": {str(k): str(v) for k, v in info["decided"].items()} if isinstance(info.get("decided"), dict) else None,
        "cpu": cpu_features().as_dict(),
        "fallback": state.fallback_reason is not None,
        "fallback_reason": state.fallback_reason,
        "voices": len(state.store.list()),
        "default_voice": state.store.default_voice_id(),
        "version": state.version,
        "replicas": info.get("replicas") if isinstance(info.get("replicas"), list) else None,
        "cluster": info.get("cluster") if isinstance(info.get("cluster"), dict) else None,
    }


@router.get("/ready")
async def ready(state: StateDep) -> JSONResponse:
    if state.ready.is_set():
        return JSONResponse({"status": "ready"})
    body: dict[str, Any] = {"status": "warming_up"}
    if state.warmup_error:
        body = {"status": "warmup_failed", "error": state.warmup_error}
    return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})


@router.get("/metrics")
async def metrics(state: StateDep) -> Response:
    payload, content_type = state.metrics.render()
    return Response(payload, media_type=content_type)


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(v)
