"""F5-TTS on this CPU: the DiT step in every precision mode against the machine's own matmul peaks.

Printed in one run (and stored in ``extra_info``), with the CPU model and its matrix units:

* ``test_mm_peaks``: ``torch.mm`` 2048^3 in fp32 and bf16, ``torch._int_mm`` in int8 (GFLOP/s; GOP/s for
  int8);
* ``test_dit_step_modes``: one F5TTS_v1_Base DiT step (random weights, 938 frames = 10 s at 24 kHz with the
  reference, cond + uncond as a batch of 2, as every sampler step runs; padded and masked to the length the
  renderer runs it at, ``run_frames``, while the FLOPs count the 938) in each mode the engine offers on
  the CPU: fp32 eager, bf16 eager (block Linears precast), bf16 compiled (inductor), int8
  compiled (torchao dynamic int8, needs the ``fast`` extra). Each mode is built by the engine's own
  renderer (``Engine(..., EngineOptions(dtype=, compile=, quantize=))``), so it times the model the server
  would run. Per mode: seconds per step, MFU (analytic FLOPs / time / the matching mm peak of this run), the
  speed-up over fp32, and the NMSE of the step's output against fp32;
* ``test_run_length``: the step of 938 (and 1100) frames unpadded, at the renderer's run length (960;
  1120) and at their frame bucket (1024; 1536), alternately, in this machine's "auto" mode;
* ``test_attention_kernels``: the native CPU attention (AVX512-BF16) against torch's SDPA, the op alone and
  in the bf16 DiT step, alternately (machines without AVX512-BF16 skip it);
* ``test_rtf``: ``ishowtts bench --single-pass``'s own measurement (:func:`ishowtts.cli.bench.measure`)
  with this machine's defaults (dtype/compile "auto"): 10 s of total audio in one pass (the bundled
  voice's reference included) at NFE 7 (the EPSS schedule) and NFE 16, mel + DiT + Vocos; RTF as wall
  time over the 10 s, and over the generated seconds.

``ISHOWTTS_CPU_BENCH_CONFIG`` picks another architecture (``small`` for a quick look).
Run: ``python -m pytest benchmarks/test_cpu.py -s``.
"""

from __future__ import annotations

import gc
import time
from typing import Any

import pytest
import torch

from cpu_step import CONFIG, FRAMES, MM_SIZE, MODES, StepBench, mm_operands, mm_peak
from gatelib import cpu_model, time_once
from ishowtts.hardware import cpu_features
from ishowtts.model.configs import resolve_config
from numerics import nmse

ROUNDS = 3
_peaks: dict[str, float] = {}


def header() -> str:
    f = cpu_features()
    return f"CPU: {cpu_model()} ({torch.get_num_threads()} threads; matrix unit: {f.matrix_unit})"


def mm_peaks() -> dict[str, float]:
    """GFLOP/s of a 2048^3 matmul per dtype on this machine, now (measured once per session)."""
    if not _peaks:
        _peaks.update({d: mm_peak(d) for d in ("fp32", "bf16", "int8")})
    return _peaks


def test_mm_peaks(benchmark: Any) -> None:
    peaks = mm_peaks()
    a = torch.randn(MM_SIZE, MM_SIZE).bfloat16()
    benchmark.pedantic(lambda: torch.mm(a, a), rounds=3, iterations=1)
    benchmark.extra_info.update({f"{k}_gflops": round(v, 1) for k, v in peaks.items()})
    benchmark.extra_info["cpu"] = header()
    print(f"\n{header()}\ntorch.mm {MM_SIZE}^3: " + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in peaks.items())
          + f"; bf16/fp32 {peaks['bf16'] / peaks['fp32']:.2f}x, int8/bf16 {peaks['int8'] / peaks['bf16']:.2f}x")  # fmt: skip
    assert all(v > 0 for v in peaks.values())


def step_and_peak(step: Any, peak_name: str) -> tuple[float, float]:
    """The step's minimum time and the matching mm peak, measured alternately (a shared machine's load
    then weighs on both alike): ``ROUNDS`` x (one step, three 2048^3 matmuls)."""
    x, y, mm = mm_operands(peak_name)
    mm(x, y)
    best_step = best_mm = float("inf")
    for _ in range(ROUNDS):
        best_step = min(best_step, time_once(step, 1))
        best_mm = min(best_mm, *(time_once(lambda: mm(x, y), 1) for _ in range(3)))
    return best_step, 2 * MM_SIZE**3 / best_mm / 1e9


