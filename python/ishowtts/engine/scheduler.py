"""One scheduler in front of the engine: a bounded priority queue (:mod:`ishowtts.engine.job_queue`)
feeding ONE worker thread.

* Priorities: :attr:`Priority.INTERACTIVE` above :attr:`Priority.DANMAKU`; first come first served within
  a class. A full queue raises :class:`QueueFull` immediately (the server answers 429 + Retry-After).
* The worker runs the (blocking) backend; results reach the event loop through
  ``loop.call_soon_threadsafe``, so the loop never blocks. Streaming requests get their chunks through an
  ``asyncio.Queue`` fed by the worker as it iterates ``backend.stream(...)``.
* Batching: when the backend has ``synthesize_batch`` (the F5 engine with its static renderer), the
  worker's :meth:`Scheduler._take_batch` hook gathers queued whole-clip requests with the same sampler
  steps for up to ``batch_window_ms`` (or ``max_batch``) and runs them as one call; per-request seeds
  make each result equal to the same request run alone. Streams run one at a time.
* Cancellation: a queued request that is cancelled (task cancelled, stream closed, timeout) is removed and
  never runs; a running one has its :class:`CancelToken` set and stops between chunks/steps.
* Timeouts: ``synthesize`` has a total deadline of ``timeout_s`` (queue wait included); a stream must
  deliver its first chunk within ``timeout_s`` of being queued and each later chunk within ``timeout_s``
  of the previous one. Either raises :class:`RequestTimeout` and cancels the work.
* Engine exceptions fail only their request (:class:`EngineFailure`); the worker carries on.
* Seeded requests are served from an LRU cache of finished audio when possible.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Hashable
from typing import Any

import numpy as np

from ishowtts import defaults
from ishowtts.engine.audio_cache import AudioCache, cache_key
from ishowtts.engine.audio_stream import AudioStream
from ishowtts.engine.backend import Backend, SynthesisCancelled, SynthesisParams
from ishowtts.engine.job_queue import JobQueue
from ishowtts.engine.jobs import (
    EngineFailure,
    Job,
    JobState,
    Priority,
    QueueFull,
    RequestTimeout,
    SchedulerClosed,
    SchedulerObserver,
    SynthesisResult,
)
from ishowtts.logging_setup import kv
from ishowtts.voices.reference import VoiceReference

__all__ = [
    "EngineFailure",
    "Priority",
    "QueueFull",
    "RequestTimeout",
    "Scheduler",
    "SchedulerClosed",
    "SchedulerObserver",
    "SynthesisResult",
    "batch_key",
]

log = logging.getLogger(__name__)


def batch_key(params: SynthesisParams, default_nfe: int | None = None) -> Hashable:
    """Requests may share a batch when they run the same sampler steps (``nfe_step=None`` runs the
    backend's ``default_nfe``, so it batches with an explicit request for that many steps)."""
    nfe = params.nfe_step if params.nfe_step is not None else default_nfe
    return (nfe, float(params.cfg_strength), float(params.sway_sampling_coef))


class Scheduler:
    def __init__(
        self,
        backend: Backend,
        *,
        max_queue: int,
        timeout_s: float,
        cache_size: int,
        observer: SchedulerObserver | None = None,
        max_batch: int = defaults.MAX_BATCH,
        batch_window_ms: float = defaults.BATCH_WINDOW_MS,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be > 0")
        if batch_window_ms < 0:
            raise ValueError(f"batch_window_ms must be >= 0, got {batch_window_ms}")
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError(f"max_batch must be a positive int, got {max_batch!r}")
        self._queue = JobQueue(max_queue)
        self._cond = self._queue.cond  # guards the counters below too
        self.backend = backend
        self.max_queue = max_queue
        self.timeout_s = timeout_s
        self.cache = AudioCache(cache_size)
        self.observer = observer or SchedulerObserver()
        self._thread: threading.Thread | None = None
        self._avg_synth_s = 1.0
        self._counts = {"completed": 0, "cancelled": 0, "failed": 0, "timeouts": 0}
        # batching: on when the backend can render several requests at once (its own max_batch caps ours)
        can = callable(getattr(backend, "synthesize_batch", None))
        self.max_batch = min(max_batch, int(getattr(backend, "max_batch", max_batch))) if can else 1
        self.can_batch = self.max_batch > 1
        self.batch_window_s = batch_window_ms / 1000.0
        self.batch_sizes: list[int] = []  # sizes of the batches run (for stats/tests)

    # ------------------------------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._queue.open()
        self._thread = threading.Thread(target=self._worker_main, name="ishowtts-scheduler", daemon=True)
        self._thread.start()
        log.info(
            "scheduler started",
            extra=kv(backend=self.backend.name, capacity=self.max_queue, max_batch=self.max_batch),
        )

    async def stop(self, join_timeout: float = 30.0) -> None:
        pending = self._queue.close()
        thread = self._thread
        for job in pending:
            job.deliver_error(SchedulerClosed("scheduler stopped before the request ran"))
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
                return AudioStream(self, None, cached=hit[0])
        job = self._submit(text, voice, params, priority, streaming=True, key=key)
        return AudioStream(self, job)

    def stats(self) -> dict[str, Any]:
        with self._cond:
            return {
                "queue_depth": len(self._queue),
                "running": len(self._queue.running),
                "capacity": self.max_queue,
                **self._counts,
                "cache_hits": self.cache.hits,
                "cache_misses": self.cache.misses,
                "cache_entries": len(self.cache),
                "accepting": self._queue.accepting,
                "batches": len(self.batch_sizes),
                "batched_requests": sum(self.batch_sizes),
            }

    def cancel_job(self, job: Job, reason: str = "cancelled") -> None:
        """Drop a queued job, or signal a running one to stop between chunks. Thread-safe, idempotent."""
        with self._cond:  # the queue's lock: a job cannot start between the two checks
            removed = self._queue.remove(job)
            if removed:
                self._counts["cancelled"] += 1
            elif job.state is JobState.RUNNING:
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
    ) -> Job:
        loop = asyncio.get_running_loop()
        priority = Priority(priority)
        job = self._queue.push(
            lambda seq: Job(seq, priority, text, voice, params, loop, streaming, key), self._avg_synth_s
        )
        self._notify("on_queued")
        return job

    def _timed_out(self, job: Job) -> None:
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
        """Take a job (and, when batching, the queued jobs :meth:`_take_batch` adds) and run it."""
        while True:
            job = self._queue.next()
            if job is None:
                return
            batch = self._take_batch(job)
            try:
                if len(batch) == 1:
                    self._run_job(job)
                else:
                    self._run_batch(batch)
            finally:
                for j in batch:
                    self._queue.release(j)

    def _take_batch(self, first: Job) -> list[Job]:
        """The batching hook: ``first`` plus the queued jobs that may share its render, gathered for up to
        ``batch_window_ms`` or until ``max_batch``. Only whole-clip requests with the same sampler steps
        (nfe_step, cfg_strength, sway_sampling_coef) batch; streams always run alone."""
        if not self.can_batch or first.streaming:
            return [first]
        default_nfe = getattr(self.backend, "default_nfe", None)
        key = batch_key(first.params, default_nfe)
        batch = [first]

        def accept(job: Job) -> bool:
            return not job.streaming and batch_key(job.params, default_nfe) == key

        deadline = time.monotonic() + self.batch_window_s
        while len(batch) < self.max_batch:
            batch += self._queue.more(self.max_batch - len(batch), accept)
            remaining = deadline - time.monotonic()
            if len(batch) >= self.max_batch or remaining <= 0 or not self._queue.wait(remaining):
                break
        return batch

    def _run_job(self, job: Job, *, notify: bool = True) -> None:
        assert job.started_at is not None
        queue_s = job.started_at - job.enqueued_at
        if notify:
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

    def _run_batch(self, batch: list[Job]) -> None:
        """Run several whole-clip jobs as one ``backend.synthesize_batch`` call. A job that fails inside
        the batch fails alone; if the call itself raises, every member is re-run on its own."""
        live: list[Job] = []
        for job in batch:
            self._notify("on_started")
            if job.cancel.cancelled:
                self._finish_cancelled(job, job.cancel.reason)
            else:
                live.append(job)
        if len(live) <= 1:
            for job in live:
                self._run_job(job, notify=False)
            return
        self.batch_sizes.append(len(live))
        t0 = time.perf_counter()
        try:
            results = self.backend.synthesize_batch([(j.text, j.voice, j.params, j.cancel) for j in live])  # type: ignore[attr-defined]
            if len(results) != len(live):
                raise RuntimeError(f"backend returned {len(results)} results for {len(live)} requests")
        except Exception as exc:
            log.warning(
                "batched synthesis failed; running its requests one by one",
                extra=kv(size=len(live), error=type(exc).__name__),
            )
            results = [None] * len(live)
        synth_s = time.perf_counter() - t0
        log.info("batch done", extra=kv(size=len(live), s=round(synth_s, 4)))
        for job, res in zip(live, results, strict=True):
            assert job.started_at is not None
            queue_s = job.started_at - job.enqueued_at
            if res is None:
                self._run_job(job, notify=False)
            elif job.cancel.cancelled or isinstance(res, SynthesisCancelled):
                self._finish_cancelled(job, job.cancel.reason or str(res))
            elif isinstance(res, Exception):
                self._finish_failed(job, res)
            elif isinstance(res, BaseException):
                raise res
            else:
                self._finish_ok(job, np.ascontiguousarray(res, dtype=np.float32), queue_s, synth_s)

    def _synthesize_job(self, job: Job) -> np.ndarray:
        audio = self.backend.synthesize(job.text, job.voice, job.params, job.cancel)
        return np.ascontiguousarray(audio, dtype=np.float32)

    def _stream_job(self, job: Job) -> np.ndarray:
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
                job.deliver_chunk(chunk)
        finally:
            close = getattr(gen, "close", None)
            if close is not None:
                close()
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)

    def _finish_ok(self, job: Job, audio: np.ndarray, queue_s: float, synth_s: float) -> None:
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
        job.deliver_result(result)
        self._notify("on_finished", result)

    def _finish_cancelled(self, job: Job, reason: str) -> None:
        with self._cond:
            self._counts["cancelled"] += 1
            job.state = JobState.CANCELLED
        log.info("request cancelled while running", extra=kv(seq=job.seq, reason=reason or job.cancel.reason))
        if self._queue.stopping:
            job.deliver_error(SchedulerClosed("scheduler stopped while the request ran"))
        else:
            job.deliver_error(asyncio.CancelledError(reason))
        self._notify("on_cancelled")

    def _finish_failed(self, job: Job, exc: Exception) -> None:
        failure = EngineFailure(f"{type(exc).__name__}: {exc}")
        failure.__cause__ = exc
        with self._cond:
            self._counts["failed"] += 1
        log.error(
            "synthesis failed",
            exc_info=exc,
            extra=kv(seq=job.seq, voice=job.voice.id, error=type(exc).__name__),
        )
        job.deliver_error(failure)
        self._notify("on_failed", failure)

    def _notify(self, hook: str, *args: Any) -> None:
        fn = getattr(self.observer, hook, None)
        if fn is None:
            return
        try:
            fn(*args)
        except Exception:
            log.exception("scheduler observer hook failed", extra=kv(hook=hook))
