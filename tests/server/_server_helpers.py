"""Helpers for the HTTP server tests (imported by tests/server/conftest.py and the test modules)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import struct
import threading
import time
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import soundfile as sf

from ishowtts.config import Config, load_config
from ishowtts.engine.backend import SAMPLE_RATE, CancelToken, SynthesisParams
from ishowtts.voices.reference import VoiceReference

SR = SAMPLE_RATE
API_KEY = "test-key-123"


# ---------------------------------------------------------------------------------------------- fake engine
class FakeBackend:
    """Deterministic engine: one chunk per sentence (split at '. '), chunk ``i`` is a 300 Hz tone of
    amplitude ``LEVELS[i % len]`` and ``SAMPLES_PER_CHAR * len(sentence)`` samples, so order, length and
    level are checkable (a tone rather than DC so that lossy codecs keep it).

    Controls: ``block`` (wait for ``gate`` before the first chunk, honouring cancellation), ``chunk_delay``
    seconds between chunks, ``fail_on`` (a substring that makes the engine raise), ``fail_after`` (raise
    after that many chunks)."""

    name = "fake"
    label = "Fake engine"
    sample_rate = SR
    SAMPLES_PER_CHAR = 240
    LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5)

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.block = False
        self.chunk_delay = 0.0
        self.fail_on: str | None = None
        self.fail_after: int | None = None  # raise after yielding this many chunks
        self.started = 0
        self.cancelled = 0
        self.completed = 0
        self.texts: list[str] = []
        self.warmed: list[str] = []
        self._lock = threading.Lock()

    def info(self) -> dict[str, Any]:
        return {"model": "fake-model", "device": "cpu", "dtype": "float32"}

    @staticmethod
    def sentences(text: str) -> list[str]:
        return [s for s in text.split(". ") if s.strip()]

    @classmethod
    def expected(cls, text: str) -> list[np.ndarray]:
        out = []
        for i, s in enumerate(cls.sentences(text)):
            t = np.arange(cls.SAMPLES_PER_CHAR * len(s)) / SR
            out.append((cls.LEVELS[i % len(cls.LEVELS)] * np.sin(2 * np.pi * 300 * t)).astype(np.float32))
        return out

    def _wait(self, cancel: CancelToken | None, seconds: float | None) -> None:
        deadline = None if seconds is None else time.monotonic() + seconds
        while True:
            if cancel is not None and cancel.cancelled:
                with self._lock:
                    self.cancelled += 1
                cancel.raise_if_cancelled()
            if deadline is None:
                if self.gate.wait(0.005):
                    return
            elif time.monotonic() >= deadline:
                return
            else:
                time.sleep(min(0.005, max(0.0, deadline - time.monotonic())))

    def stream(
        self, text: str, voice: VoiceReference, params: SynthesisParams, cancel: CancelToken | None = None
    ) -> Iterator[np.ndarray]:
        with self._lock:
            self.started += 1
            self.texts.append(text)
        if self.fail_on and self.fail_on in text:
            raise RuntimeError(f"fake engine failure on {self.fail_on!r}")
        if self.block:
            self._wait(cancel, None)
        for i, chunk in enumerate(self.expected(text)):
            if self.fail_after is not None and i >= self.fail_after:
                raise RuntimeError(f"fake engine failure after {i} chunks")
            if i and self.chunk_delay:
                self._wait(cancel, self.chunk_delay)
            if cancel is not None and cancel.cancelled:
                self._wait(cancel, 0)
            yield chunk
        with self._lock:
            self.completed += 1

    def synthesize(
        self, text: str, voice: VoiceReference, params: SynthesisParams, cancel: CancelToken | None = None
    ) -> np.ndarray:
        chunks = list(self.stream(text, voice, params, cancel))
        return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)

    def warmup(self, voices: list[VoiceReference]) -> None:
        self.warmed.extend(v.id for v in voices)


# ---------------------------------------------------------------------------------------------- config/app
def make_config(data_dir: Path, **sections: dict[str, Any]) -> Config:
    overrides: dict[str, Any] = {k: dict(v) for k, v in sections.items()}
    overrides.setdefault("server", {})["data_dir"] = str(data_dir)
    return load_config(None, env={}, overrides=overrides)


@contextlib.asynccontextmanager
async def serve_app(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and give an httpx client talking to it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", timeout=120
        ) as client:
            yield client


def f5_engine_section(paths: dict[str, str], nfe: int = 2) -> dict[str, Any]:
    return {"kind": "f5", "model": "tiny", "nfe": nfe, "device": "cpu", **paths}


# ---------------------------------------------------------------------------------------------- helpers
def decode(data: bytes, fmt: str) -> tuple[np.ndarray, int]:
    """Decode response bytes of any supported format with soundfile."""
    if fmt == "pcm":
        audio, sr = sf.read(
            io.BytesIO(data), format="RAW", subtype="PCM_16", samplerate=SR, channels=1, dtype="float32"
        )
    else:
        audio, sr = sf.read(io.BytesIO(data), dtype="float32")
    return np.asarray(audio, dtype=np.float32).reshape(-1), int(sr)


def parse_sse(body: bytes) -> list[dict[str, Any]]:
    events = []
    for block in body.decode().split("\n\n"):
        block = block.strip()
        if not block:
            continue
        assert block.startswith("data: "), block[:80]
        events.append(json.loads(block[len("data: ") :]))
    return events


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


STREAMED_SIZE = 0xFFFFFFFF  # the RIFF/data size of a streamed WAV header (length unknown)


def wav_sizes(data: bytes) -> tuple[int, int]:
    """The (RIFF size, data size) fields of a canonical 44-byte-header WAV (what sox reads the length from)."""
    assert data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt " and data[36:40] == b"data", data[:44]
    (riff,) = struct.unpack_from("<I", data, 4)
    (size,) = struct.unpack_from("<I", data, 40)
    return riff, size


def assert_exact_wav(data: bytes, samples: int | None = None) -> int:
    """A mono PCM16 WAV whose header sizes are the true ones, read back by Python's ``wave`` and by
    libsndfile; returns its sample count (checked against ``samples`` when given)."""
    riff, size = wav_sizes(data)
    assert riff == len(data) - 8 and size == len(data) - 44, (riff, size, len(data))
    with wave.open(io.BytesIO(data)) as w:
        params = (w.getnframes(), w.getframerate(), w.getnchannels(), w.getsampwidth())
    assert params == (size // 2, SR, 1, 2)
    assert sf.info(io.BytesIO(data)).frames == size // 2
    if samples is not None:
        assert size // 2 == samples
    return size // 2


class AsgiCall:
    """Drive the ASGI app directly so a test controls the client's disconnect (httpx's ASGI transport
    only reports a disconnect after the response completed)."""

    def __init__(
        self,
        app: Any,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.app = app
        payload = json.dumps(body).encode() if body is not None else b""
        extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *extra,
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        self.payload = payload
        self._sent_body = False
        self.disconnect = asyncio.Event()
        self.messages: list[dict[str, Any]] = []
        self.after_disconnect: list[dict[str, Any]] = []
        self.started = asyncio.Event()
        self.first_body = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def _receive(self) -> dict[str, Any]:
        if not self._sent_body:
            self._sent_body = True
            return {"type": "http.request", "body": self.payload, "more_body": False}
        await self.disconnect.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        # like uvicorn (ASGI spec 2.3): after a disconnect, sends are accepted and dropped
        if self.disconnect.is_set():
            self.after_disconnect.append(message)
            return
        self.messages.append(message)
        if message["type"] == "http.response.start":
            self.started.set()
        elif message["type"] == "http.response.body" and message.get("body"):
            self.first_body.set()

    def start(self) -> AsgiCall:
        self.task = asyncio.ensure_future(self.app(self.scope, self._receive, self._send))
        return self

    @property
    def status(self) -> int | None:
        for m in self.messages + self.after_disconnect:
            if m["type"] == "http.response.start":
                return int(m["status"])
        return None

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body")


def iter_http_routes(app: Any) -> Iterator[tuple[str, str]]:
    """(method, path) for every HTTP route, walking included routers in both FastAPI layouts (flattened
    routes, or 0.16x's included-router objects)."""

    def walk(routes: Any) -> Iterator[tuple[str, Any]]:
        for route in routes:
            contexts = getattr(route, "effective_route_contexts", None)
            if contexts is not None:
                for ctx in contexts():
                    yield ctx.path or getattr(ctx.original_route, "path", ""), ctx.original_route
            else:
                yield getattr(route, "path", ""), route

    for path, route in walk(app.routes):
        methods = getattr(route, "methods", None)
        if not methods:  # websockets and mounts
            continue
        for method in sorted(methods):
            if method != "HEAD":
                yield method, path


async def wait_until(predicate: Any, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)
