"""The one CUDA-only function, ``graph_capture.capture_graph``, against a recording stand-in of the
``torch.cuda`` calls it makes: warm-up on a side stream that waits for the current one, the current
stream waiting for the warm-up, then exactly one call captured into the shared pool, thread-local
capture mode (other threads may use the GPU meanwhile), autocast active inside both phases."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
import torch

from ishowtts.engine.fastpath import graph_capture


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.phase = "outside"


@pytest.fixture
def fake_cuda(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    rec = Recorder()

    class Stream:
        def __init__(self, name: str = "side", device: Any = None) -> None:
            self.name = name

        def wait_stream(self, other: Stream) -> None:
            rec.events.append(("wait", self.name, other.name))

    current = Stream("current")

    @contextlib.contextmanager
    def stream(s: Stream):
        rec.events.append(("enter_stream", s.name))
        rec.phase = "warmup"
        yield
        rec.phase = "outside"
        rec.events.append(("exit_stream", s.name))

    class CUDAGraph:
        pass

    @contextlib.contextmanager
    def graph(g: CUDAGraph, pool: Any = None, capture_error_mode: str = "global"):
        rec.events.append(("capture", pool, capture_error_mode))
        rec.phase = "capture"
        yield
        rec.phase = "outside"

    monkeypatch.setattr(torch.cuda, "Stream", lambda device=None: Stream("side", device))
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: current)
    monkeypatch.setattr(torch.cuda, "stream", stream)
    monkeypatch.setattr(torch.cuda, "CUDAGraph", CUDAGraph)
    monkeypatch.setattr(torch.cuda, "graph", graph)
    # the same autocast helper on the CPU device (CUDA autocast needs no GPU to enter, but be explicit)
    monkeypatch.setattr(graph_capture, "autocast", lambda device, dtype: torch.autocast("cpu", dtype=dtype))
    return rec


def test_capture_sequence(fake_cuda: Recorder) -> None:
    calls: list[tuple[str, bool]] = []

    def step() -> None:
        calls.append((fake_cuda.phase, torch.is_autocast_enabled("cpu")))

    g = graph_capture.capture_graph(step, torch.device("cpu"), "POOL", torch.bfloat16)
    assert calls == [("warmup", True)] * graph_capture.WARMUP_CALLS + [("capture", True)]
    assert fake_cuda.events == [
        ("wait", "side", "current"),  # the side stream sees everything queued before
        ("enter_stream", "side"),
        ("exit_stream", "side"),
        ("wait", "current", "side"),  # and the current stream sees the warm-up
        ("capture", "POOL", "thread_local"),
    ]
    assert type(g).__name__ == "CUDAGraph"


def test_real_torch_cuda_graph_takes_the_arguments_we_pass() -> None:
    import inspect

    params = inspect.signature(torch.cuda.graph.__init__).parameters
    assert {"pool", "capture_error_mode"} <= set(params)
    assert inspect.signature(torch.cuda.Stream).parameters.get("device") is not None
