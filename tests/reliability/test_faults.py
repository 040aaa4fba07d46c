"""Fault injection through the real app (real scheduler, voice store, danmaku service; a controllable fake
engine): an engine failure among queued requests, many clients vanishing at once, a full queue with
danmaku behind interactive traffic, the disk filling up during an upload."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import io
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf
from _server_helpers import SR, AsgiCall, FakeBackend, decode, make_config, serve_app, wait_until

from ishowtts.server.app import create_app
from ishowtts.voices import atomic

pytestmark = pytest.mark.anyio


def app_for(tmp_path: Path, backend: FakeBackend, **sections: dict[str, Any]) -> Any:
    return create_app(make_config(tmp_path / "data", **sections), backend)


def metric_value(text: str, needle: str) -> float:
    for line in text.splitlines():
        if line.startswith(needle + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def expected_audio(text: str) -> np.ndarray:
    return np.concatenate(FakeBackend.expected(text))


def tone_wav(seconds: float = 1.5, freq: float = 330.0) -> bytes:
    t = np.arange(int(seconds * SR)) / SR
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), SR, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def files_under(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------------------------- engine
async def test_engine_failure_among_queued_requests_fails_only_that_request(tmp_path, fake_backend):
    """Four requests wait behind a blocked engine; the second makes the engine raise. It alone fails
    (502 with the engine's message), the others get exactly their audio, and the server goes on."""
    fake_backend.block = True
    fake_backend.fail_on = "explode"
    app = app_for(tmp_path, fake_backend)
    scheduler = app.state.ishowtts.scheduler
    texts = ["First one. Second part", "Please explode now", "Third request. And more", "Fourth and last"]
    async with serve_app(app) as client:
        calls = [
            lambda: client.post("/api/tts", json={"text": texts[0]}),
            lambda: client.post("/v1/audio/speech", json={"input": texts[1], "response_format": "pcm"}),
            lambda: client.post("/api/tts", json={"text": texts[2]}),
            lambda: client.post("/v1/audio/speech", json={"input": texts[3], "response_format": "pcm"}),
        ]
        tasks = [asyncio.ensure_future(calls[0]())]
        await wait_until(lambda: fake_backend.started == 1, what="first running")
        for i, call in enumerate(calls[1:], 1):  # queued in this order
            tasks.append(asyncio.ensure_future(call()))
            await wait_until(lambda i=i: scheduler.stats()["queue_depth"] == i, what=f"{i} queued")
        fake_backend.gate.set()
        r0, r1, r2, r3 = await asyncio.wait_for(asyncio.gather(*tasks), 30)
        assert r1.status_code == 502, r1.text
        err = r1.json()["error"]
        assert err["code"] == "engine_error" and "fake engine failure" in err["message"]
        for r, text in ((r0, texts[0]), (r2, texts[2])):
            assert r.status_code == 200, r.text
            audio, sr = decode(base64.b64decode(r.json()["audio_base64"]), "wav")
            assert sr == SR and np.max(np.abs(audio - expected_audio(text))) <= 1 / 32768 + 1e-7
        assert r3.status_code == 200
        audio, _ = decode(r3.content, "pcm")
        assert np.max(np.abs(audio - expected_audio(texts[3]))) <= 1 / 32768 + 1e-7
        # the server is still up and serves the next request
        assert (await client.post("/api/tts", json={"text": "after the failure"})).status_code == 200
        metrics = (await client.get("/metrics")).text
    assert metric_value(metrics, 'ishowtts_engine_errors_total{kind="EngineFailure"}') == 1.0
    assert metric_value(metrics, 'ishowtts_synthesis_events_total{event="failed"}') == 1.0
    assert metric_value(metrics, 'ishowtts_synthesis_events_total{event="finished"}') == 4.0


class FakeBatchBackend(FakeBackend):
    """The fake engine with ``synthesize_batch`` (so the server's scheduler batches). ``mode``:
    'per_job' returns the failing job's exception in its slot; 'whole' raises for the whole batch (the
    scheduler then runs the batch's requests one by one)."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode
        self.batches: list[list[str]] = []

    def synthesize_batch(self, jobs):
        texts = [j[0] for j in jobs]
        self.batches.append(texts)
        if self.mode == "whole" and any(self.fail_on and self.fail_on in t for t in texts):
            raise RuntimeError("fake batch failure")
        out: list = []
        for text, voice, params, cancel in jobs:
            try:
                out.append(self.synthesize(text, voice, params, cancel))
            except Exception as exc:
                out.append(exc)
        return out


@pytest.mark.parametrize("mode", ["per_job", "whole"])
async def test_engine_raising_mid_batch_fails_only_its_request(tmp_path, mode):
    """Four requests batched together; one makes the engine raise (for that slot, or for the whole batch):
    only that request fails (502), the other three get exactly their audio, the server goes on."""
    backend = FakeBatchBackend(mode)
    backend.fail_on = "explode"
    app = app_for(tmp_path, backend, engine={"max_batch": 4, "batch_window_ms": 300.0})
    scheduler = app.state.ishowtts.scheduler
    assert scheduler.can_batch and scheduler.max_batch == 4
    texts = ["Alpha one. Two", "Bravo explode", "Charlie three", "Delta four. Five"]
    async with serve_app(app) as client:
        rs = await asyncio.wait_for(
            asyncio.gather(*(client.post("/api/tts", json={"text": t}) for t in texts)), 30
        )
        for r, text in zip(rs, texts, strict=True):
            if "explode" in text:
                assert r.status_code == 502 and "fake engine failure" in r.json()["detail"], r.text
                continue
            assert r.status_code == 200, r.text
            audio, _ = decode(base64.b64decode(r.json()["audio_base64"]), "wav")
            assert np.max(np.abs(audio - expected_audio(text))) <= 1 / 32768 + 1e-7
        assert (await client.post("/api/tts", json={"text": "after the batch"})).status_code == 200
        metrics = (await client.get("/metrics")).text
    failing = [b for b in backend.batches if any("explode" in t for t in b)]
    assert failing and len(failing[0]) >= 2, backend.batches  # the failure really happened inside a batch
    assert metric_value(metrics, 'ishowtts_synthesis_events_total{event="failed"}') == 1.0
    assert metric_value(metrics, 'ishowtts_synthesis_events_total{event="finished"}') == 4.0


async def test_many_clients_vanish_at_once(tmp_path, fake_backend):
    """One running stream and five queued requests (streams and plain TTS) all disconnect together: every
    one is cancelled and counted, no slot stays taken, the engine stops, and the next request is served."""
    fake_backend.chunk_delay = 0.2
    long_text = ". ".join(f"Sentence number {i}" for i in range(40))
    app = app_for(tmp_path, fake_backend, queue={"max_size": 8})
    scheduler = app.state.ishowtts.scheduler
    async with serve_app(app) as client:
        calls = [AsgiCall(app, "POST", "/v1/audio/speech", {"input": long_text, "response_format": "pcm"})]
        calls[0].start()
        await wait_until(lambda: fake_backend.started == 1, what="first stream running")
        for i in range(5):
            if i % 2:
                calls.append(AsgiCall(app, "POST", "/api/tts", {"text": f"queued tts {i}"}))
            else:
                calls.append(
                    AsgiCall(
                        app, "POST", "/v1/audio/speech", {"input": f"queued {i}", "response_format": "wav"}
                    )
                )
            calls[-1].start()
        await wait_until(lambda: scheduler.stats()["queue_depth"] == 5, what="five queued")
        await asyncio.wait_for(calls[0].first_body.wait(), 10)
        # The queued clients go first, in the same instant, while the stream still holds the worker:
        # if the stream's client went first, the worker could start (and finish) a one-chunk queued
        # job in the microseconds before the event loop handles that job's own disconnect.
        for call in calls[1:]:
            call.disconnect.set()
        await wait_until(lambda: scheduler.stats()["queue_depth"] == 0, what="queued requests dropped")
        calls[0].disconnect.set()
        await asyncio.wait_for(asyncio.gather(*(c.task for c in calls)), 20)
        await wait_until(lambda: scheduler.stats()["running"] == 0, what="slot freed")
        await wait_until(lambda: fake_backend.cancelled == 1, what="engine saw the cancellation")
        stats = scheduler.stats()
        assert stats["queue_depth"] == 0 and stats["cancelled"] == 6, stats
        assert fake_backend.started == 1 and fake_backend.completed == 0  # queued ones never ran
        fake_backend.chunk_delay = 0.0
        assert (await client.post("/api/tts", json={"text": "still alive"})).status_code == 200
        metrics = (await client.get("/metrics")).text
    assert metric_value(metrics, 'ishowtts_synthesis_events_total{event="cancelled"}') == 6.0
    assert metric_value(metrics, "ishowtts_requests_running") == 0.0
    assert 'route="/api/tts",status="499"' in metrics


# ---------------------------------------------------------------------------------------------- queue
async def test_full_queue_429_and_interactive_ahead_of_danmaku(tmp_path, fake_backend):
    """Engine busy, queue of 2: a danmaku clip waits in the scheduler, an interactive request queued after
    it still runs first; the next interactive request gets 429 + Retry-After while danmaku messages are
    still accepted (their own queue) and every one of them is spoken once the engine frees up."""
    fake_backend.block = True
    app = app_for(
        tmp_path,
        fake_backend,
        queue={"max_size": 2},
        danmaku={  # spoken as sent (no normalization), so the messages compare verbatim
            "enabled": True,
            "cooldown_s": 0.0,
            "rate_limit": 0.0,
            "template": "{text}",
            "normalize": {"enabled": False},
        },
    )
    scheduler = app.state.ishowtts.scheduler
    service = app.state.ishowtts.extras["danmaku"]

    def chat(i: int) -> dict[str, Any]:
        return {"platform": "test", "channel": "chan", "username": f"user{i}", "text": f"chat message {i}"}

    async with serve_app(app) as client:
        first = asyncio.ensure_future(client.post("/api/tts", json={"text": "interactive first"}))
        await wait_until(lambda: fake_backend.started == 1, what="first running")
        for i in range(3):
            assert (await client.post("/api/danmaku/enqueue", json=chat(i))).status_code == 202
        await wait_until(lambda: scheduler.stats()["queue_depth"] == 1, what="a danmaku clip queued")
        second = asyncio.ensure_future(client.post("/api/tts", json={"text": "interactive second"}))
        await wait_until(lambda: scheduler.stats()["queue_depth"] == 2, what="queue full")
        r = await client.post("/api/tts", json={"text": "interactive third"})
        assert r.status_code == 429 and "queue is full" in r.json()["detail"], r.text
        assert r.headers["retry-after"].isdigit() and int(r.headers["retry-after"]) >= 1
        r = await client.post("/v1/audio/speech", json={"input": "openai third", "response_format": "wav"})
        assert r.status_code == 429 and r.json()["error"]["code"] == "queue_full"
        assert r.headers["retry-after"].isdigit()
        assert (await client.post("/api/danmaku/enqueue", json=chat(3))).status_code == 202
        fake_backend.gate.set()
        assert (await first).status_code == 200 and (await second).status_code == 200
        await wait_until(lambda: service.synthesized == 4, timeout=20, what="all danmaku spoken")
        status = (await client.get("/api/danmaku/status")).json()
    # the danmaku clip was queued before "interactive second", which still ran first
    assert fake_backend.texts[:3] == ["interactive first", "interactive second", "chat message 0"], (
        fake_backend.texts
    )
    danmaku_texts = [t for t in fake_backend.texts if t.startswith("chat message")]
    assert danmaku_texts == [f"chat message {i}" for i in range(4)]  # each exactly once, in order
    assert status["synthesis"]["failed"] == 0 and status["dropped_total"] == 0
    assert "interactive third" not in fake_backend.texts and "openai third" not in fake_backend.texts


# ---------------------------------------------------------------------------------------------- disk full
class _DiskFull:
    """Stands in for ``os`` inside ishowtts.voices.atomic: the ``fail_at``-th fsync of a regular file
    raises ENOSPC (as a full disk does on flush), everything else is the real ``os``."""

    def __init__(self, fail_at: int) -> None:
        self.fail_at = fail_at
        self.file_fsyncs = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def fsync(self, fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            self.file_fsyncs += 1
            if self.file_fsyncs == self.fail_at:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        os.fsync(fd)


@contextlib.asynccontextmanager
async def real_errors_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Like serve_app, but an unhandled exception becomes the 500 a real server sends (not re-raised)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as c:
            yield c


async def disk_full_upload(tmp_path: Path, backend: FakeBackend, monkeypatch: Any, fail_at: int, route: str):
    """Upload while the disk fills up; checks that nothing is half-written and the server goes on.
    Returns the failed response's (status, content type, body)."""
    app = app_for(tmp_path, backend)
    data = tmp_path / "data"
    async with real_errors_client(app) as client:
        # an existing override that must survive untouched
        r = await client.post(
            "/api/voices/default/reference",
            data={"text": "old words"},
            files={"audio": ("old.wav", tone_wav(1.2, 220.0), "audio/wav")},
        )
        assert r.status_code == 200, r.text
        before = files_under(data)
        full = _DiskFull(fail_at)
        monkeypatch.setattr(atomic, "os", full)
        try:
            if route == "override":
                r = await client.post(
                    "/api/voices/default/reference",
                    data={"text": "new words"},
                    files={"audio": ("new.wav", tone_wav(1.5, 440.0), "audio/wav")},
                )
            else:
                r = await client.post(
                    "/v1/audio/voices",
                    data={"name": "newvoice"},
                    files={"audio_sample": ("new.wav", tone_wav(1.5, 440.0), "audio/wav")},
                )
        finally:
            monkeypatch.setattr(atomic, "os", os)
        assert full.file_fsyncs == fail_at  # the fault really fired
        # nothing half-written: the data dir is byte for byte what it was
        assert files_under(data) == before
        info = (await client.get("/api/voices/default/reference")).json()
        assert info["active_reference_text"] == "old words" and info["override_audio_available"]
        assert "newvoice" not in {v["id"] for v in (await client.get("/api/voices")).json()}
        # and the server still works
        assert (await client.post("/api/tts", json={"text": "after disk full"})).status_code == 200
    # a restart sees the same old state
    again = create_app(make_config(data), backend)
    async with serve_app(again) as client:
        info = (await client.get("/api/voices/default/reference")).json()
        assert info["active_reference_text"] == "old words"
    return r.status_code, r.headers.get("content-type", ""), r.text


UPLOAD_CASES = pytest.mark.parametrize(
    ("route", "fail_at"),
    [("override", 1), ("override", 2), ("create", 1), ("create", 2)],
    ids=["override-audio", "override-index", "create-audio", "create-index"],
)


@UPLOAD_CASES
async def test_disk_full_during_upload_leaves_nothing_half_written(
    tmp_path, fake_backend, monkeypatch, route, fail_at
):
    status, _, body = await disk_full_upload(tmp_path, fake_backend, monkeypatch, fail_at, route)
    assert status >= 500, (status, body)


@UPLOAD_CASES
async def test_disk_full_during_upload_is_a_clear_error(tmp_path, fake_backend, monkeypatch, route, fail_at):
    status, ctype, body = await disk_full_upload(tmp_path, fake_backend, monkeypatch, fail_at, route)
    assert status == 507 and ctype.startswith("application/json") and "space" in body.lower(), (
        status,
        ctype,
        body[:200],
    )
