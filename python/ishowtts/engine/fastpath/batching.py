"""Dynamic batching in front of a backend that can synthesise several requests at once.

:class:`BatchingScheduler` is the server :class:`~ishowtts.engine.scheduler.Scheduler` with another
worker loop: after taking a request it keeps gathering queued ones for ``batch_window_ms`` (or until
``max_batch``), taking only those that share its batch key (NFE, cfg, sway: they must run the same
steps), and hands them to ``backend.synthesize_batch`` as one call. The backend groups them by frame
bucket and runs masked batches; per-request seeds make each result independent of its batch mates.
Streaming requests, and every request when the backend cannot batch, run one at a time exactly as in
the base scheduler. A request that fails inside a batch fails alone; if the batched call itself raises,
every member is re-run on its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ishowtts.engine.backend import CancelToken, SynthesisCancelled, SynthesisParams

from ishowtts.voices.reference import VoiceReference
from ishowtts.engine.scheduler import Scheduler, _Job
from ishowtts.logging_setup import kv

__all__ = ["BatchBackend", "BatchingScheduler", "batch_key"]

log = logging.getLogger(__name__)

BatchJob = tuple[str, VoiceReference, SynthesisParams, CancelToken | None]


@runtime_checkable
class BatchBackend(Protocol):
    def synthesize_batch(self, jobs: Sequence[BatchJob]) -> list[np.ndarray | BaseException]:
        """One entry per job: its audio, or the exception that job alone raised."""
        ...


def batch_key(params: SynthesisParams) -> Hashable:
    """Requests may share a batch when they run the same sampler steps."""
    return (params.nfe, float(params.cfg_strength), float(params.sway_sampling_coef))


class BatchingScheduler(Scheduler):
    def __init__(
        self, backend: Any, *, batch_window_ms: float = 5.0, max_batch: int = 8, **kwargs: Any
    ) -> None:
        super().__init__(backend, **kwargs)
        if batch_window_ms < 0:
            raise ValueError(f"batch_window_ms must be >= 0, got {batch_window_ms}")
        if not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError(f"max_batch must be a positive int, got {max_batch!r}")
        self.batch_window_s = batch_window_ms / 1000.0
        self.max_batch = max_batch
        self.can_batch = isinstance(backend, BatchBackend) and max_batch > 1
        self.batch_sizes: list[int] = []  # sizes of the batches run (for stats/tests)

    def stats(self) -> dict[str, Any]:
        out = super().stats()
        out["batches"] = len(self.batch_sizes)
        out["batched_requests"] = sum(self.batch_sizes)
        return out

    def _worker_loop(self) -> None:
        while True:
            job = self._take_next()
            if job is None:
                return
            if job.streaming or not self.can_batch:
                try:
                    self._run_job(job)
                finally:
                    self._release(job)
                continue
            batch = self._gather(job)
            try:
                self._run_batch(batch)
            finally:
                for j in batch:
                    self._release(j)

    def _gather(self, first: _Job) -> list[_Job]:
        key = batch_key(first.params)
        batch = [first]

        def accept(job: _Job) -> bool:
            return not job.streaming and batch_key(job.params) == key

        deadline = time.monotonic() + self.batch_window_s
        while len(batch) < self.max_batch:
            batch += self._take_more(self.max_batch - len(batch), accept)
            remaining = deadline - time.monotonic()
            if len(batch) >= self.max_batch or remaining <= 0:
                break
            with self._cond:
                if self._stopping:
                    break
                self._cond.wait(remaining)
        return batch

    def _run_batch(self, batch: list[_Job]) -> None:
        live: list[_Job] = []
        for job in batch:
            if job.cancel.cancelled:
                self._notify("on_started")
                self._finish_cancelled(job, job.cancel.reason)
            else:
                live.append(job)
        if len(live) == 1:
            self._run_job(live[0])
            return
        if not live:
            return
        for _ in live:
            self._notify("on_started")
        self.batch_sizes.append(len(live))
        t0 = time.perf_counter()
        try:
            results = self.backend.synthesize_batch([(j.text, j.voice, j.params, j.cancel) for j in live])
            if len(results) != len(live):
                raise RuntimeError(f"backend returned {len(results)} results for {len(live)} requests")
        except Exception as exc:
            log.warning(
                "batched synthesis failed; running its requests one by one",
                extra=kv(size=len(live), error=type(exc).__name__),
            )
            for job in live:
                self._run_alone(job)
            return
        synth_s = time.perf_counter() - t0
        log.info("batch done", extra=kv(size=len(live), s=round(synth_s, 4)))
        for job, res in zip(live, results, strict=True):
            assert job.started_at is not None
            queue_s = job.started_at - job.enqueued_at
            if job.cancel.cancelled or isinstance(res, SynthesisCancelled):
                self._finish_cancelled(job, job.cancel.reason or str(res))
            elif isinstance(res, Exception):
                self._finish_failed(job, res)
            elif isinstance(res, BaseException):
                raise res
            else:
                self._finish_ok(job, np.ascontiguousarray(res, dtype=np.float32), queue_s, synth_s)

    def _run_alone(self, job: _Job) -> None:
        """A non-streaming job of a failed batch, run on its own (``on_started`` already reported)."""
        assert job.started_at is not None
        queue_s = job.started_at - job.enqueued_at
        try:
            job.cancel.raise_if_cancelled()
            audio = self._synthesize_job(job)
            job.cancel.raise_if_cancelled()
        except SynthesisCancelled as exc:
            self._finish_cancelled(job, str(exc))
        except Exception as exc:
            self._finish_failed(job, exc)
        else:
            self._finish_ok(job, audio, queue_s, time.perf_counter() - job.started_at)
