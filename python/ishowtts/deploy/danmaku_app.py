"""The chat read-aloud as its own ASGI app, for its single-replica Serve deployment: the same service,
router, API key and error answers as in the one-process server, with synthesis done by a callback (the
synthesis replicas) and voices read from the shared store."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import numpy as np
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, generate_latest

from ishowtts.config import Config
from ishowtts.danmaku.metrics import DanmakuCollector
from ishowtts.danmaku.routes import build_router
from ishowtts.danmaku.service import DanmakuService
from ishowtts.danmaku.settings import DanmakuSettings
from ishowtts.server.encoding import encode_wav
from ishowtts.server.errors import install_error_handlers
from ishowtts.server.limits import BodySizeLimitMiddleware
from ishowtts.server.security import ApiKeyMiddleware
from ishowtts.voices.store import VoiceStore

Synthesize = Callable[[str, str, int | None], Awaitable[tuple[np.ndarray, int]]]


def create_danmaku_app(config: Config, synthesize: Synthesize, store: VoiceStore) -> tuple[FastAPI, DanmakuService]:
    """``synthesize(text, voice_id, nfe) -> (audio, sample_rate)``; ``store`` answers which voices exist."""
    settings = DanmakuSettings.from_dict(config.danmaku.raw)
    nfe = getattr(settings, "nfe", None)

    async def speak(text: str, voice_id: str | None) -> tuple[np.ndarray, int]:
        return await synthesize(text, voice_id or store.default_voice_id(), nfe)

    service = DanmakuService(
        settings,
        speak,
        encode_wav,
        voice_exists=lambda vid: vid in store,
        state_path=config.server.data_dir / "danmaku_state.json",
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                await service.stop()

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)
    install_error_handlers(app)
    app.include_router(build_router(service, api_key=config.server.api_key))
    if config.server.api_key:
        app.add_middleware(ApiKeyMiddleware, api_key=config.server.api_key, static_dir=None)
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=config.server.max_body_bytes)
    return app, service


def metrics_text(service: DanmakuService) -> str:
    """The chat's Prometheus metrics, for the ingress's ``/metrics``."""
    registry = CollectorRegistry()
    registry.register(DanmakuCollector(service))
    return generate_latest(registry).decode()
