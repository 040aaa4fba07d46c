"""The FastAPI application: ``create_app(config, backend=None, *, fallback_reason=None, warmup=False)``.

``synthesis`` replaces the in-process backend and scheduler (``serve --ray`` passes one that sends the work
to synthesis replicas); ``danmaku=False`` leaves the chat read-aloud out (``serve --ray`` runs it as its own
single-replica deployment).

Built once per process by ``python -m ishowtts serve`` (tests build as many as they like: every app has its
own metrics registry and scheduler). The lifespan starts the scheduler (and the danmaku service when that
package is present), runs the warm-up in the background when asked (``/ready`` is 503 until it is done),
and stops everything on shutdown.

Middleware, outermost first: CORS -> request metrics -> body size limit -> API key -> routes. The API key
middleware wraps everything, so a route added later cannot escape it. Every route also gets the media-type
check (415, ``content_type.py``), and ``/openapi.json`` declares the real responses
(``openapi_responses.py``). ``/docs`` (Swagger UI) loads its scripts from this server (fastapi-offline),
never from a CDN; there is no ``/redoc`` (ReDoc fetches its logo from a CDN). The web page is the
router's fallback, not a mount at ``/``, so a wrong method on an API route is still a 405 with ``Allow``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Receive, Scope, Send

from ishowtts import __version__
from ishowtts.config import Config
from ishowtts.engine.backend import Backend, SynthesisParams
from ishowtts.engine.factory import Built, build
from ishowtts.engine.scheduler import Priority, SchedulerObserver
from ishowtts.logging_setup import kv
from ishowtts.openmp import wait_policy
from ishowtts.server import routes_ishowtts, routes_openai, routes_system, routes_voices
from ishowtts.server.content_type import require_media_type
from ishowtts.server.encoding import encode_wav
from ishowtts.server.errors import install_error_handlers
from ishowtts.server.limits import BodySizeLimitMiddleware
from ishowtts.server.metrics import Metrics, RequestMetricsMiddleware
from ishowtts.server.openapi_responses import install_response_schema
from ishowtts.server.security import ApiKeyMiddleware, add_cors
from ishowtts.server.spoken import options_from_config
from ishowtts.server.state import AppState
from ishowtts.voices.store import VoiceStore

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"


def create_app(
    config: Config,
    backend: Backend | None = None,
    *,
    fallback_reason: str | None = None,
    warmup: bool = False,
    web_dir: Path | None = WEB_DIR,
    synthesis: Callable[[SchedulerObserver], Built] | None = None,
    danmaku: bool = True,
) -> FastAPI:
    metrics = Metrics()
    if synthesis is not None:
        backend, scheduler, reason = synthesis(metrics)
    else:
        backend, scheduler, reason = build(config, backend=backend, observer=metrics)
    fallback_reason = reason or fallback_reason
    store = VoiceStore(
        config.server.data_dir,
        config.voices,
        backend.name,
        backend.label,
        default_voice=config.default_voice,
        max_upload_bytes=config.server.max_upload_bytes,
    )
    metrics.bind_scheduler_stats(scheduler.stats)
    state = AppState(
        config=config,
        backend=backend,
        store=store,
        scheduler=scheduler,
        metrics=metrics,
        fallback_reason=fallback_reason,
        warmup=warmup,
        normalize=options_from_config(config),
        speakable_symbols=_speakable_symbols(backend),
    )

    app = FastAPIOffline(
        title="ishowtts",
        version=__version__,
        description="Voice-cloning TTS: iShowTTS API and an OpenAI-compatible speech API.",
        lifespan=_lifespan,
        dependencies=[Depends(require_media_type)],
        redoc_url=None,
    )
    app.state.ishowtts = state
    install_error_handlers(app)
    install_response_schema(app, api_key=bool(config.server.api_key))
    for module in (routes_system, routes_ishowtts, routes_voices, routes_openai):
        app.include_router(module.router)
    if danmaku:
        _include_danmaku(app, state)
    static = web_dir if web_dir is not None and (web_dir / "index.html").is_file() else None
    if static is not None:
        app.router.default = _web_fallback(StaticFiles(directory=static, html=True), app.router.default)

    # add_middleware: the last one added is the outermost
    if config.server.api_key:
        app.add_middleware(ApiKeyMiddleware, api_key=config.server.api_key, static_dir=static)
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=config.server.max_body_bytes)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    add_cors(app, config.server.cors_origins)
    return app


def _speakable_symbols(backend: Any) -> frozenset[str] | None:
    """The backend model's single-character vocab symbols (F5), which the normalizer lets pass."""
    symbols = getattr(backend, "vocab_symbols", None)
    return frozenset(symbols) if symbols else None


