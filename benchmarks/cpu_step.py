"""One F5 DiT sampler step as the engine runs it on the CPU, per precision mode: shared by
``test_cpu.py`` (timings, MFU, NMSE), ``profile_cpu.py`` (where the time goes) and ``gates/cpu.py`` (the
bf16 MFU gate).

Each mode is built by the engine itself (``Engine.random(config, options=EngineOptions(dtype=, compile=,
quantize=))``): precast, int8 and compile are applied by its renderer, so the step timed here is the model
the server runs. The step is ``dit.denoise`` on cond + uncond (a batch of 2, as every guided step runs),
for ``frames`` frames (938 = 10 s of 24 kHz audio, reference included), padded to the length the
renderer runs them at (960 on the CPU).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch

from flops import attention_flops, dit_step_flops
from gatelib import min_time
from ishowtts.engine.engine import Engine
from ishowtts.engine.fastpath.precision import autocast
from ishowtts.engine.options import EngineOptions
from ishowtts.model.configs import F5Config, resolve_config

CONFIG = os.environ.get("ISHOWTTS_CPU_BENCH_CONFIG", "F5TTS_v1_Base")
FRAMES = 938  # 10 s at 24 kHz, hop 256
TEXT_TOKENS = 300
MM_SIZE = 2048
# mode -> (EngineOptions fields, the mm peak its MFU is measured against)
# (every switch explicit: "auto" would pick int8 on a VNNI CPU)
MODES: dict[str, tuple[dict[str, Any], str]] = {
    "fp32": ({"dtype": "fp32", "compile": False, "quantize": None}, "fp32"),
    "bf16": ({"dtype": "bf16", "compile": False, "quantize": None}, "bf16"),
    "bf16+compile": ({"dtype": "bf16", "compile": True, "quantize": None}, "bf16"),
    "int8+compile": ({"dtype": "bf16", "compile": True, "quantize": "int8"}, "int8"),
}


def mm_operands(dtype: str) -> tuple[torch.Tensor, torch.Tensor, Callable[..., torch.Tensor]]:
    """Two 2048^2 operands in ``dtype`` (fp32, bf16, int8) and the matmul that multiplies them."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(MM_SIZE, MM_SIZE, generator=gen)
    b = torch.randn(MM_SIZE, MM_SIZE, generator=gen)
    if dtype == "int8":
        return (a * 40).to(torch.int8), (b * 40).to(torch.int8), torch._int_mm
    half = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype]
    return a.to(half), b.to(half), torch.mm


def mm_peak(dtype: str, rounds: int = 10) -> float:
    """GFLOP/s (int8: GOP/s) of one 2048^3 matmul in ``dtype`` on this machine, now."""
    x, y, mm = mm_operands(dtype)
    return 2 * MM_SIZE**3 / min_time(lambda: mm(x, y), rounds) / 1e9  # min_time warms up first


class StepBench:
    """The benchmark inputs of one step (fp32, seeded) and the analytic FLOPs of the step."""

    def __init__(self, config: str | F5Config = CONFIG, frames: int = FRAMES) -> None:
        self.config, self.frames = config, frames
        self.cfg = resolve_config(config)
        gen = torch.Generator().manual_seed(0)
        self.cond = torch.randn(1, frames, self.cfg.mel_dim, generator=gen)
        self.text = torch.randint(1, 200, (1, TEXT_TOKENS), generator=gen)  # within every vocab
        self.x = torch.randn(1, frames, self.cfg.mel_dim, generator=gen)
        self.flops = dit_step_flops(self.cfg, 1, frames, guided=True)
        self.attention_flops = attention_flops(self.cfg, 1, frames, guided=True)

    def engine(self, mode: str, **more: Any) -> Engine:
        """The engine of ``mode``; ``more`` sets further options (e.g. ``attention``)."""
        overrides, _ = MODES[mode]
        return Engine.random(self.config, seed=0, options=EngineOptions(device="cpu", **overrides, **more))

    def run_frames(self, engine: Engine) -> int:
        """The length the engine's renderer runs ``frames`` at (padded and masked: its bucket with CUDA
        graphs, else the next multiple of ``BucketSet.multiple``)."""
        return int(engine.renderer.buckets.run_frames(self.frames))

    def step_fn(self, engine: Engine, run: int | None = None) -> Callable[[], torch.Tensor]:
        """The engine's own DiT step (its model as its renderer prepared it) on the benchmark inputs,
        padded to :meth:`run_frames` with the padding masked, as the renderer runs it. ``flops`` counts
        the ``frames`` of real audio only, so the padding is charged to the step's MFU. ``run`` pads to
        another length instead (>= ``frames``)."""
        dit = engine.model.transformer
        dtype = engine.dtype
        run = self.run_frames(engine) if run is None else run
        if run < self.frames:
            raise ValueError(f"run ({run}) must be >= frames ({self.frames})")
        pad = (0, 0, 0, run - self.frames)
        with torch.no_grad(), autocast("cpu", dtype):
            valid = torch.arange(run)[None] < self.frames
            cond = torch.nn.functional.pad(self.cond, pad)
            c = dit.conditioning(cond, self.text, valid, groups=((False, False), (True, True)))
            mod = dit.time_modulation(torch.tensor([0.5]))
        x = torch.nn.functional.pad(self.x, pad).to(dit.proj_out.weight.dtype)

        def step() -> torch.Tensor:
            with torch.no_grad(), autocast("cpu", dtype):
                return dit.denoise(x, c, mod).float()[:, : self.frames]

        return step


def main(argv: list[str] | None = None) -> int:
    """``python benchmarks/cpu_step.py --mode bf16``: the best of ``--rounds`` steps in this (fresh) process,
    as one JSON line; ``test_cpu.py::test_openmp_wait`` runs it under each OpenMP wait policy (libgomp
    reads ``OMP_WAIT_POLICY`` once, when torch loads it, so each policy needs its own process)."""
    import argparse
    import json

    from ishowtts.openmp import wait_policy

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--mode", choices=sorted(MODES), default="bf16")
    ap.add_argument("--config", default=CONFIG)
    ap.add_argument("--frames", type=int, default=FRAMES)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    bench = StepBench(args.config, args.frames)
    engine = bench.engine(args.mode)
    secs = min_time(bench.step_fn(engine), args.rounds)
    print(json.dumps({"mode": args.mode, "config": args.config, "attention": engine.resolved.attention,
                      "step_s": round(secs, 4), "omp_wait_policy": wait_policy(),
                      "threads": torch.get_num_threads()}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
