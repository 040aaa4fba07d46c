"""What the scheduler hands out and takes in: priorities, one queued job, results, errors and the
observer hooks for metrics."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Hashable
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Any

import numpy as np

from ishowtts.engine.backend import CancelToken, SynthesisParams
from ishowtts.voices.reference import VoiceReference

__all__ = [
    "EngineFailure",
    "Job",
    "JobState",
    "Priority",
    "QueueFull",
    "RequestTimeout",
    "SchedulerClosed",
    "SchedulerObserver",
    "SynthesisResult",
]


class Priority(IntEnum):
    INTERACTIVE = 0
    DANMAKU = 1


class QueueFull(Exception):
    def __init__(self, retry_after: float, message: str | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message or f"synthesis queue is full; retry after {retry_after:.0f} s")


class RequestTimeout(Exception):
    """The request did not finish within the scheduler's timeout; its work was cancelled."""


class EngineFailure(Exception):
    """The engine raised while serving this request (message: the engine's exception text)."""


class SchedulerClosed(RuntimeError):
    """The scheduler is not running (not started yet, or stopped while the request was queued)."""


@dataclass
class SynthesisResult:
    audio: np.ndarray
    sample_rate: int
    cached: bool
    queue_s: float
    synth_s: float
    rtf: float  # synth_s / audio seconds
    replica: str | None = None  # the serving replica, when synthesis runs elsewhere (serve --ray)


class SchedulerObserver:
    """Hooks for metrics; every method is a no-op by default. ``on_queued``/``on_cache`` are called on the
    event loop, the others on the worker thread, so implementations must be thread-safe (prometheus-client
    is). Exceptions raised by hooks are logged and ignored."""

    def on_queued(self) -> None: ...

    def on_started(self) -> None: ...

    def on_first_audio(self, seconds: float) -> None:
        """Seconds from queueing to the first streamed chunk (optional hook)."""

    def on_finished(self, result: SynthesisResult) -> None: ...

    def on_cancelled(self) -> None: ...

    def on_failed(self, exc: BaseException) -> None: ...

    def on_cache(self, hit: bool) -> None: ...


class JobState(Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"


class Job:
    __slots__ = (
        "cancel",
        "enqueued_at",
        "future",
        "key",
        "loop",
        "params",
        "priority",
        "queue",
        "seq",
        "started_at",
        "state",
        "text",
        "voice",
    )

    def __init__(
        self,
        seq: int,
        priority: Priority,
        text: str,
        voice: VoiceReference,
        params: SynthesisParams,
        loop: asyncio.AbstractEventLoop,
        streaming: bool,
        key: Hashable | None,
    ) -> None:
        self.seq = seq
        self.priority = priority
        self.text = text
        self.voice = voice
        self.params = params
        self.loop = loop
        self.key = key
        self.cancel = CancelToken()
        self.state = JobState.QUEUED
        self.enqueued_at = time.perf_counter()
        self.started_at: float | None = None
        self.future: asyncio.Future[SynthesisResult] | None = None if streaming else loop.create_future()
        self.queue: asyncio.Queue[tuple[str, Any]] | None = asyncio.Queue() if streaming else None

    @property
    def streaming(self) -> bool:
        return self.queue is not None

    # delivery to the consumer on the event loop (called from the worker thread)
    def deliver_chunk(self, chunk: np.ndarray) -> None:
        self._post(self.queue.put_nowait, ("chunk", chunk))  # type: ignore[union-attr]

    def deliver_result(self, result: SynthesisResult) -> None:
        if self.streaming:
            self._post(self.queue.put_nowait, ("done", None))  # type: ignore[union-attr]
        else:
            self._post(resolve, self.future, result, None)

    def deliver_error(self, exc: BaseException) -> None:
        if self.streaming:
            self._post(self.queue.put_nowait, ("error", exc))  # type: ignore[union-attr]
        else:
            self._post(resolve, self.future, None, exc)

    def _post(self, fn: Any, *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            self.loop.call_soon_threadsafe(fn, *args)


def resolve(fut: asyncio.Future[Any] | None, result: Any, exc: BaseException | None) -> None:
    if fut is None or fut.done():
        return
    if exc is None:
        fut.set_result(result)
    elif isinstance(exc, asyncio.CancelledError):
        fut.cancel()
    else:
        fut.set_exception(exc)
