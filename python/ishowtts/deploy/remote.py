"""The ingress's stand-ins for the backend and the scheduler when synthesis runs on Ray Serve replicas.

:class:`RemoteScheduler` has the scheduler's face (``synthesize``, ``stream``, ``stats``, ``start``,
``stop``), so the routes are the same code with or without Ray. It sends the voice's id, never its audio:
every replica reads the one shared voice store. Replica errors come back as the scheduler's own exceptions
(a full queue is still 429 + Retry-After). A replica that dies is :class:`ReplicaLost` (503 +
Retry-After), after one retry on another replica when nothing had been delivered yet, so a client gets an
answer or a clean error, never a hang. Cancelling the caller cancels the replica's work.

:class:`ClusterView` keeps the registry's latest per-replica report (refreshed every second) for
``/api/health``, ``/metrics`` and :meth:`RemoteScheduler.stats`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from ray import exceptions as ray_errors
from ray.serve import exceptions as serve_errors

from ishowtts.engine.backend import SynthesisParams
from ishowtts.engine.jobs import (
    EngineFailure,
    Priority,
    QueueFull,
    RequestTimeout,
    SchedulerClosed,
    SchedulerObserver,
    SynthesisResult,
)
from ishowtts.logging_setup import kv
from ishowtts.voices.audio_io import InvalidAudio
from ishowtts.voices.reference import VoiceReference
from ishowtts.voices.store import VoiceNotFound

log = logging.getLogger(__name__)

REFRESH_S = 1.0
_OURS = (QueueFull, RequestTimeout, EngineFailure, SchedulerClosed, VoiceNotFound, InvalidAudio, ValueError)
_GONE = (
    ray_errors.RayActorError,  # ActorDiedError, ActorUnavailableError
    ray_errors.WorkerCrashedError,
    ray_errors.NodeDiedError,
    ray_errors.ObjectLostError,
    serve_errors.ReplicaUnavailableError,
    serve_errors.DeploymentUnavailableError,
)


class ReplicaLost(SchedulerClosed):
    """The synthesis replica serving the request went away (503 + Retry-After; Serve restarts it)."""


def translate(exc: BaseException) -> BaseException:
    """A replica's exception as the scheduler's own (what the server maps to HTTP answers)."""
    if isinstance(exc, ray_errors.RayTaskError):
        cause = getattr(exc, "cause", None)
        if isinstance(cause, _OURS):
            return cause
        if isinstance(cause, _GONE):  # a replica's own call to a replica that died
            return ReplicaLost(f"the synthesis replica went away ({type(cause).__name__}); retry")
        if isinstance(cause, BaseException):
            return EngineFailure(f"{type(cause).__name__}: {cause}")
        return EngineFailure(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    if isinstance(exc, serve_errors.BackPressureError):
        return QueueFull(1.0, "every synthesis replica's queue is full")
    if isinstance(exc, _GONE):
        return ReplicaLost(f"the synthesis replica went away ({type(exc).__name__}); retry")
    return exc


class ClusterView:
    """The registry's last snapshot (``{"replicas": [...], "cluster": {...}}``) and the chat deployment's
    metrics text (when it runs)."""

    def __init__(self, registry: Any, danmaku: Any = None) -> None:
        self._registry = registry
        self._danmaku = danmaku
        self.danmaku_metrics = ""
        self.snapshot: dict[str, Any] = {"replicas": [], "cluster": {"replicas": 0}}
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> dict[str, Any]:
        self.snapshot = await self._registry.snapshot.remote()
        if self._danmaku is not None:
            response = self._danmaku.metrics_text.remote()
            try:
                self.danmaku_metrics = await asyncio.wait_for(response, 2.0)
            except asyncio.TimeoutError:
                response.cancel()
            except Exception as exc:  # not deployed (serve run of the main app alone), or restarting
                log.debug("danmaku metrics unavailable", extra=kv(error=repr(exc)))
        return self.snapshot

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the registry restarting: keep the last view
                log.debug("registry snapshot failed", extra=kv(error=repr(exc)))
            await asyncio.sleep(REFRESH_S)


@dataclass
class RemoteBackend:
    """What the app reads of a backend; ``info()`` adds the replicas' reports."""

    name: str
    label: str
    sample_rate: int
    vocab_symbols: tuple[str, ...] | None
    base_info: dict[str, Any]
    view: ClusterView

    def info(self) -> dict[str, Any]:
        return {**self.base_info, **self.view.snapshot}

    def warmup(self, voices: list[VoiceReference]) -> None:
        """Each replica warms itself up before Serve routes to it."""


