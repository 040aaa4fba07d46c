"""Model-level benchmark: FLOP utilisation of the DiT sampler loop on the CPU (runs in CI, no upstream).

utilisation = (analytic FLOPs of the sampler steps / their wall time) / (FLOP/s that ``torch.mm`` reaches
on the same machine in the same run). Both numbers are printed; ``benchmarks/gates/model.py`` gates on the
utilisation (ours = the sampler steps, peer = torch.mm doing the same FLOPs).

Run: ``python -m pytest benchmarks/test_engine.py -s`` (engine-level RTF benchmarks: test_engine_rtf.py).

Full-size figure (once, for the record, not in CI): ``python benchmarks/test_engine.py --v1-step`` times
ONE NFE step (the 2B cond+uncond forward) of F5TTS_v1_Base with random weights for 10 s of audio.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import torch

from flops import dit_step_flops
from gatelib import min_time
from ishowtts.model import F5Model, SamplingState, euler_loop, prepare_sampling, random_f5, resolve_config
from ishowtts.model.cfm import velocity

# ------------------------------------------------------------------ model-level part (model engineer)

MODEL_CONFIG = "small"
MODEL_FRAMES = 320  # ~3.4 s of audio incl. a ~1 s reference
MODEL_REF_FRAMES = 96
MODEL_TEXT_TOKENS = 60
MODEL_STEPS = 4
MM_SIZE = 1024  # square fp32 matmul that stands in for the machine's matmul peak
MODEL_ROUNDS = 5


@dataclass
class LoopBench:
    """A prepared sampler loop of ``steps`` steps and a torch.mm workload of the same FLOPs."""

    model: F5Model
    state: SamplingState
    flops: int
    mm_repeats: int
    mm_a: torch.Tensor
    mm_b: torch.Tensor

    def run_loop(self) -> torch.Tensor:
        with torch.inference_mode():
            return euler_loop(self.model.transformer, self.state)

    def run_mm(self) -> torch.Tensor:
        out = self.mm_a
        for _ in range(self.mm_repeats):
            out = torch.mm(self.mm_a, self.mm_b)
        return out

    @property
    def mm_flops(self) -> int:
        return self.mm_repeats * 2 * MM_SIZE**3


def build_loop_bench(
    config: str = MODEL_CONFIG, frames: int = MODEL_FRAMES, steps: int = MODEL_STEPS, seed: int = 0
) -> LoopBench:
    cfg = resolve_config(config, text_num_embeds=256)
    model = random_f5(cfg, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    cond = torch.randn(1, MODEL_REF_FRAMES, cfg.mel_dim, generator=gen)
    ids = torch.randint(1, 256, (1, MODEL_TEXT_TOKENS), generator=gen)
    with torch.inference_mode():
        state = prepare_sampling(model.transformer, cond, ids, frames, nfe_step=steps, seed=seed)
    flops = steps * dit_step_flops(cfg, 1, frames, guided=True)
    repeats = max(1, round(flops / (2 * MM_SIZE**3)))
    a = torch.randn(MM_SIZE, MM_SIZE, generator=gen)
    b = torch.randn(MM_SIZE, MM_SIZE, generator=gen)
    return LoopBench(model, state, flops, repeats, a, b)


def test_dit_loop_flop_utilisation(benchmark: Any) -> None:
    bench = build_loop_bench()
    bench.run_loop()  # warm-up
    benchmark.pedantic(bench.run_loop, rounds=MODEL_ROUNDS, iterations=1)
    stats = getattr(benchmark, "stats", None)  # None under --benchmark-disable
    loop_s = stats.stats.min if stats else min_time(bench.run_loop, MODEL_ROUNDS)
    mm_s = min_time(bench.run_mm, MODEL_ROUNDS)
    loop_gflops = bench.flops / loop_s / 1e9
    mm_gflops = bench.mm_flops / mm_s / 1e9
    util = loop_gflops / mm_gflops
    benchmark.extra_info.update(
        {
            "config": MODEL_CONFIG,
            "frames": MODEL_FRAMES,
            "steps": MODEL_STEPS,
            "loop_gflop": round(bench.flops / 1e9, 3),
            "loop_gflops_per_s": round(loop_gflops, 2),
            "mm_gflops_per_s": round(mm_gflops, 2),
            "utilisation": round(util, 4),
        }
    )
    print(
        f"\nDiT loop ({MODEL_CONFIG}, {MODEL_FRAMES} frames, {MODEL_STEPS} steps, cfg batch 2): "
        f"{loop_gflops:.1f} GFLOP/s; torch.mm {MM_SIZE}^3 fp32: {mm_gflops:.1f} GFLOP/s; "
        f"utilisation {util:.3f}"
    )
    assert 0 < util < 2.0  # sanity: analytic FLOPs and timings are in a plausible range


def v1_base_step_report(frames: int = 940, ref_frames: int = 282, rounds: int = 2) -> dict[str, float]:
    """Wall time of ONE NFE step (2B cond+uncond forward) of F5TTS_v1_Base, random weights, fp32 CPU."""
    cfg = resolve_config("F5TTS_v1_Base")
    model = random_f5(cfg, seed=0)
    gen = torch.Generator().manual_seed(0)
    cond = torch.randn(1, ref_frames, cfg.mel_dim, generator=gen)
    ids = torch.randint(1, cfg.text_num_embeds, (1, 160), generator=gen)
    with torch.inference_mode():
        state = prepare_sampling(model.transformer, cond, ids, frames, nfe_step=16, seed=0)
        step_s = min_time(lambda: velocity(model.transformer, state.x0, state, 3), rounds)
    a = torch.randn(MM_SIZE, MM_SIZE)
    mm_s = min_time(lambda: torch.mm(a, a), 10)
    flops = dit_step_flops(cfg, 1, frames)
    mm_gflops = 2 * MM_SIZE**3 / mm_s / 1e9
    step_gflops = flops / step_s / 1e9
    return {
        "frames": frames,
        "step_s": step_s,
        "step_gflop": flops / 1e9,
        "step_gflops_per_s": step_gflops,
        "mm_gflops_per_s": mm_gflops,
        "utilisation": step_gflops / mm_gflops,
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--v1-step", action="store_true", help="time one NFE step of F5TTS_v1_Base (10 s audio)")
    ap.add_argument("--frames", type=int, default=940)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    if args.v1_step:
        r = v1_base_step_report(args.frames, rounds=args.rounds)
        print(
            f"F5TTS_v1_Base one NFE step (cond+uncond, {r['frames']} frames, fp32, {r['threads']} threads): "
            f"{r['step_s']:.3f} s for {r['step_gflop']:.1f} GFLOP = {r['step_gflops_per_s']:.1f} GFLOP/s; "
            f"torch.mm {MM_SIZE}^3: {r['mm_gflops_per_s']:.1f} GFLOP/s; utilisation {r['utilisation']:.3f}"
        )


if __name__ == "__main__":
    main()
