"""One scheduler in front of the engine: a bounded priority queue feeding ONE worker thread.

* Priorities: :attr:`Priority.INTERACTIVE` above :attr:`Priority.DANMAKU`; first come first served within
  a class. A full queue raises :class:`QueueFull` immediately (the server answers 429 + Retry-After).
* The worker runs the (blocking) backend; results reach the event loop through
  ``loop.call_soon_threadsafe``, so the loop never blocks. Streaming requests get their chunks through an
  ``asyncio.Queue`` fed by the worker as it iterates ``backend.stream(...)``.
* Cancellation: a queued request that is cancelled (task cancelled, stream closed, timeout) is removed and
  never runs; a running one has its :class:`CancelToken` set and stops between chunks/steps.
* Timeouts: ``synthesize`` has a total deadline of ``timeout_s`` (queue wait included); a stream must
  deliver its first chunk within ``timeout_s`` of being queued and each later chunk within ``timeout_s``
  of the previous one. Either raises :class:`RequestTimeout` and cancels the work.
* Engine exceptions fail only their request (:class:`EngineFailure`); the worker carries on.
* Seeded requests are served from an LRU cache of finished audio when possible.

The worker loop is :meth:`Scheduler._worker_loop`; a batching variant overrides just that method (using
:meth:`_take_next` / :meth:`_take_more` and the delivery helpers).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import threading
import time
from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Any

import numpy as np

from ishowtts.engine.audio_cache import AudioCache, cache_key
from ishowtts.engine.backend import Backend, CancelToken, SynthesisCancelled, SynthesisParams
from ishowtts.voices.reference import VoiceReference
from ishowtts.logging_setup import kv

log = logging.getLogger(__name__)


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


class _State(Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"


class _Job:
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
        self.state = _State.QUEUED
        self.enqueued_at = time.perf_counter()
        self.started_at: float | None = None
        self.future: asyncio.Future[SynthesisResult] | None = None if streaming else loop.create_future()
        self.queue: asyncio.Queue[tuple[str, Any]] | None = asyncio.Queue() if streaming else None

    @property
    def streaming(self) -> bool:
        return self.queue is not None


class Scheduler:
    def __init__(
        self,
        backend: Backend,
        *,
        max_queue: int,
        timeout_s: float,
        cache_size: int,
        observer: SchedulerObserver | None = None,
    ) -> None:
        if max_queue < 1:
            raise ValueError("max_queue must be >= 1")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be > 0")
        self.backend = backend
        self.max_queue = max_queue
        self.timeout_s = timeout_s
        self.cache = AudioCache(cache_size)
        self.observer = observer or SchedulerObserver()
        self._cond = threading.Condition()
        self._heap: list[tuple[int, int, _Job]] = []
        self._running: list[_Job] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._accepting = False
        self._stopping = False
        self._avg_synth_s = 1.0
        self._counts = {"completed": 0, "cancelled": 0, "failed": 0, "timeouts": 0}

    # ------------------------------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        with self._cond:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping = False
            self._accepting = True
            self._thread = threading.Thread(target=self._worker_main, name="ishowtts-scheduler", daemon=True)
            self._thread.start()
        log.info("scheduler started", extra=kv(backend=self.backend.name, capacity=self.max_queue))

    async def stop(self, join_timeout: float = 30.0) -> None:
        with self._cond:
            self._accepting = False
            self._stopping = True
            pending = [entry[2] for entry in self._heap]
            self._heap.clear()
            for job in pending:
                job.state = _State.CANCELLED
            for job in self._running:
                job.cancel.cancel("scheduler stopping")
            self._cond.notify_all()
            thread = self._thread
        for job in pending:
            self._deliver_error(job, SchedulerClosed("scheduler stopped before the request ran"))
        if thread is not None:
            await asyncio.to_thread(thread.join, join_timeout)
            if thread.is_alive():
                log.warning("scheduler worker did not stop in time", extra=kv(timeout_s=join_timeout))
        self._thread = None
        log.info("scheduler stopped", extra=kv(dropped=len(pending)))

    # ------------------------------------------------------------------------------------------ public API
    async def synthesize(
        self,
        text: str,
        voice: VoiceReference,
        params: SynthesisParams,
        *,
        priority: Priority = Priority.INTERACTIVE,
    ) -> SynthesisResult:
        key = self._cache_key(voice, text, params)
        if key is not None:
            hit = self._cache_lookup(key)
            if hit is not None:
                audio, sr = hit
                return SynthesisResult(audio, sr, True, 0.0, 0.0, 0.0)
        job = self._submit(text, voice, params, priority, streaming=False, key=key)
        assert job.future is not None
        try:
            return await asyncio.wait_for(job.future, self.timeout_s)
        except asyncio.TimeoutError:
            self._timed_out(job)
            raise RequestTimeout(f"synthesis timed out after {self.timeout_s:g} s") from None
        except asyncio.CancelledError:
            self.cancel_job(job, "request cancelled")
            raise

    def stream(
        self,
        text: str,
        voice: VoiceReference,
        params: SynthesisParams,
        *,
        priority: Priority = Priority.INTERACTIVE,
    ) -> AsyncIterator[np.ndarray]:
        """Queue the request now (raising :class:`QueueFull` / :class:`SchedulerClosed` immediately) and
        return an async iterator of float32 chunks. ``aclose()``, task cancellation or dropping the iterator
        cancels the work and frees its slot. Must be called from the event loop thread."""
        key = self._cache_key(voice, text, params)
        if key is not None:
            hit = self._cache_lookup(key)
            if hit is not None:
                return _AudioStream(self, None, cached=hit[0])
        job = self._submit(text, voice, params, priority, streaming=True, key=key)
        return _AudioStream(self, job)

    def stats(self) -> dict[str, Any]:
        with self._cond:
            return {
                "queue_depth": len(self._heap),
                "running": len(self._running),
                "capacity": self.max_queue,
                **self._counts,
                "cache_hits": self.cache.hits,
                "cache_misses": self.cache.misses,
                "cache_entries": len(self.cache),
                "accepting": self._accepting,
            }

    def retry_after(self) -> float:
        with self._cond:
            return self._retry_after_locked()

    def cancel_job(self, job: _Job, reason: str = "cancelled") -> None:
        """Drop a queued job, or signal a running one to stop between chunks. Thread-safe, idempotent."""
        removed = False
        with self._cond:
            if job.state is _State.QUEUED:
                for i, entry in enumerate(self._heap):
                    if entry[2] is job:
                        self._heap.pop(i)
                        heapq.heapify(self._heap)
                        break
                job.state = _State.CANCELLED
                self._counts["cancelled"] += 1
                removed = True
            elif job.state is _State.RUNNING:
                job.cancel.cancel(reason)
        if removed:
            job.cancel.cancel(reason)
            log.info("request cancelled while queued", extra=kv(reason=reason, seq=job.seq))
            self._notify("on_cancelled")

    # ------------------------------------------------------------------------------------------ submission
    def _cache_key(self, voice: VoiceReference, text: str, params: SynthesisParams) -> Hashable | None:
        if params.seed is None or self.cache.max_entries == 0:
            return None
        return cache_key(voice, text, params)

    def _cache_lookup(self, key: Hashable) -> tuple[np.ndarray, int] | None:
        hit = self.cache.get(key)
        self._notify("on_cache", hit is not None)
        return hit

    def _submit(
        self,
        text: str,
        voice: VoiceReference,
        params: SynthesisParams,
        priority: Priority,
        *,
        streaming: bool,
        key: Hashable | None,
    ) -> _Job:
        loop = asyncio.get_running_loop()
        priority = Priority(priority)
        with self._cond:
            if not self._accepting:
                raise SchedulerClosed("scheduler is not running")
            if len(self._heap) >= self.max_queue:
                raise QueueFull(self._retry_after_locked())
            job = _Job(next(self._seq), priority, text, voice, params, loop, streaming, key)
            heapq.heappush(self._heap, (int(priority), job.seq, job))
            self._cond.notify()
        self._notify("on_queued")
        return job

    def _retry_after_locked(self) -> float:
        waiting = len(self._heap) + len(self._running)
        return float(min(60.0, max(1.0, round(waiting * self._avg_synth_s + 0.5))))

    def _timed_out(self, job: _Job) -> None:
        with self._cond:
            self._counts["timeouts"] += 1
        log.warning(
            "request timed out", extra=kv(seq=job.seq, timeout_s=self.timeout_s, state=job.state.value)
        )
        self.cancel_job(job, "timeout")

    # ------------------------------------------------------------------------------------------ worker side
    def _worker_main(self) -> None:
        try:
            self._worker_loop()
        except BaseException:  # pragma: no cover - the loop itself never raises
            log.exception("scheduler worker crashed")
            raise

    def _worker_loop(self) -> None:
        """Take one job at a time and run it until stopped. A batching variant replaces this method."""
        while True:
            job = self._take_next()
            if job is None:
                return
            try:
                self._run_job(job)
            finally:
                self._release(job)

    def _take_next(self, timeout: float | None = None) -> _Job | None:
        """Block until a job is queued (or ``timeout`` passes / the scheduler stops); mark it running."""
        with self._cond:
            deadline = None if timeout is None else time.monotonic() + timeout
            while not self._heap and not self._stopping:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            if self._stopping:
                return None
            return self._start_locked(heapq.heappop(self._heap)[2])

    def _take_more(self, max_jobs: int, accept: Any = None) -> list[_Job]:
        """Pop up to ``max_jobs`` more queued jobs (in priority order) that ``accept(job)`` allows."""
        taken: list[_Job] = []
        with self._cond:
            keep: list[tuple[int, int, _Job]] = []
            while self._heap and len(taken) < max_jobs:
                entry = heapq.heappop(self._heap)
                if accept is None or accept(entry[2]):
                    taken.append(self._start_locked(entry[2]))
                else:
                    keep.append(entry)
            for entry in keep:
                heapq.heappush(self._heap, entry)
        return taken

    def _start_locked(self, job: _Job) -> _Job:
        job.state = _State.RUNNING
        job.started_at = time.perf_counter()
        self._running.append(job)
        return job

    def _release(self, job: _Job) -> None:
        with self._cond:
            if job in self._running:
                self._running.remove(job)
            if job.state is _State.RUNNING:
                job.state = _State.DONE

    def _run_job(self, job: _Job) -> None:
        assert job.started_at is not None
        queue_s = job.started_at - job.enqueued_at
        self._notify("on_started")
        try:
            job.cancel.raise_if_cancelled()
            audio = self._stream_job(job) if job.streaming else self._synthesize_job(job)
            job.cancel.raise_if_cancelled()  # an engine that ignored the token: discard its result
        except SynthesisCancelled as exc:
            self._finish_cancelled(job, str(exc))
        except Exception as exc:
            self._finish_failed(job, exc)
        else:
            synth_s = time.perf_counter() - job.started_at
            self._finish_ok(job, audio, queue_s, synth_s)

    def _synthesize_job(self, job: _Job) -> np.ndarray:
        audio = self.backend.synthesize(job.text, job.voice, job.params, job.cancel)
        return np.ascontiguousarray(audio, dtype=np.float32)

    def _stream_job(self, job: _Job) -> np.ndarray:
        chunks: list[np.ndarray] = []
        gen = self.backend.stream(job.text, job.voice, job.params, job.cancel)
        try:
            for chunk in gen:
                job.cancel.raise_if_cancelled()
                chunk = np.ascontiguousarray(chunk, dtype=np.float32)
                if chunk.size == 0:
                    continue
                if not chunks:
                    self._notify("on_first_audio", time.perf_counter() - job.enqueued_at)
                chunks.append(chunk)
                self._deliver_chunk(job, chunk)
        finally:
            close = getattr(gen, "close", None)
            if close is not None:
                close()
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)

    def _finish_ok(self, job: _Job, audio: np.ndarray, queue_s: float, synth_s: float) -> None:
        sr = self.backend.sample_rate
        seconds = audio.shape[0] / sr if sr else 0.0
        result = SynthesisResult(
            audio, sr, False, queue_s, synth_s, synth_s / seconds if seconds > 0 else 0.0
        )
        if job.key is not None:
            self.cache.put(job.key, audio, sr)
        with self._cond:
            self._counts["completed"] += 1
            self._avg_synth_s = 0.8 * self._avg_synth_s + 0.2 * synth_s
        if job.streaming:
            self._post(job, job.queue.put_nowait, ("done", None))  # type: ignore[union-attr]
        else:
            self._post(job, _resolve, job.future, result, None)
        self._notify("on_finished", result)

    def _finish_cancelled(self, job: _Job, reason: str) -> None:
        with self._cond:
            self._counts["cancelled"] += 1
            job.state = _State.CANCELLED
        log.info("request cancelled while running", extra=kv(seq=job.seq, reason=reason or job.cancel.reason))
        if self._stopping:
            self._deliver_error(job, SchedulerClosed("scheduler stopped while the request ran"))
        else:
            self._deliver_error(job, asyncio.CancelledError(reason))
        self._notify("on_cancelled")

    def _finish_failed(self, job: _Job, exc: Exception) -> None:
        failure = EngineFailure(f"{type(exc).__name__}: {exc}")
        failure.__cause__ = exc
        with self._cond:
            self._counts["failed"] += 1
        log.error(
            "synthesis failed",
            exc_info=exc,
            extra=kv(seq=job.seq, voice=job.voice.id, error=type(exc).__name__),
        )
        self._deliver_error(job, failure)
        self._notify("on_failed", failure)

    # ------------------------------------------------------------------------------------------ delivery
    def _deliver_chunk(self, job: _Job, chunk: np.ndarray) -> None:
        self._post(job, job.queue.put_nowait, ("chunk", chunk))  # type: ignore[union-attr]

    def _deliver_error(self, job: _Job, exc: BaseException) -> None:
        if job.streaming:
            self._post(job, job.queue.put_nowait, ("error", exc))  # type: ignore[union-attr]
        else:
            self._post(job, _resolve, job.future, None, exc)

    @staticmethod
    def _post(job: _Job, fn: Any, *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            job.loop.call_soon_threadsafe(fn, *args)

    def _notify(self, hook: str, *args: Any) -> None:
        fn = getattr(self.observer, hook, None)
        if fn is None:
            return
        try:
            fn(*args)
        except Exception:
            log.exception("scheduler observer hook failed", extra=kv(hook=hook))


def _resolve(fut: asyncio.Future[Any] | None, result: Any, exc: BaseException | None) -> None:
    if fut is None or fut.done():
        return
    if exc is None:
        fut.set_result(result)
    elif isinstance(exc, asyncio.CancelledError):
        fut.cancel()
    else:
        fut.set_exception(exc)


class _AudioStream(AsyncIterator[np.ndarray]):
    """Async iterator over one streamed request's chunks; closing it cancels the request."""

    def __init__(self, scheduler: Scheduler, job: _Job | None, cached: np.ndarray | None = None) -> None:
        self._scheduler = scheduler
        self._job = job
        self._cached = cached
        self._closed = False
        self._got_first = False

    def __aiter__(self) -> _AudioStream:
        return self

    @property
    def whole(self) -> bool:
        """True for a cache hit: the first chunk is the whole clip, so its length is known up front."""
        return self._job is None

    async def __anext__(self) -> np.ndarray:
        if self._closed:
            raise StopAsyncIteration
        if self._job is None:  # cache hit: the whole clip as one chunk
            self._closed = True
            assert self._cached is not None
            return self._cached
        job = self._job
        assert job.queue is not None
        timeout = self._scheduler.timeout_s
        if not self._got_first:
            timeout = max(0.0, timeout - (time.perf_counter() - job.enqueued_at))
        try:
            kind, payload = await asyncio.wait_for(job.queue.get(), timeout)
        except asyncio.TimeoutError:
            self._closed = True
            self._scheduler._timed_out(job)
            raise RequestTimeout(f"no audio within {self._scheduler.timeout_s:g} s") from None
        except asyncio.CancelledError:
            self._close("consumer cancelled")
            raise
        if kind == "chunk":
            self._got_first = True
            return payload
        self._closed = True
        if kind == "done":
            raise StopAsyncIteration
        if isinstance(payload, asyncio.CancelledError):
            raise RequestTimeout("request cancelled") if job.cancel.reason == "timeout" else payload
        raise payload

    async def aclose(self) -> None:
        self._close("stream closed")

    def _close(self, reason: str) -> None:
        if not self._closed:
            self._closed = True
            if self._job is not None:
                self._scheduler.cancel_job(self._job, reason)

    def __del__(self) -> None:
        # Dropped without being closed (e.g. never iterated): free the slot. cancel_job is thread-safe.
        if not getattr(self, "_closed", True) and self._job is not None:
            with contextlib.suppress(Exception):
                self._scheduler.cancel_job(self._job, "stream dropped")
