"""Graph safety of the captured steps, checked on the CPU.

A CUDA graph replays the kernels recorded at capture on the same memory: every tensor the step touched is
fixed by identity, every Python value it read is frozen. ``torch.fx`` tracing (``make_fx``) has exactly
those semantics (its constants are the very tensors, by reference), so swapping
``graph_capture.capture_graph`` for a tracer runs the real capture/replay code path of
:class:`StaticRunner` and :class:`StaticVocoder` on the CPU. Each slot is captured on a first request and
replayed for different ones (other text, reference, seed, guidance, NFE, lengths); the results must equal
the eager path's. A step that kept per-request state in Python, or allocated per call, would replay the
first request's values and fail here, as it would on a GPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch.fx.experimental.proxy_tensor import make_fx

from ishowtts.engine.fastpath import graph_capture
from ishowtts.engine.fastpath.buckets import BucketSet
from ishowtts.engine.fastpath.precision import autocast
from ishowtts.engine.fastpath.static_runner import StaticRunner
from ishowtts.engine.fastpath.static_vocoder import StaticVocoder

from .conftest import REPLAY_CALLS, max_err, replay_requests


class TracedGraph:
    """A CPU stand-in for ``torch.cuda.CUDAGraph``: the traced step, replayed on the same tensors."""

    def __init__(self, fn: Callable[[], None], dtype: torch.dtype) -> None:
        with autocast("cpu", dtype):
            for _ in range(graph_capture.WARMUP_CALLS):  # as the real capture: warm-up calls run
                fn()
            self.module = make_fx(
                lambda: fn()
            )()  # runs once more (the real capture does not; callers restore)
        self.replays = 0

    def replay(self) -> None:
        self.module()
        self.replays += 1


@pytest.fixture
def traced_capture(monkeypatch: pytest.MonkeyPatch) -> list[TracedGraph]:
    graphs: list[TracedGraph] = []

    def capture(fn: Callable[[], None], device: torch.device, pool: Any, dtype: torch.dtype) -> TracedGraph:
        assert pool == "pool"  # slots of one runner share its pool
        graphs.append(TracedGraph(fn, dtype))
        return graphs[-1]

    monkeypatch.setattr(graph_capture, "capture_graph", capture)
    return graphs


def _graphed(runner: Any) -> Any:
    runner.graphs = True  # the constructor refuses graphs off CUDA; the capture is the tracer here
    runner.pool = lambda: "pool"
    return runner


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_dit_step_replayed_for_other_requests_equals_eager(parity_case, traced_capture, dtype) -> None:
    model, case, t = parity_case
    buckets = BucketSet((64,), (1, 2))
    eager = StaticRunner(model.transformer, buckets, dtype=dtype)
    graphed = _graphed(StaticRunner(model.transformer, buckets, dtype=dtype))
    reqs = replay_requests(model, case, t)
    for idx, steps, cfg, sway in REPLAY_CALLS:
        rs = [reqs[i] for i in idx]
        kw = dict(nfe_step=steps, cfg_strength=cfg, sway_sampling_coef=sway)
        want, got = eager.sample(rs, **kw), graphed.sample(rs, **kw)
        for w, g in zip(want, got, strict=True):
            assert w.shape == g.shape
            assert max_err(w, g) <= 1e-6, (steps, cfg)
    assert graphed.slots() == [(1, 64, 1), (1, 64, 2), (2, 64, 2)]
    assert len(traced_capture) == 3  # one capture per slot, never again
    assert sum(g.replays for g in traced_capture) == sum(steps for _, steps, _, _ in REPLAY_CALLS)


def test_a_step_that_freezes_python_values_is_caught(parity_case, traced_capture, monkeypatch) -> None:
    """The stand-in is strict: a step reading the guidance scale as a Python float replays it stale."""
    from ishowtts.engine.fastpath import static_runner

    model, case, t = parity_case
    buckets = BucketSet((64,), (1,))
    original = static_runner._DiTSlot.step

    def leaky_step(self: Any) -> None:
        cfg = float(self.cfg)  # the bug: a host value baked into the graph
        self.cfg.fill_(cfg)
        original(self)

    monkeypatch.setattr(static_runner._DiTSlot, "step", leaky_step)
    graphed = _graphed(StaticRunner(model.transformer, buckets))
    eager = StaticRunner(model.transformer, buckets)
    req = replay_requests(model, case, t)[0]
    graphed.sample([req], nfe_step=4, cfg_strength=2.0)
    stale = graphed.sample([req], nfe_step=4, cfg_strength=4.0)[0]
    monkeypatch.setattr(static_runner._DiTSlot, "step", original)
    assert max_err(stale, eager.sample([req], nfe_step=4, cfg_strength=4.0)[0]) > 1e-3


def test_vocoder_replayed_for_other_mels_equals_eager(engine, traced_capture) -> None:
    g = torch.Generator().manual_seed(5)
    buckets = BucketSet((64,), (1, 2))
    eager = StaticVocoder(engine.vocoder, buckets)
    graphed = _graphed(StaticVocoder(engine.vocoder, buckets, pool=lambda: "pool"))
    batches = [
        [torch.randn(100, 40, generator=g)],
        [torch.randn(100, 64, generator=g)],
        [torch.randn(100, 3, generator=g)],
        [torch.randn(100, 17, generator=g), torch.randn(100, 60, generator=g)],
        [torch.randn(100, 33, generator=g), torch.randn(100, 2, generator=g)],
    ]
    for mels in batches:
        for w, got in zip(eager.decode(mels), graphed.decode(mels), strict=True):
            assert w.shape == got.shape
            assert max_err(w, got) <= 1e-6
    assert len(traced_capture) == 2 and graphed.slots() == [(1, 64), (2, 64)]
