"""Shared pytest configuration, and the helpers every layer's tests use (``h``: audio clips, encoded
uploads, voice references and a fake backend). Area-specific fixtures live in each tests/<area>/conftest.py."""

from __future__ import annotations

import importlib.util
import io
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from ishowtts.engine.backend import CancelToken, SynthesisParams
from ishowtts.voices.reference import VoiceReference

# Tests never reach the network: make huggingface_hub fail fast instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The CPU decides dtype/compile "auto" (ishowtts.hardware, engine/options.resolve) and CI's CPU model changes
# between runs: the tests (and the servers they start) see a plain AVX2 machine, so "auto" means fp32 and no
# compile everywhere. tests/engine/test_options.py covers the choices for AMX / AVX512-BF16 / AVX2 CPUs, and
# tests/test_hardware.py the probe of the real CPU. The benchmarks see the real CPU.
os.environ.setdefault("ISHOWTTS_CPU_FEATURES", "avx2,fma")


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
    """Helper functions for every layer's tests, as the ``h`` fixture."""

    SR = SR
    tone = staticmethod(tone)
    encode = staticmethod(encode)
    voice = staticmethod(voice)
    FakeBackend = FakeBackend


@pytest.fixture
def h() -> type[Helpers]:
    return Helpers


# --- async tests and loading a file by path --------------------------------------------------------------
# Async tests use one style: ``@pytest.mark.anyio`` (anyio's pytest plugin, installed with starlette) on
# the asyncio backend, chosen here once for every layer.


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


REPO = Path(__file__).resolve().parents[1]


def load_module(path: str | Path, name: str | None = None) -> ModuleType:
    """The Python file at ``path`` as a module, executed once per session and kept in ``sys.modules``.

    ``name`` is the name it is registered under: give the name other code imports it by (for example
    ``_server_helpers``, so ``from _server_helpers import ...`` finds it); by default one made from the
    path. Loading the same path again returns the same module; a name already taken by another file is an
    error. Use it as ``from tests.conftest import load_module`` (pytest registers this file as
    ``tests.conftest`` under ``--import-mode=importlib``); it is the one way tests load a file by path.
    """
    file = Path(path).resolve()
    if name is None:
        rel = file.relative_to(REPO) if file.is_relative_to(REPO) else file
        name = "_bypath_" + re.sub(r"\W", "_", str(rel.with_suffix("")))
    module = sys.modules.get(name)
    if module is not None:
        loaded = getattr(module, "__file__", None)
        if loaded is None or Path(loaded).resolve() != file:
            raise ImportError(f"module name {name!r} is already taken by {loaded or module!r}, not {file}")
        return module
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {file} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


# uvicorn in a thread of this process, for the tests that need a real server (``from live_server import ...``)
load_module(Path(__file__).with_name("live_server.py"), "live_server")