def _available(mode: str) -> str | None:
    if "int8" in mode:
        try:
            import torchao  # noqa: F401
        except ImportError:
            return "torchao missing (pip install 'ishowtts[fast]')"
    return None


def test_dit_step_modes(benchmark: Any) -> None:
    bench = StepBench()
    results: dict[str, dict[str, float]] = {}
    reference: torch.Tensor | None = None
    for mode, (_, peak_name) in MODES.items():
        missing = _available(mode)
        if missing:
            pytest.fail(f"{mode}: {missing}")
        t0 = time.perf_counter()
        engine = bench.engine(mode)
        step = bench.step_fn(engine)
        out = step()  # warm-up; compiles when compiled
        ready_s = time.perf_counter() - t0
        if reference is None:
            reference = out
        secs, peak = step_and_peak(step, peak_name)
        if mode == "bf16+compile":
            benchmark.pedantic(step, rounds=1, iterations=1)
        results[mode] = {
            "run_frames": bench.run_frames(engine),
            "step_s": round(secs, 4),
            "mfu": round(bench.flops / secs / 1e9 / peak, 4),
            "peak_gflops": round(peak, 1),
            "gflops": round(bench.flops / secs / 1e9, 1),
            "nmse_vs_fp32": float(f"{nmse(out, reference):.3e}"),
            "build_and_first_step_s": round(ready_s, 1),
        }
        del engine, step, out
        gc.collect()
        torch._dynamo.reset()  # each mode compiles its own model
    fp32_s = results["fp32"]["step_s"]
    for r in results.values():
        r["speedup_vs_fp32"] = round(fp32_s / r["step_s"], 3)
    benchmark.extra_info.update({"config": CONFIG, "frames": FRAMES, "cpu": header(), "step_gflop": round(bench.flops / 1e9, 1)})
    for mode, r in results.items():
        benchmark.extra_info.update({f"{mode}.{k}": v for k, v in r.items()})
    run = results["fp32"]["run_frames"]
    lines = [f"\n{header()}\n{CONFIG} DiT step, {FRAMES} frames run at {run}, cond+uncond ({bench.flops / 1e9:.0f} GFLOP):"]
    for mode, r in results.items():
        lines.append(
            f"  {mode:13s} {r['step_s']:7.3f} s/step  {r['gflops']:7.1f} GFLOP/s  MFU {r['mfu']:.2f} vs {MODES[mode][1]} mm "
            f"({r['peak_gflops']:.0f})  "
            f"x{r['speedup_vs_fp32']:.2f} vs fp32  NMSE {r['nmse_vs_fp32']:.1e}  (build+first step {r['build_and_first_step_s']:.0f} s)"
        )
    print("\n".join(lines))
    assert results["bf16"]["nmse_vs_fp32"] < 1e-3
    assert results["bf16+compile"]["nmse_vs_fp32"] < 1e-3


@pytest.mark.parametrize("frames", [FRAMES, 1100])
def test_run_length(benchmark: Any, frames: int) -> None:
    """The same frames as one step at three lengths, alternately, in this machine's "auto" mode: unpadded,
    at the renderer's run length (the next multiple of ``defaults.FRAME_MULTIPLE``: 938 -> 960, 1100 ->
    1120) and at their frame bucket (1024 and 1536, where every batch ran before). The padding is masked,
    so all three give the same mel; the shortest is not the fastest, because torch's CPU attention runs
    odd lengths at a fraction of its rate."""
    from ishowtts.engine.options import EngineOptions, resolve

    auto = resolve(EngineOptions(device="cpu"), torch.device("cpu"))
    mode = ("bf16+compile" if auto.compile else "bf16") if auto.dtype == torch.bfloat16 else "fp32"
    if auto.quantize == "int8":
        mode = "int8+compile"
    bench = StepBench(frames=frames)
    engine = bench.engine(mode)
    lengths = {
        "unpadded": frames,
        "run_length": bench.run_frames(engine),
        "bucket": engine.renderer.buckets.frames_for(frames),
    }
    steps = {name: bench.step_fn(engine, run) for name, run in lengths.items()}
    outs = {name: step() for name, step in steps.items()}  # warm-up (compiles each shape)
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(ROUNDS):
        for name, step in steps.items():
            best[name] = min(best[name], time_once(step, 1))
    benchmark.pedantic(steps["run_length"], rounds=1, iterations=1)
    errs = {name: nmse(out, outs["unpadded"]) for name, out in outs.items()}
    benchmark.extra_info.update({"config": CONFIG, "mode": mode, "cpu": header(), **{f"{k}_frames": v for k, v in lengths.items()}})
    benchmark.extra_info.update({f"{k}_s": round(v, 4) for k, v in best.items()})
    benchmark.extra_info["run_length_over_bucket"] = round(best["run_length"] / best["bucket"], 3)
    benchmark.extra_info["run_length_over_unpadded"] = round(best["run_length"] / best["unpadded"], 3)
    print(f"\n{header()}\n{CONFIG} DiT step ({mode}), {frames} frames of audio run at:")
    for name, n in lengths.items():
        print(f"  {name:10s} {n:5d} frames  {best[name]:7.3f} s/step  NMSE vs unpadded {errs[name]:.1e}")
    print(f"  run length / bucket {best['run_length'] / best['bucket']:.3f}, / unpadded {best['run_length'] / best['unpadded']:.3f}")
    assert lengths["unpadded"] <= lengths["run_length"] <= lengths["bucket"]
    assert max(errs.values()) < 1e-3  # masked padding: the same mel at every length


