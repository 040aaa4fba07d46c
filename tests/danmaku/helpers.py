"""Test doubles shared by the danmaku tests: a synthesize function (a tone whose length follows the
text) that can refuse work like a full scheduler queue, a WAV encoder (soundfile), and for the live IRC
tests a raw second IRC client (``Sender``), client settings for a loopback server, ``until`` and the
whole-test deadline ``DEADLINE_S`` (``with anyio.fail_after(h.DEADLINE_S):`` in an anyio test)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import socket
import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import soundfile as sf
from fastapi import FastAPI

from ishowtts.danmaku.playback import parse_frame
from ishowtts.danmaku.routes import build_router
from ishowtts.danmaku.service import DanmakuService
from ishowtts.danmaku.settings import DanmakuSettings

DEADLINE_S = 60.0  # a live IRC test that is not done by then has hung: it fails instead of waiting forever


class QueueFull(Exception):
    """Same shape as the scheduler's QueueFull: carries retry_after."""

    def __init__(self, retry_after: float) -> None:
        super().__init__("queue full")
        self.retry_after = retry_after


class FakeSynth:
    def __init__(
        self, *, refuse: int = 0, delay_s: float = 0.0, fail_on: str | None = None, gated: bool = False
    ) -> None:
        self.calls: list[tuple[str, str | None]] = []
        self.gate = threading.Event()  # with gated=True every call waits until the test sets it
        if not gated:
            self.gate.set()
        self.refuse = refuse
        self.delay_s = delay_s
        self.fail_on = fail_on

    async def __call__(self, text: str, voice_id: str | None) -> tuple[np.ndarray, int]:
        if self.refuse > 0:
            self.refuse -= 1
            raise QueueFull(0.01)
        if self.fail_on and self.fail_on in text:
            raise RuntimeError("engine exploded")
        while not self.gate.is_set():
            await asyncio.sleep(0.005)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        self.calls.append((text, voice_id))
        n = 240 * max(1, len(text))
        t = np.arange(n, dtype=np.float32) / 24_000
        return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 24_000


def encode_wav(audio: np.ndarray, sr: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, audio, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def make_settings(**kw: object) -> DanmakuSettings:
    base: dict[str, object] = {"cooldown_s": 0.0, "dedupe_window_s": 0.0, "rate_limit": 0.0}
    base.update(kw)
    return DanmakuSettings.from_dict(base)


def receive_clip(ws: Any, controls: list[dict] | None = None) -> tuple[dict, bytes]:
    """The next clip from a TestClient WebSocket; control events (text frames) on the way are appended
    to ``controls``."""
    while True:
        message = ws.receive()
        if message.get("type") == "websocket.close":
            raise ConnectionError(f"websocket closed: {message}")
        if message.get("bytes") is not None:
            return parse_frame(message["bytes"])
        ev = json.loads(message["text"])
        if controls is not None:
            controls.append(ev)


def receive_control(ws: Any, kind: str) -> dict:
    """Skip frames until a control event of type ``kind`` arrives on a TestClient WebSocket."""
    while True:
        message = ws.receive()
        if message.get("type") == "websocket.close":
            raise ConnectionError(f"websocket closed: {message}")
        if message.get("text") is not None:
            ev = json.loads(message["text"])
            if ev.get("type") == kind:
                return ev


def controls_until_skip(client: Any, ws: Any) -> list[dict]:
    """Ask for a ``skip`` (a sentinel) and return the control events that came before it: an event that was
    never sent fails the test instead of hanging it in ``ws.receive()``."""
    assert client.post("/api/danmaku/control", json={"action": "skip"}).status_code == 200
    seen: list[dict] = []
    while True:
        message = ws.receive()
        if message.get("type") == "websocket.close":
            raise ConnectionError(f"websocket closed: {message}")
        if message.get("text") is not None:
            ev = json.loads(message["text"])
            if ev.get("type") == "skip":
                return seen
            seen.append(ev)


def make_app(service: DanmakuService, api_key: str | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await service.start()
        yield
        await service.stop()

    app = FastAPI(lifespan=lifespan)
    app.include_router(build_router(service, api_key=api_key))
    return app


# ---- live IRC tests -------------------------------------------------------------------------------


class Sender:
    """A second, raw IRC connection that joins a channel and speaks in it."""

    def __init__(self, port: int, nick: str = "sender") -> None:
        self.port, self.nick = port, nick
        self.reader: asyncio.StreamReader
        self.writer: asyncio.StreamWriter

    async def connect(self, channel: str) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(f"NICK {self.nick}\r\nUSER {self.nick} 8 * :s\r\nJOIN #{channel}\r\n".encode())
        await self.writer.drain()
        while True:
            line = (await asyncio.wait_for(self.reader.readline(), 10)).decode()
            if " 366 " in line:  # end of NAMES: joined
                return

    async def say(self, channel: str, text: str) -> None:
        self.writer.write(f"PRIVMSG #{channel} :{text}\r\n".encode())
        await self.writer.drain()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


def settings_for(port: int, **kw: object) -> DanmakuSettings:
    base: dict[str, object] = {
        "twitch_host": "127.0.0.1",
        "twitch_port": port,
        "reconnect_base_s": 0.05,
        "reconnect_max_s": 0.5,
    }
    base.update(kw)
    return DanmakuSettings.from_dict(base)


async def until(cond: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)




def wait_for(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``cond`` from synchronous test code (TestClient tests)."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def closed_port() -> int:
    """A loopback port nothing listens on (bound once, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