class RemoteScheduler:
    def __init__(
        self, handle: Any, view: ClusterView, *, timeout_s: float, observer: SchedulerObserver | None = None
    ) -> None:
        self._handle = handle
        self._stream_handle = handle.options(stream=True)
        self.view = view
        self.timeout_s = timeout_s
        self.observer = observer or SchedulerObserver()

    async def start(self) -> None:
        self.view.start()

    async def stop(self) -> None:
        await self.view.stop()

    def stats(self) -> dict[str, Any]:
        return {**self.view.snapshot.get("cluster", {}), "accepting": True}

    @staticmethod
    def request(text: str, voice_id: str, params: SynthesisParams, priority: Priority) -> dict[str, Any]:
        return {"text": text, "voice_id": voice_id, "params": params, "priority": int(priority)}

    async def synthesize(
        self, text: str, voice: VoiceReference, params: SynthesisParams, *, priority: Priority = Priority.INTERACTIVE
    ) -> SynthesisResult:
        return await self.synthesize_id(text, voice.id, params, priority=priority)

    async def synthesize_id(
        self, text: str, voice_id: str, params: SynthesisParams, *, priority: Priority = Priority.INTERACTIVE
    ) -> SynthesisResult:
        """The whole clip from one replica; a replica lost before it answered is retried once."""
        req = self.request(text, voice_id, params, priority)
        self.observer.on_queued()
        for attempt in (1, 2):
            response = self._handle.synthesize.remote(req)
            try:
                out = await asyncio.wait_for(response, self.timeout_s + 30.0)  # the replica times out first
            except asyncio.CancelledError:
                response.cancel()
                raise
            except asyncio.TimeoutError:
                response.cancel()
                raise RequestTimeout(f"no answer from a synthesis replica in {self.timeout_s + 30:g} s") from None
            except Exception as exc:
                err = translate(exc)
                if isinstance(err, ReplicaLost) and attempt == 1:
                    log.warning("synthesis replica lost; retrying once", extra=kv(error=repr(exc)))
                    continue
                if isinstance(err, EngineFailure):
                    self.observer.on_failed(err)
                raise err from None
            result = SynthesisResult(**out)
            self.observer.on_started()
            self.observer.on_finished(result)
            return result
        raise AssertionError("unreachable")

    def stream(
        self, text: str, voice: VoiceReference, params: SynthesisParams, *, priority: Priority = Priority.INTERACTIVE
    ) -> RemoteStream:
        self.observer.on_queued()
        return RemoteStream(self, self.request(text, voice.id, params, priority))

    def _open_stream(self, req: dict[str, Any]) -> Any:
        return self._stream_handle.stream.remote(req)


class RemoteStream(AsyncIterator[np.ndarray]):
    """A replica's chunks. The replica first sends ``({"replica", "whole"}, first chunk)``; errors before
    the first chunk (a full queue) surface on the first ``__anext__``, before the answer has started."""

    def __init__(self, scheduler: RemoteScheduler, req: dict[str, Any]) -> None:
        self._scheduler = scheduler
        self._req = req
        self._gen: Any = None
        self._closed = False
        self._first: np.ndarray | None = None
        self._t0 = time.perf_counter()
        self.replica: str | None = None
        self.whole = False

    def __aiter__(self) -> RemoteStream:
        return self

    async def _open(self) -> None:
        for attempt in (1, 2):
            gen = self._scheduler._open_stream(self._req)
            try:
                head = await gen.__anext__()
            except asyncio.CancelledError:
                gen.cancel()
                raise
            except Exception as exc:
                err = translate(exc)
                if isinstance(err, ReplicaLost) and attempt == 1:
                    log.warning("synthesis replica lost before the stream began; retrying once")
                    continue
                raise err from None
            meta, self._first = head
            self._gen, self.replica, self.whole = gen, meta["replica"], bool(meta["whole"])
            return

    async def __anext__(self) -> np.ndarray:
        if self._closed:
            raise StopAsyncIteration
        try:
            if self._gen is None:
                await self._open()
                chunk = self._first
                self._first = None
                if chunk is None:
                    raise StopAsyncIteration
            else:
                chunk = await self._gen.__anext__()
        except StopAsyncIteration:
            self._closed = True
            raise
        except asyncio.CancelledError:
            await self.aclose()
            raise
        except Exception as exc:
            self._closed = True
            raise translate(exc) from None
        if self._t0:
            self._scheduler.observer.on_first_audio(time.perf_counter() - self._t0)
            self._t0 = 0.0
        return chunk

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            if self._gen is not None:
                self._gen.cancel()


class ReplicaCollector:
    """``/metrics``: each replica's queue depth and running requests, and how many replicas report."""

    def __init__(self, view: ClusterView) -> None:
        self.view = view

    def collect(self) -> Iterator[Metric]:
        replicas = self.view.snapshot.get("replicas", [])
        depth = GaugeMetricFamily("ishowtts_replica_queue_depth", "Requests waiting, per replica", labels=["replica"])
        running = GaugeMetricFamily("ishowtts_replica_running", "Requests being synthesised, per replica", labels=["replica"])
        for r in replicas:
            depth.add_metric([str(r.get("replica"))], float(r.get("queue_depth", 0)))
            running.add_metric([str(r.get("replica"))], float(r.get("running", 0)))
        yield depth
        yield running
        yield GaugeMetricFamily("ishowtts_replicas", "Synthesis replicas reporting", value=float(len(replicas)))
        if self.view.danmaku_metrics:
            yield from text_string_to_metric_families(self.view.danmaku_metrics)
