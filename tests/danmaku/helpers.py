"""Test doubles shared by the danmaku tests: a synthesize function (a tone whose length follows the
text) that can refuse work like a full scheduler queue, and a WAV encoder (soundfile)."""

from __future__ import annotations

import asyncio
import io
import threading
from contextlib import asynccontextmanager

import numpy as np
import soundfile as sf
from fastapi import FastAPI

from ishowtts.danmaku.routes import build_router
from ishowtts.danmaku.service import DanmakuService
from ishowtts.danmaku.settings import DanmakuSettings


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


def make_app(service: DanmakuService, api_key: str | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await service.start()
        yield
        await service.stop()

    app = FastAPI(lifespan=lifespan)
    app.include_router(build_router(service, api_key=api_key))
    return app
