from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Callable
from typing import Any

import anyio
import numpy as np
import pytest

from ishowtts.engine.backend import SynthesisParams
from ishowtts.engine.scheduler import (
    EngineFailure,
    Priority,
    QueueFull,
    RequestTimeout,
    Scheduler,
    SchedulerClosed,
    SchedulerObserver,
    SynthesisResult,
)

P = SynthesisParams()
SEEDED = SynthesisParams(seed=7)


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.005)


def make(h, max_queue: int = 8, timeout_s: float = 10.0, cache_size: int = 16, **backend: Any):
    fake = h.FakeBackend(**backend)
    return fake, Scheduler(fake, max_queue=max_queue, timeout_s=timeout_s, cache_size=cache_size)


@pytest.mark.anyio
async def test_synthesize_and_stream_return_the_engine_audio(h) -> None:
    fake, sched = make(h, chunks=4)

    with anyio.fail_after(30):
        await sched.start()
        res = await sched.synthesize("hello world", h.voice(), P)
        assert isinstance(res, SynthesisResult) and not res.cached
        np.testing.assert_array_equal(res.audio, fake.expected("hello world"))
        assert res.sample_rate == h.SR and res.queue_s >= 0 and res.synth_s > 0 and res.rtf > 0
        chunks = [c async for c in sched.stream("streamed text", h.voice(), P)]
        assert len(chunks) == 4
        np.testing.assert_array_equal(np.concatenate(chunks), fake.expected("streamed text"))
        st = sched.stats()
        assert st["completed"] == 2 and st["queue_depth"] == 0 and st["running"] == 0 and st["capacity"] == 8
        await sched.stop()


@pytest.mark.anyio
async def test_priority_order_interactive_first_fifo_within_class(h) -> None:
    gate = threading.Event()
    fake, sched = make(h, gate=gate, chunks=1)

    with anyio.fail_after(30):
        await sched.start()
        blocker = asyncio.ensure_future(sched.synthesize("blocker", h.voice(), P))
        await asyncio.to_thread(fake.started.wait, 5)
        tasks = [
            asyncio.ensure_future(sched.synthesize(text, h.voice(), P, priority=prio))
            for text, prio in [
                ("d1", Priority.DANMAKU),
                ("i1", Priority.INTERACTIVE),
                ("d2", Priority.DANMAKU),
                ("i2", Priority.INTERACTIVE),
            ]
        ]
        await until(lambda: sched.stats()["queue_depth"] == 4)
        gate.set()
        await asyncio.gather(blocker, *tasks)
        assert fake.calls == ["blocker", "i1", "i2", "d1", "d2"]
        await sched.stop()


@pytest.mark.anyio
async def test_full_queue_raises_immediately_with_retry_after(h) -> None:
    gate = threading.Event()
    fake, sched = make(h, max_queue=2, gate=gate)

    with anyio.fail_after(30):
        await sched.start()
        running = asyncio.ensure_future(sched.synthesize("running", h.voice(), P))
        await asyncio.to_thread(fake.started.wait, 5)
        queued = [asyncio.ensure_future(sched.synthesize(f"q{i}", h.voice(), P)) for i in range(2)]
        await until(lambda: sched.stats()["queue_depth"] == 2)
        t0 = time.perf_counter()
        with pytest.raises(QueueFull) as err:
            await sched.synthesize("overflow", h.voice(), P)
        with pytest.raises(QueueFull):
            sched.stream("overflow", h.voice(), P)  # raised at call time, before iteration
        assert time.perf_counter() - t0 < 0.5
        assert err.value.retry_after >= 1.0
        gate.set()
        await asyncio.gather(running, *queued)
        assert "overflow" not in fake.calls
        await sched.stop()


@pytest.mark.anyio
async def test_cancel_while_queued_removes_the_request(h) -> None:
    gate = threading.Event()
    fake, sched = make(h, gate=gate)

    with anyio.fail_after(30):
        await sched.start()
        running = asyncio.ensure_future(sched.synthesize("running", h.voice(), P))
        await asyncio.to_thread(fake.started.wait, 5)
        victim = asyncio.ensure_future(sched.synthesize("victim", h.voice(), P))
        stream = sched.stream("stream victim", h.voice(), P)
        await until(lambda: sched.stats()["queue_depth"] == 2)
        victim.cancel()
        await stream.aclose()
        await until(lambda: sched.stats()["queue_depth"] == 0)
        assert sched.stats()["cancelled"] == 2
        gate.set()
        await running
        after = await sched.synthesize("after", h.voice(), P)
        assert after.audio.size > 0
        assert fake.calls == ["running", "after"]
        with pytest.raises(asyncio.CancelledError):
            await victim
        await sched.stop()


@pytest.mark.anyio
async def test_stream_aclose_cancels_running_work_between_chunks(h) -> None:
    fake, sched = make(h, chunks=50, delay=0.02)

    with anyio.fail_after(30):
        await sched.start()
        stream = sched.stream("a long text to stream", h.voice(), P)
        first = await stream.__anext__()
        assert first.size > 0
        await stream.aclose()
        await until(lambda: sched.stats()["cancelled"] == 1 and sched.stats()["running"] == 0)
        assert fake.chunks_made < 50
        with pytest.raises(StopAsyncIteration):
            await stream.__anext__()
        res = await sched.synthesize("next", h.voice(), P)  # the slot is free again
        np.testing.assert_array_equal(res.audio, fake.expected("next"))
        await sched.stop()


