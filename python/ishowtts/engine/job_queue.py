"""The scheduler's queue: a bounded priority heap of :class:`Job` and the set of running jobs, under one
condition variable that the event loop (submitting, cancelling) and the worker thread (taking) share.

Priorities: :attr:`Priority.INTERACTIVE` above :attr:`Priority.DANMAKU`, first come first served within a
class. A full queue raises :class:`QueueFull` with a Retry-After estimate; a closed one raises
:class:`SchedulerClosed`. The queue decides nothing about running jobs: :mod:`ishowtts.engine.scheduler`
does.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable

from ishowtts.engine.jobs import Job, JobState, QueueFull, SchedulerClosed


class JobQueue:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("max_queue must be >= 1")
        self.capacity = capacity
        self.cond = threading.Condition()  # also guards the scheduler's counters
        self.running: list[Job] = []
        self.accepting = False
        self.stopping = False
        self._heap: list[tuple[int, int, Job]] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    # ------------------------------------------------------------------------------- the event loop's side
    def open(self) -> None:
        with self.cond:
            self.stopping = False
            self.accepting = True

    def close(self) -> list[Job]:
        """Stop accepting and taking; cancel every queued job (returned, for their callers to be told) and
        signal every running one to stop."""
        with self.cond:
            self.accepting = False
            self.stopping = True
            pending = [entry[2] for entry in self._heap]
            self._heap.clear()
            for job in pending:
                job.state = JobState.CANCELLED
            for job in self.running:
                job.cancel.cancel("scheduler stopping")
            self.cond.notify_all()
        return pending

    def push(self, make: Callable[[int], Job], avg_synth_s: float) -> Job:
        """Queue the job ``make(seq)`` builds, or raise :class:`SchedulerClosed` / :class:`QueueFull`
        (its Retry-After: the work ahead at ``avg_synth_s`` each, 1-60 s)."""
        with self.cond:
            if not self.accepting:
                raise SchedulerClosed("scheduler is not running")
            if len(self._heap) >= self.capacity:
                waiting = len(self._heap) + len(self.running)
                raise QueueFull(float(min(60.0, max(1.0, round(waiting * avg_synth_s + 0.5)))))
            job = make(next(self._seq))
            heapq.heappush(self._heap, (int(job.priority), job.seq, job))
            self.cond.notify()
        return job

    def remove(self, job: Job) -> bool:
        """Take ``job`` out if it is still queued (marked cancelled); True if it was. A running job is
        signalled to stop instead (``reason``) by the caller."""
        with self.cond:
            if job.state is not JobState.QUEUED:
                return False
            for i, entry in enumerate(self._heap):
                if entry[2] is job:
                    self._heap.pop(i)
                    heapq.heapify(self._heap)
                    break
            job.state = JobState.CANCELLED
            return True

    # ---------------------------------------------------------------------------------- the worker's side
    def next(self) -> Job | None:
        """Block until a job is queued and mark it running; None once the queue closes."""
        with self.cond:
            while not self._heap and not self.stopping:
                self.cond.wait()
            if self.stopping:
                return None
            return self._start_locked(heapq.heappop(self._heap)[2])

    def more(self, max_jobs: int, accept: Callable[[Job], bool] | None = None) -> list[Job]:
        """Up to ``max_jobs`` more queued jobs (in priority order) that ``accept(job)`` allows, running."""
        taken: list[Job] = []
        with self.cond:
            keep: list[tuple[int, int, Job]] = []
            while self._heap and len(taken) < max_jobs:
                entry = heapq.heappop(self._heap)
                if accept is None or accept(entry[2]):
                    taken.append(self._start_locked(entry[2]))
                else:
                    keep.append(entry)
            for entry in keep:
                heapq.heappush(self._heap, entry)
        return taken

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for a push; False once the queue is closing."""
        with self.cond:
            if self.stopping:
                return False
            self.cond.wait(timeout)
            return True

    def release(self, job: Job) -> None:
        with self.cond:
            if job in self.running:
                self.running.remove(job)
            if job.state is JobState.RUNNING:
                job.state = JobState.DONE

    def _start_locked(self, job: Job) -> Job:
        job.state = JobState.RUNNING
        job.started_at = time.perf_counter()
        self.running.append(job)
        return job