@pytest.mark.avx512_bf16
def test_attention_kernels(benchmark: Any) -> None:
    """The native CPU attention (``model/cpu_attention.py``, AVX512-BF16) against torch's SDPA flash kernel,
    alternately: the op alone on F5's shape (cond + uncond, 16 heads of 64, 938 frames run at 960 with the
    padding masked) with each one's NMSE against fp32 SDPA, then the bf16 DiT step (this config, or
    ``small`` where the heads are not 64 wide) with ``attention = "sdpa"`` and ``"native"``."""
    import torch.nn.functional as F

    from ishowtts.model import cpu_attention

    gen = torch.Generator().manual_seed(0)
    b, h, run, d = 2, 16, 960, cpu_attention.HEAD_DIM
    q, k, v = (torch.randn(b, run, h, d, generator=gen).bfloat16() for _ in range(3))
    mask = (torch.arange(run) < FRAMES)[None, None, None, :].expand(b, 1, 1, run)
    bias = cpu_attention.key_bias(mask)

    def sdpa() -> torch.Tensor:  # the model's call: (B, H, N, D) views of the projections' (B, N, H * D)
        return F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask)

    def native() -> torch.Tensor:
        return cpu_attention.masked_attention(q, k, v, bias, d**-0.5)

    exact = F.scaled_dot_product_attention(*(t.float().transpose(1, 2) for t in (q, k, v)), attn_mask=mask)
    errs = {"sdpa": nmse(sdpa().float(), exact), "native": nmse(native().transpose(1, 2).float(), exact)}
    op = {"sdpa": float("inf"), "native": float("inf")}
    for _ in range(5):
        op["sdpa"] = min(op["sdpa"], time_once(sdpa, 1))
        op["native"] = min(op["native"], time_once(native, 1))
    flops = 4 * b * h * run * run * d
    config = CONFIG if resolve_config(CONFIG).dim_head == d else "small"
    bench = StepBench(config)
    steps, outs = {}, {}
    for kernel in ("sdpa", "native"):
        engine = bench.engine("bf16", attention=kernel)
        steps[kernel] = bench.step_fn(engine)
        outs[kernel] = steps[kernel]()
    step = dict.fromkeys(steps, float("inf"))
    for _ in range(ROUNDS):
        for kernel, fn in steps.items():
            step[kernel] = min(step[kernel], time_once(fn, 1))
    benchmark.pedantic(native, rounds=3, iterations=1)
    info = {
        "cpu": header(), "step_config": config,
        **{f"op_{k}_ms": round(v * 1e3, 2) for k, v in op.items()},
        **{f"op_{k}_gflops": round(flops / v / 1e9, 1) for k, v in op.items()},
        **{f"op_{k}_nmse_vs_fp32": float(f"{e:.2e}") for k, e in errs.items()},
        "op_speedup": round(op["sdpa"] / op["native"], 3),
        **{f"step_bf16_{k}_s": round(v, 4) for k, v in step.items()},
        "step_speedup": round(step["sdpa"] / step["native"], 3),
        "step_nmse_native_vs_sdpa": float(f"{nmse(outs['native'], outs['sdpa']):.2e}"),
    }  # fmt: skip
    benchmark.extra_info.update(info)
    print(
        f"\n{header()}\nattention B={b} H={h} N={run} ({FRAMES} valid) D={d}: SDPA {op['sdpa'] * 1e3:.1f} ms "
        f"({info['op_sdpa_gflops']:.0f} GFLOP/s, NMSE {errs['sdpa']:.1e}), native {op['native'] * 1e3:.1f} ms "
        f"({info['op_native_gflops']:.0f} GFLOP/s, NMSE {errs['native']:.1e}): x{info['op_speedup']:.2f}\n"
        f"{config} bf16 DiT step: SDPA {step['sdpa']:.3f} s, native {step['native']:.3f} s: x{info['step_speedup']:.2f} "
        f"(NMSE between them {info['step_nmse_native_vs_sdpa']:.1e})"
    )
    assert errs["native"] < 1e-4 and info["step_nmse_native_vs_sdpa"] < 1e-3


