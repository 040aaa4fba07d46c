"""Shared pytest configuration, and the helpers every layer's tests use (``h``: audio clips, encoded
uploads, voice references and a fake backend). Area-specific fixtures live in each tests/<area>/conftest.py."""

from __future__ import annotations

import io
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from ishowtts.engine.backend import CancelToken, SynthesisParams

from ishowtts.voices.reference import VoiceReference

# Tests never reach the network: make huggingface_hub fail fast instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


# --- logging isolation --------------------------------------------------------------------------------
# Tests that run the CLI in-process (``ishowtts.cli.main``) configure the root logger with a handler on
# the sys.stderr of that moment, which is pytest's per-test capture, closed afterwards; later tests
# would then log into a closed file. Restore the root logger after every test.


@pytest.fixture(autouse=True)
def _restore_root_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


# --- helpers shared by every layer's tests --------------------------------------------------------------

SR = 24_000


def tone(seconds: float = 1.0, sr: int = SR, freq: float = 220.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def encode(audio: np.ndarray, sr: int = SR, fmt: str = "WAV", subtype: str | None = None) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, audio, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


@pytest.fixture
def wav_bytes() -> bytes:
    return encode(tone(1.0), SR, "WAV", "PCM_16")


def voice(vid: str = "v", version: str = "1", text: str = "ref text", language: str = "en") -> VoiceReference:
    return VoiceReference(id=vid, audio=None, sample_rate=0, text=text, language=language, version=version)


class FakeBackend:
    """Deterministic fake engine: ``len(text) * 100`` samples of a text-dependent value, in chunks.

    ``delay`` seconds per chunk, ``fail_on`` text substring raises, ``gate`` (a threading.Event) blocks every
    chunk until set, ``ignore_cancel`` makes it ignore the token (to test result discarding).
    """

    name = "fake"
    label = "Fake engine"
    sample_rate = SR

    def __init__(self, *, delay: float = 0.0, chunks: int = 3, gate: threading.Event | None = None) -> None:
        self.delay = delay
        self.chunks = chunks
        self.gate = gate
        self.calls: list[str] = []
        self.started = threading.Event()
        self.chunks_made = 0
        self.lock = threading.Lock()

    def info(self) -> dict[str, Any]:
        return {"model": "fake"}

    def expected(self, text: str) -> np.ndarray:
        value = (sum(map(ord, text)) % 100) / 100.0
        return np.full(len(text) * 100, value, dtype=np.float32)

    def stream(
        self, text: str, voice: VoiceReference, params: SynthesisParams, cancel: CancelToken | None = None
    ) -> Iterator[np.ndarray]:
        with self.lock:
            self.calls.append(text)
        self.started.set()
        if "FAIL" in text:
            raise RuntimeError(f"engine exploded on {text!r}")
        full = self.expected(text)
        for piece in np.array_split(full, self.chunks):
            if self.gate is not None:
                while not self.gate.wait(0.01):
                    if cancel is not None:
                        cancel.raise_if_cancelled()
            if self.delay:
                time.sleep(self.delay)
            if cancel is not None:
                cancel.raise_if_cancelled()
            with self.lock:
                self.chunks_made += 1
            yield piece

    def synthesize(
        self, text: str, voice: VoiceReference, params: SynthesisParams, cancel: CancelToken | None = None
    ) -> np.ndarray:
        return np.concatenate(list(self.stream(text, voice, params, cancel)))

    def warmup(self, voices: list[VoiceReference]) -> None:
        pass


class Helpers:
    """Helper functions for tests (importlib mode cannot import conftest directly)."""

    SR = SR
    tone = staticmethod(tone)
    encode = staticmethod(encode)
    voice = staticmethod(voice)
    FakeBackend = FakeBackend


@pytest.fixture
def h() -> type[Helpers]:
    return Helpers
