"""The async iterator a streamed request's consumer reads: chunks as the worker delivers them, a
timeout between chunks, and cancellation of the work when it is closed or dropped."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import numpy as np

from ishowtts.engine.jobs import Job, RequestTimeout

if TYPE_CHECKING:
    from ishowtts.engine.scheduler import Scheduler

__all__ = ["AudioStream"]


class AudioStream(AsyncIterator[np.ndarray]):
    """Async iterator over one streamed request's chunks; closing it cancels the request."""

    def __init__(self, scheduler: Scheduler, job: Job | None, cached: np.ndarray | None = None) -> None:
        self._scheduler = scheduler
        self._job = job
        self._cached = cached
        self._closed = False
        self._got_first = False

    def __aiter__(self) -> AudioStream:
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
