"""Prometheus metrics (one registry per app, so several apps can live in one process, e.g. in tests).

* HTTP: requests by route template/method/status, request latency, time to first audio byte.
* Scheduler (as its ``SchedulerObserver``): queued/started/finished/cancelled/failed, RTF, queue wait,
  synthesis time, cache hits/misses, batch sizes; queue depth/running read from ``scheduler.stats()`` at
  scrape time; engine errors.
* GPU memory (allocated/reserved bytes) when torch is loaded and CUDA is available.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_TTFA_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0)
_RTF_BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        ProcessCollector(registry=r)
        self.requests = Counter(
            "ishowtts_http_requests_total", "HTTP requests", ["route", "method", "status"], registry=r
        )
        self.latency = Histogram(
            "ishowtts_http_request_duration_seconds",
            "HTTP request duration until the last byte",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.ttfa = Histogram(
            "ishowtts_time_to_first_audio_seconds",
            "Request start to the first audio bytes handed to the client",
            ["api", "mode"],
            buckets=_TTFA_BUCKETS,
            registry=r,
        )
        self.engine_ttfa = Histogram(
            "ishowtts_engine_time_to_first_audio_seconds",
            "Queueing to the first chunk out of the engine (streamed requests, queue wait included)",
            buckets=_TTFA_BUCKETS,
            registry=r,
        )
        self.normalized_chars = Counter(
            "ishowtts_normalize_characters_total",
            "Characters the model cannot read, found while normalizing request text: mapped to readable "
            "ones or dropped",
            ["action"],
            registry=r,
        )
        self.synth_events = Counter(
            "ishowtts_synthesis_events_total",
            "Scheduler events (queued, started, finished, cancelled, failed)",
            ["event"],
            registry=r,
        )
        self.rtf = Histogram(
            "ishowtts_synthesis_rtf",
            "Real-time factor (synthesis time / audio duration)",
            buckets=_RTF_BUCKETS,
            registry=r,
        )
        self.queue_wait = Histogram(
            "ishowtts_queue_wait_seconds",
            "Time spent queued before synthesis",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.synth_time = Histogram(
            "ishowtts_synthesis_seconds", "Engine time per request", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.cache = Counter(
            "ishowtts_cache_lookups_total", "Finished-audio cache lookups", ["result"], registry=r
        )
        self.batch_size = Histogram(
            "ishowtts_batch_size",
            "Requests per engine batch",
            buckets=(1, 2, 3, 4, 6, 8, 12, 16, 32),
            registry=r,
        )
        self.engine_errors = Counter(
            "ishowtts_engine_errors_total", "Engine failures (synthesis raised)", ["kind"], registry=r
        )
        self.queue_depth = Gauge("ishowtts_queue_depth", "Requests waiting in the queue", registry=r)
        self.running = Gauge("ishowtts_requests_running", "Requests being synthesised", registry=r)
        self.gpu_allocated = Gauge(
            "ishowtts_gpu_memory_allocated_bytes",
            "CUDA memory allocated by torch (0 without CUDA)",
            registry=r,
        )
        self.gpu_reserved = Gauge(
            "ishowtts_gpu_memory_reserved_bytes", "CUDA memory reserved by torch (0 without CUDA)", registry=r
        )
        self._stats: Callable[[], dict[str, Any]] | None = None
        self.queue_depth.set_function(lambda: float(self._stat("queue_depth")))
        self.running.set_function(lambda: float(self._stat("running")))
        self.gpu_allocated.set_function(lambda: _gpu_bytes("memory_allocated"))
        self.gpu_reserved.set_function(lambda: _gpu_bytes("memory_reserved"))

    def bind_scheduler_stats(self, stats: Callable[[], dict[str, Any]]) -> None:
        self._stats = stats

    def _stat(self, key: str) -> float:
        if self._stats is None:
            return 0.0
        try:
            return float(self._stats().get(key, 0))
        except Exception:  # a scrape must never fail because of the scheduler
            return 0.0

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    # ------------------------------------------------------------------------------ SchedulerObserver
    def on_queued(self, *_: Any, **__: Any) -> None:
        self.synth_events.labels("queued").inc()

    def on_started(self, *_: Any, **__: Any) -> None:
        self.synth_events.labels("started").inc()

    def on_first_audio(self, seconds: float = 0.0, *_: Any, **__: Any) -> None:
        if isinstance(seconds, (int, float)) and seconds >= 0:
            self.engine_ttfa.observe(float(seconds))

    def on_finished(self, result: Any = None, *_: Any, **__: Any) -> None:
        self.synth_events.labels("finished").inc()
        if result is None:
            return
        rtf = getattr(result, "rtf", None)
        if isinstance(rtf, (int, float)) and rtf >= 0 and not getattr(result, "cached", False):
            self.rtf.observe(float(rtf))
        queue_s = getattr(result, "queue_s", None)
        if isinstance(queue_s, (int, float)) and queue_s >= 0:
            self.queue_wait.observe(float(queue_s))
        synth_s = getattr(result, "synth_s", None)
        if isinstance(synth_s, (int, float)) and synth_s >= 0 and not getattr(result, "cached", False):
            self.synth_time.observe(float(synth_s))

    def on_cancelled(self, *_: Any, **__: Any) -> None:
        self.synth_events.labels("cancelled").inc()

    def on_failed(self, exc: BaseException | None = None, *_: Any, **__: Any) -> None:
        self.synth_events.labels("failed").inc()
        kind = type(exc).__name__ if exc is not None else "unknown"
        if kind not in ("RequestTimeout", "SynthesisCancelled", "CancelledError"):
            self.engine_errors.labels(kind).inc()

    def on_cache(self, hit: bool = False, *_: Any, **__: Any) -> None:
        self.cache.labels("hit" if hit else "miss").inc()

    def on_batch(self, size: int = 1, *_: Any, **__: Any) -> None:
        self.batch_size.observe(size)


def _gpu_bytes(fn: str) -> float:
    torch = sys.modules.get("torch")  # never import torch just for a scrape
    if torch is None:
        return 0.0
    try:
        if not torch.cuda.is_available() or not torch.cuda.is_initialized():
            return 0.0
        return float(sum(getattr(torch.cuda, fn)(i) for i in range(torch.cuda.device_count())))
    except Exception:
        return 0.0


def route_label(scope: Scope) -> str:
    route = scope.get("route")
    if isinstance(route, Mount):
        return "static"
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    return "unmatched"


class RequestMetricsMiddleware:
    """Counts requests by route template (never the raw path: bounded label cardinality)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = route_label(scope)
            method = scope.get("method", "GET")
            self.metrics.requests.labels(route, method, str(status["code"])).inc()
            self.metrics.latency.labels(route, method).observe(time.perf_counter() - start)
