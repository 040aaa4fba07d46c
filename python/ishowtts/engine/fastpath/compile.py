"""Opt-in ``torch.compile`` of the real hot paths, with counters proving the compiled code runs.

* the DiT step: ``DiT.denoise`` (what the sampler and :class:`StaticRunner` call every step) is replaced
  on the instance by its compiled version;
* the Vocos decode: :class:`StaticVocoder`'s feature function (masked backbone + head Linear).

Inductor's ``freezing`` (weights as graph constants, oneDNN-prepacked bf16 Linears) is off: on an AMX
Xeon it made the F5TTS_v1_Base bf16 step slower than without it (benchmarks/README.md, "CPU: where the
time goes"); ``benchmarks/profile_cpu.py --freezing`` measures it again.

Every compiled graph goes through a counting backend wrapper: :class:`CompileStats` records how many
graphs were compiled and how many times compiled code was *executed*, so a test can tell a compiled
path from one whose compiled wrapper is never called. Compiled code is compatible with graph capture
(the default mode; ``reduce-overhead`` would nest its own CUDA graphs and is refused).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ishowtts.logging_setup import kv
from ishowtts.model.dit import DiT

__all__ = ["BACKENDS", "CompileStats", "compile_dit", "compile_vocoder", "counting_backend", "vary"]

log = logging.getLogger(__name__)

BACKENDS = ("inductor", "aot_eager", "eager")
_RECOMPILE_LIMIT = 64


@dataclass
class CompileStats:
    """Counts for one compiled callable: graphs compiled and compiled-graph executions."""

    name: str
    graphs: int = 0
    runs: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "graphs": self.graphs, "runs": self.runs}


def counting_backend(backend: str, stats: CompileStats) -> Callable[..., Any]:
    """A dynamo backend that compiles with ``backend`` and counts graphs and executions."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown compile backend {backend!r}; use one of {BACKENDS}")
    from torch._dynamo.backends.registry import lookup_backend

    inner = lookup_backend(backend)

    def compile_fn(gm: torch.fx.GraphModule, example_inputs: list[Any]) -> Callable[..., Any]:
        compiled = inner(gm, example_inputs)
        with stats._lock:
            stats.graphs += 1
        log.info("graph compiled", extra=kv(target=stats.name, backend=backend, nodes=len(gm.graph.nodes)))

        def run(*args: Any) -> Any:
            stats.runs += 1  # GIL-atomic enough for a counter read by tests
            return compiled(*args)

        return run

    return compile_fn


def vary(t: torch.Tensor, *dims: int) -> torch.Tensor:
    """Mark the batch / frame dims of a compiled function's input as varying, so that one compiled graph
    serves every frame bucket (and one every batch size > 1: dynamo specialises size 1), instead of one
    compile per (batch, bucket). Measured on the CPU: the same step time as a graph per shape."""
    for d in dims:
        torch._dynamo.maybe_mark_dynamic(t, d)
    return t


def _raise_recompile_limit() -> None:
    cfg = torch._dynamo.config
    for name in ("recompile_limit", "cache_size_limit"):
        if hasattr(cfg, name) and getattr(cfg, name) < _RECOMPILE_LIMIT:
            setattr(cfg, name, _RECOMPILE_LIMIT)


def compile_dit(dit: DiT, backend: str = "inductor", *, mode: str | None = None) -> CompileStats:
    """Compile ``dit.denoise`` in place (instance attribute). With the runner's inputs marked by
    :func:`vary`, one graph per (batch 1 or >1, guidance groups) serves every frame bucket."""
    if mode == "reduce-overhead":
        raise ValueError("mode='reduce-overhead' nests CUDA graphs inside ours; use the default mode")
    stats = CompileStats("dit.denoise")
    _raise_recompile_limit()
    eager = DiT.denoise.__get__(dit, DiT)
    dit.denoise = torch.compile(  # type: ignore[method-assign]
        eager, backend=counting_backend(backend, stats), mode=mode, dynamic=None
    )
    dit._compile_stats = stats  # type: ignore[attr-defined]
    log.info("dit compiled", extra=kv(backend=backend, mode=mode))
    return stats


def compile_vocoder(
    vocoder_runner: Any, backend: str = "inductor", *, mode: str | None = None
) -> CompileStats:
    """Compile a :class:`StaticVocoder`'s feature function (masked backbone + head Linear)."""
    if mode == "reduce-overhead":
        raise ValueError("mode='reduce-overhead' nests CUDA graphs inside ours; use the default mode")
    stats = CompileStats("vocos.features")
    _raise_recompile_limit()
    vocoder_runner.features_fn = torch.compile(
        vocoder_runner.eager_features, backend=counting_backend(backend, stats), mode=mode, dynamic=None
    )
    vocoder_runner.compiled = True
    log.info("vocos compiled", extra=kv(backend=backend, mode=mode))
    return stats