@pytest.mark.anyio
async def test_consumer_task_cancellation_cancels_stream(h) -> None:
    fake, sched = make(h, chunks=50, delay=0.02)

    with anyio.fail_after(30):
        await sched.start()
        got: list[np.ndarray] = []

        async def consume() -> None:
            async for chunk in sched.stream("consumer goes away", h.voice(), P):
                got.append(chunk)

        task = asyncio.ensure_future(consume())
        await until(lambda: len(got) >= 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await until(lambda: sched.stats()["cancelled"] == 1 and sched.stats()["running"] == 0)
        assert fake.chunks_made < 50
        await sched.stop()


@pytest.mark.anyio
async def test_dropped_stream_is_cancelled(h) -> None:
    gate = threading.Event()
    fake, sched = make(h, gate=gate)

    with anyio.fail_after(30):
        await sched.start()
        running = asyncio.ensure_future(sched.synthesize("running", h.voice(), P))
        await asyncio.to_thread(fake.started.wait, 5)
        stream = sched.stream("never iterated", h.voice(), P)
        assert sched.stats()["queue_depth"] == 1
        del stream
        gc.collect()
        assert sched.stats()["queue_depth"] == 0 and sched.stats()["cancelled"] == 1
        gate.set()
        await running
        assert fake.calls == ["running"]
        await sched.stop()


@pytest.mark.anyio
async def test_timeout_cancels_running_work(h) -> None:
    gate = threading.Event()  # never set: the engine would wait forever
    _fake, sched = make(h, timeout_s=0.2, gate=gate)

    with anyio.fail_after(30):
        await sched.start()
        t0 = time.perf_counter()
        with pytest.raises(RequestTimeout, match=r"timed out after 0\.2 s"):
            await sched.synthesize("stuck", h.voice(), P)
        assert time.perf_counter() - t0 < 1.0
        await until(lambda: sched.stats()["running"] == 0)  # the engine saw its cancel token
        st = sched.stats()
        assert st["timeouts"] == 1 and st["cancelled"] == 1 and st["completed"] == 0
        gate.set()
        assert (await sched.synthesize("fine", h.voice(), P)).audio.size > 0
        await sched.stop()


@pytest.mark.anyio
async def test_timeout_while_queued_never_runs(h) -> None:
    gate = threading.Event()
    fake, sched = make(h, timeout_s=0.3, gate=gate)

    with anyio.fail_after(30):
        await sched.start()
        first = asyncio.ensure_future(sched.synthesize("first", h.voice(), P))
        await asyncio.to_thread(fake.started.wait, 5)
        stream = sched.stream("queued stream", h.voice(), P)
        with pytest.raises(RequestTimeout):
            await stream.__anext__()
        with pytest.raises(RequestTimeout):
            await first
        gate.set()
        await until(lambda: sched.stats()["running"] == 0)
        assert fake.calls == ["first"]
        assert sched.stats()["timeouts"] == 2
        await sched.stop()


@pytest.mark.anyio
async def test_stream_timeout_is_per_chunk(h) -> None:
    fake, sched = make(h, timeout_s=0.25, chunks=6, delay=0.1)  # 0.6 s in total, 0.1 s per chunk

    with anyio.fail_after(30):
        await sched.start()
        chunks = [c async for c in sched.stream("slow but steady", h.voice(), P)]
        np.testing.assert_array_equal(np.concatenate(chunks), fake.expected("slow but steady"))
        await sched.stop()


@pytest.mark.anyio
async def test_engine_failure_fails_only_that_request(h) -> None:
    fake, sched = make(h)
    seen: list[BaseException] = []

    class Obs(SchedulerObserver):
        def on_failed(self, exc: BaseException) -> None:
            seen.append(exc)

    sched.observer = Obs()

    with anyio.fail_after(30):
        await sched.start()
        with pytest.raises(EngineFailure, match="RuntimeError: engine exploded on 'please FAIL'"):
            await sched.synthesize("please FAIL", h.voice(), P)
        with pytest.raises(EngineFailure, match="engine exploded"):
            async for _ in sched.stream("stream FAIL", h.voice(), P):
                pass
        ok = await sched.synthesize("still alive", h.voice(), P)
        np.testing.assert_array_equal(ok.audio, fake.expected("still alive"))
        st = sched.stats()
        assert st["failed"] == 2 and st["completed"] == 1
        assert len(seen) == 2 and isinstance(seen[0].__cause__, RuntimeError)
        await sched.stop()


@pytest.mark.anyio
async def test_cache_serves_seeded_repeats_only(h) -> None:
    fake, sched = make(h)

    with anyio.fail_after(30):
        await sched.start()
        v1 = h.voice(version="1")
        a = await sched.synthesize("chat repeats", v1, SEEDED)
        b = await sched.synthesize("chat repeats", v1, SEEDED)
        assert not a.cached and b.cached
        np.testing.assert_array_equal(a.audio, b.audio)
        b.audio[:] = 0  # callers get a private copy
        c = await sched.synthesize("chat repeats", v1, SEEDED)
        assert c.cached and c.audio.any()
        await sched.synthesize("chat repeats", v1, P)  # unseeded: never cached
        await sched.synthesize("chat repeats", v1, P)
        await sched.synthesize("chat repeats", v1, SynthesisParams(seed=7, speed=1.1))  # other params: miss
        await sched.synthesize("chat repeats", h.voice(version="2"), SEEDED)  # changed voice: miss
        assert len(fake.calls) == 5
        streamed = [x async for x in sched.stream("chat repeats", v1, SEEDED)]
        assert len(streamed) == 1 and len(fake.calls) == 5
        np.testing.assert_array_equal(streamed[0], a.audio)
        # a completed seeded stream fills the cache too
        _ = [x async for x in sched.stream("streamed once", v1, SEEDED)]
        assert (await sched.synthesize("streamed once", v1, SEEDED)).cached
        st = sched.stats()
        assert st["cache_hits"] == 4 and st["cache_misses"] == 4
        await sched.stop()


@pytest.mark.anyio
async def test_event_loop_never_blocks(h) -> None:
    _fake, sched = make(h, chunks=5, delay=0.06)

    with anyio.fail_after(30):
        await sched.start()
        ticks = 0
        max_gap = 0.0

        async def ticker() -> None:
            nonlocal ticks, max_gap
            last = time.perf_counter()
            while True:
                await asyncio.sleep(0.01)
                now = time.perf_counter()
                max_gap = max(max_gap, now - last)
                last = now
                ticks += 1

        t = asyncio.ensure_future(ticker())
        await sched.synthesize("blocking engine", h.voice(), P)
        t.cancel()
        assert ticks >= 10 and max_gap < 0.2
        await sched.stop()


@pytest.mark.anyio
async def test_engine_ignoring_cancel_has_its_result_discarded(h) -> None:
    class Stubborn(h.FakeBackend):
        def synthesize(self, text, voice, params, cancel=None):
            time.sleep(0.2)
            return self.expected(text)

    fake = Stubborn()
    sched = Scheduler(fake, max_queue=4, timeout_s=10, cache_size=4)

    with anyio.fail_after(30):
        await sched.start()
        task = asyncio.ensure_future(sched.synthesize("x", h.voice(), SEEDED))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await until(lambda: sched.stats()["running"] == 0)
        st = sched.stats()
        assert st["cancelled"] == 1 and st["completed"] == 0 and st["cache_entries"] == 0
        await sched.stop()


@pytest.mark.anyio
async def test_observer_hooks_and_broken_observer(h) -> None:
    events: list[str] = []

    class Obs(SchedulerObserver):
        def on_queued(self) -> None:
            events.append("queued")

        def on_started(self) -> None:
            events.append("started")

        def on_first_audio(self, seconds: float) -> None:
            events.append("first")

        def on_finished(self, result: SynthesisResult) -> None:
            events.append(f"finished:{result.audio.size}")

        def on_cache(self, hit: bool) -> None:
            events.append(f"cache:{hit}")
            raise RuntimeError("broken metrics must not break synthesis")

    fake = h.FakeBackend()
    sched = Scheduler(fake, max_queue=4, timeout_s=10, cache_size=4, observer=Obs())

    with anyio.fail_after(30):
        await sched.start()
        await sched.synthesize("ab", h.voice(), SEEDED)
        await sched.synthesize("ab", h.voice(), SEEDED)
        _ = [c async for c in sched.stream("cd", h.voice(), P)]
        await until(lambda: len(events) >= 9)
        await sched.stop()

    assert events == [
        "cache:False",
        "queued",
        "started",
        "finished:200",
        "cache:True",
        "queued",
        "started",
        "first",
        "finished:200",
    ]


@pytest.mark.anyio
async def test_stop_fails_queued_requests_and_refuses_new_ones(h) -> None:
    gate = threading.Event()
    fake, sched = make(h, gate=gate)

    with anyio.fail_after(30):
        with pytest.raises(SchedulerClosed):
            await sched.synthesize("not started", h.voice(), P)
        await sched.start()
        running = asyncio.ensure_future(sched.synthesize("running", h.voice(), P))
        await asyncio.to_thread(fake.started.wait, 5)
        queued = asyncio.ensure_future(sched.synthesize("queued", h.voice(), P))
        await until(lambda: sched.stats()["queue_depth"] == 1)
        await sched.stop()
        with pytest.raises(SchedulerClosed):
            await queued
        with pytest.raises(SchedulerClosed):
            await running
        with pytest.raises(SchedulerClosed):
            await sched.synthesize("after stop", h.voice(), P)
        assert fake.calls == ["running"]


def test_constructor_validates() -> None:
    with pytest.raises(ValueError):
        Scheduler(object(), max_queue=0, timeout_s=1, cache_size=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Scheduler(object(), max_queue=1, timeout_s=0, cache_size=0)  # type: ignore[arg-type]
