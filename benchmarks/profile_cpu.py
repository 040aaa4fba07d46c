"""Where one F5 DiT step's time goes on this CPU, per precision mode (torch.profiler, one step).

    python benchmarks/profile_cpu.py                       # F5TTS_v1_Base, 938 frames, bf16 + bf16+compile
    python benchmarks/profile_cpu.py --modes fp32,bf16,bf16+compile,int8+compile --freezing

The ops are grouped into GEMMs (the Linears; with their achieved GFLOP/s from the analytic FLOPs),
attention (SDPA), norms, rotary embedding, the convolutional position embedding, casts and copies, other
elementwise work, and inductor's fused kernels (compiled modes: elementwise work fused into C++ kernels,
named ``cpp_fused_*``). ``--freezing`` compiles with inductor's freezing (weights as constants, oneDNN
prepacking) to measure it against the default. The CPU model and the mm peaks of the same run head the
output. The table in benchmarks/README.md ("CPU: where the time goes") comes from this script.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections import defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cpu_step import CONFIG, FRAMES, MODES, StepBench, mm_peak
from gatelib import cpu_model, min_time

CATEGORIES = (  # (category, substrings of the profiler's op names), first match wins
    ("gemm", ("addmm", "aten::mm", "_int_mm", "mkldnn_linear", "_linear_pointwise", "aten::bmm", "matmul",
              "qlinear", "da8w8")),
    ("attention", ("scaled_dot_product", "flash_attention", "masked_attention")),
    ("conv position embedding", ("convolution", "conv1d", "mish")),
    ("norms", ("layer_norm", "rms_norm")),
    ("rotary", ("view_as_complex", "view_as_real", "complex")),
    ("casts and copies", ("copy_", "_to_copy", "aten::to", "contiguous", "clone", "cat", "stack")),
    ("inductor fused kernels", ("cpp_fused", "graph_", "kernel")),
    ("elementwise", ("add", "mul", "gelu", "masked_fill", "silu", "where", "div", "sub", "neg", "flip",
                     "exp", "rsqrt", "pow")),
)  # fmt: skip


def categorise(name: str) -> str:
    low = name.lower()
    for cat, keys in CATEGORIES:
        if any(k in low for k in keys):
            return cat
    return "other"


def profile_step(step) -> dict[str, float]:  # type: ignore[no-untyped-def]
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        step()
    by_cat: dict[str, float] = defaultdict(float)
    for ev in prof.key_averages():
        if ev.self_cpu_time_total > 0:
            by_cat[categorise(ev.key)] += ev.self_cpu_time_total / 1e3  # ms (self time: no double count)
    return dict(by_cat)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=CONFIG)
    ap.add_argument("--frames", type=int, default=FRAMES)
    ap.add_argument("--modes", default="bf16,bf16+compile")
    ap.add_argument("--freezing", action="store_true", help="compile with inductor freezing")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    import torch._inductor.config as inductor_config

    inductor_config.cpp.enable_kernel_profile = True  # fused kernels appear by name in the profile
    if args.freezing:
        inductor_config.freezing = True
    bench = StepBench(args.config, args.frames)
    peaks = {d: mm_peak(d) for d in ("fp32", "bf16", "int8")}
    print(f"CPU: {cpu_model()}; {torch.get_num_threads()} threads; torch {torch.__version__}")
    print("mm 2048^3: " + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in peaks.items()))
    gemm_flops = bench.flops - bench.attention_flops
    print(f"{args.config}, {args.frames} frames, cond+uncond: {bench.flops / 1e9:.0f} GFLOP per step "
          f"({gemm_flops / 1e9:.0f} in GEMMs and convs, {bench.attention_flops / 1e9:.0f} in attention)"
          + ("; inductor freezing ON" if args.freezing else ""))  # fmt: skip
    for mode in args.modes.split(","):
        engine = bench.engine(mode)
        step = bench.step_fn(engine)
        secs = min_time(step, args.rounds)  # its warm-up call compiles the compiled modes
        cats = profile_step(step)
        total = sum(cats.values())
        peak = peaks[MODES[mode][1]]
        print(f"\n{mode} (run at {bench.run_frames(engine)} frames, padding masked; GFLOP/s count the {args.frames}):"
              f" {secs:.3f} s/step, {bench.flops / secs / 1e9:.0f} GFLOP/s = "
              f"{bench.flops / secs / 1e9 / peak:.0%} of the {MODES[mode][1]} mm peak (profiled step {total / 1e3:.3f} s)")  # fmt: skip
        for cat, ms in sorted(cats.items(), key=lambda kv: -kv[1]):
            extra = ""
            if cat == "gemm":
                extra = f"  {gemm_flops / (ms / 1e3) / 1e9:.0f} GFLOP/s"
            elif cat == "attention":
                extra = f"  {bench.attention_flops / (ms / 1e3) / 1e9:.0f} GFLOP/s"
            print(f"  {cat:26s} {ms:8.1f} ms  {ms / total:6.1%}{extra}")
        del engine, step
        gc.collect()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