@pytest.mark.parametrize("nfe", [7, 16])
def test_rtf(benchmark: Any, nfe: int) -> None:
    """10 s of total audio in one pass (the bundled voice's 5.7 s reference + 4.3 s generated), as F5-TTS
    speed is usually quoted; ``ishowtts bench --single-pass --nfe 7 16`` prints the same figures."""
    from ishowtts.cli.bench import measure

    result = measure(CONFIG, device="cpu", nfe=nfe, seconds=10.0, runs=1, single_pass=True)
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    benchmark.extra_info.update({**result, "cpu": header()})
    total = result["synthesize_s"] / 10.0
    print(
        f"\n{header()}\n{CONFIG} NFE {nfe}, 10 s total in {result['chunks']} pass ({result['audio_seconds']} s generated), "
        f"dtype {result['dtype']}, quantize {result['quantize']}, compile {result['compile']}: {result['synthesize_s']:.2f} s -> RTF {total:.3f} of the "
        f"10 s, {result['rtf']:.3f} of the generated audio; first audio {result['time_to_first_audio_s']:.2f} s"
    )
    assert result["chunks"] == 1 and result["rtf"] > 0


def test_openmp_wait(benchmark: Any) -> None:
    """The bf16 DiT step (this machine's attention kernel) with torch's idle OpenMP workers spinning
    (libgomp's default: ``OMP_WAIT_POLICY`` unset) and sleeping (``PASSIVE``, what ``python -m ishowtts``
    sets: ``ishowtts.openmp``), each in two fresh processes, alternately (``cpu_step.py``'s own main)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent / "cpu_step.py"
    base = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    envs = {"spin (unset)": base, "PASSIVE": {**base, "OMP_WAIT_POLICY": "PASSIVE"}}
    best: dict[str, float] = dict.fromkeys(envs, float("inf"))
    seen: dict[str, dict[str, Any]] = {}

    def alternate() -> None:  # one process per policy (timed as a whole by pytest-benchmark, build included)
        for policy, env in envs.items():
            out = subprocess.run([sys.executable, str(script), "--mode", "bf16", "--rounds", str(ROUNDS)],
                                 env=env, capture_output=True, text=True, check=True)  # fmt: skip
            row = json.loads(out.stdout.strip().splitlines()[-1])
            assert row["omp_wait_policy"] == policy  # the child ran with the policy asked for
            best[policy] = min(best[policy], row["step_s"])
            seen[policy] = row

    benchmark.pedantic(alternate, rounds=2, iterations=1)
    info = {
        "cpu": header(), "config": CONFIG, "attention": seen["PASSIVE"]["attention"],
        "step_bf16_spin_s": best["spin (unset)"], "step_bf16_passive_s": best["PASSIVE"],
        "passive_speedup": round(best["spin (unset)"] / best["PASSIVE"], 3),
    }  # fmt: skip
    benchmark.extra_info.update(info)
    print(
        f"\n{header()}\n{CONFIG} bf16 DiT step ({info['attention']} attention), best of 2 processes x {ROUNDS}: "
        f"OpenMP workers spinning {best['spin (unset)']:.3f} s, sleeping (PASSIVE) {best['PASSIVE']:.3f} s: "
        f"x{info['passive_speedup']:.2f}"
    )
    assert all(0 < v < float("inf") for v in best.values())