def _web_fallback(static: ASGIApp, not_found: ASGIApp) -> ASGIApp:
    """The web page for HTTP requests no route matched (a mount at ``/`` would match every path first and
    turn a GET on a POST-only route into a 404); everything else (WebSockets) gets the router's default."""

    async def fallback(scope: Scope, receive: Receive, send: Send) -> None:
        await (static if scope["type"] == "http" else not_found)(scope, receive, send)

    return fallback


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: AppState = app.state.ishowtts
    state.extras["started_at"] = time.time()
    await state.scheduler.start()
    danmaku = state.extras.get("danmaku")
    if danmaku is not None:
        await danmaku.start()
    warm_task: asyncio.Task[None] | None = None
    if state.warmup:
        warm_task = asyncio.create_task(_warm_up(state))
    else:
        state.ready.set()
    log.info(
        "server started",
        extra=kv(
            engine=state.backend.name,
            label=state.backend.label,
            voices=len(state.store.list()),
            fallback=state.fallback_reason is not None,
            api_key=bool(state.config.server.api_key),
            omp_wait_policy=wait_policy(),
        ),
    )
    try:
        yield
    finally:
        if warm_task is not None and not warm_task.done():
            warm_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await warm_task
        if danmaku is not None:
            with contextlib.suppress(Exception):
                await danmaku.stop()
        await state.scheduler.stop()
        log.info("server stopped")


async def _warm_up(state: AppState) -> None:
    t0 = time.perf_counter()
    try:
        voices = [v.id for v in state.store.list() if v.preload]
        refs = [await asyncio.to_thread(state.store.get, vid) for vid in voices]
        await asyncio.to_thread(state.backend.warmup, refs)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        state.warmup_error = f"{type(exc).__name__}: {exc}"
        log.error("warm-up failed; /ready stays 503", exc_info=exc, extra=kv(error=state.warmup_error))
        return
    state.ready.set()
    log.info("warm-up done", extra=kv(voices=len(refs), seconds=round(time.perf_counter() - t0, 3)))


def _include_danmaku(app: FastAPI, state: AppState) -> None:
    """Mount the danmaku pipeline: its service (started/stopped by the lifespan), routes and metrics."""
    from ishowtts.danmaku.metrics import DanmakuCollector
    from ishowtts.danmaku.routes import build_router
    from ishowtts.danmaku.service import DanmakuService
    from ishowtts.danmaku.settings import DanmakuSettings

    settings = DanmakuSettings.from_dict(state.config.danmaku.raw)
    nfe = getattr(settings, "nfe", None)

    async def synthesize(text: str, voice_id: str | None) -> tuple[np.ndarray, int]:
        _, ref = await state.voice(voice_id)
        result = await state.scheduler.synthesize(
            text, ref, SynthesisParams(nfe_step=nfe), priority=Priority.DANMAKU
        )
        return result.audio, result.sample_rate

    service: Any = DanmakuService(
        settings,
        synthesize,
        encode_wav,
        voice_exists=lambda vid: vid in state.store,
        state_path=state.config.server.data_dir / "danmaku_state.json",  # sticky voices, bans, page settings
    )
    state.extras["danmaku"] = service
    state.metrics.registry.register(DanmakuCollector(service))
    app.include_router(build_router(service, api_key=state.config.server.api_key))
