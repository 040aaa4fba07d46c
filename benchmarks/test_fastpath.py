"""Fast-path benchmarks on the CPU (``small`` DiT config, random weights); every number is a ratio of
two paths measured alternately in the same run (minimum of the rounds), printed and stored in
``extra_info``:

* ``test_batched_throughput``: 8 concurrent requests as one masked batch (``Engine.synthesize_batch``,
  static renderer) vs the same 8 requests one after another -> ``sequential_over_batched`` (> 1:
  batching helps);
* ``test_stream_ttfa_vs_full``: time to the first streamed piece vs the whole ``synthesize`` latency for
  a 4-sentence text -> ``ttfa_over_full`` (< 1: streaming helps);
* ``test_precision_speed``: the DiT sampling loop in bf16 autocast (also with the block Linears precast to
  bf16, as the static renderer does: bit-identical output, no per-step weight casts), with int8 (torchao
  dynamic activations + int8 weights) eagerly and compiled by inductor, vs fp32 -> ``fp32_over_bf16``,
  ``fp32_over_int8``, ``fp32_over_int8_inductor`` wall-time ratios with each path's NMSE against fp32.

Run: ``python -m pytest benchmarks/test_fastpath.py -s``. For the GPU numbers see ``gpu_check.py``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from ishowtts.engine.backend import SynthesisParams
from ishowtts.engine.engine import Engine
from ishowtts.engine.fastpath.buckets import BucketSet
from ishowtts.engine.fastpath.compile import compile_dit
from ishowtts.engine.fastpath.quantize import quantize_dit, torchao_available
from ishowtts.engine.fastpath.static_runner import SampleRequest, StaticRunner
from ishowtts.engine.options import EngineOptions
from ishowtts.model.precast import precast_block_linears
from numerics import nmse

SR = 24_000
NFE = 8
ROUNDS = 2
REF_TEXT = "This is the reference voice speaking clearly."
REQUESTS = [
    "Thanks for the follow!",
    "Welcome to the stream.",
    "That was a great play.",
    "Hello from the chat.",
    "Nice one, keep going.",
    "What game is next?",
    "Good luck on the run!",
    "See you tomorrow.",
]
FOUR_SENTENCES = (
    "Welcome back to the stream, everyone. Today we are trying the new speedrun route. "
    "If you are new here, hit follow so you do not miss anything. Let us get started right away."
)


def _ref(seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def alternate(fns: dict[str, Callable[[], Any]], rounds: int = ROUNDS) -> dict[str, float]:
    """Minimum wall time of each function, measured alternately (same machine state for all)."""
    best = {k: float("inf") for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t0)
    return best


def params(seed: int) -> SynthesisParams:
    return SynthesisParams(nfe_step=NFE, seed=seed)


@pytest.fixture(scope="module")
def fast() -> Engine:
    opts = EngineOptions(  # fp32 eager steps: the precision modes are compared explicitly below
        device="cpu", dtype="fp32", compile=False, quantize=None, renderer="static", buckets=(256, 384, 512, 768, 1024),
        max_batch=8,
    )  # fmt: skip
    return Engine.random("small", seed=0, options=opts)


@pytest.fixture(scope="module")
def voice(fast: Engine) -> Any:
    return fast.prepare_voice(_ref(), REF_TEXT, SR)


def test_batched_throughput(benchmark: Any, fast: Engine, voice: Any) -> None:
    jobs = [(t, voice, params(i), None) for i, t in enumerate(REQUESTS)]

    def batched() -> list[Any]:
        return fast.synthesize_batch(jobs)

    def sequential() -> list[np.ndarray]:
        return [fast.synthesize(t, voice, params(i)) for i, t in enumerate(REQUESTS)]

    out_b, out_s = batched(), sequential()  # warm-up + correctness
    err = max(float(np.abs(a - b).max()) for a, b in zip(out_b, out_s, strict=True))
    times = alternate({"batched": batched, "sequential": sequential})
    benchmark.pedantic(batched, rounds=1, iterations=1)
    ratio = times["sequential"] / times["batched"]
    benchmark.extra_info.update(
        {
            **{k: round(v, 3) for k, v in times.items()},
            "sequential_over_batched": round(ratio, 3),
            "max_abs_diff": err,
        }
    )
    print(
        f"\n8 requests, NFE {NFE}: sequential {times['sequential']:.2f} s, batched {times['batched']:.2f} s -> {ratio:.2f}x throughput (max diff {err:.1e})"
    )
    assert err <= 1e-4


def test_stream_ttfa_vs_full(benchmark: Any, fast: Engine, voice: Any) -> None:
    def first_piece() -> None:
        gen = fast.stream(FOUR_SENTENCES, voice, params(0))
        next(gen)
        gen.close()

    def full() -> None:
        fast.synthesize(FOUR_SENTENCES, voice, params(0))

    full()
    times = alternate({"ttfa": first_piece, "full": full})
    benchmark.pedantic(first_piece, rounds=1, iterations=1)
    ratio = times["ttfa"] / times["full"]
    benchmark.extra_info.update(
        {**{k: round(v, 3) for k, v in times.items()}, "ttfa_over_full": round(ratio, 3)}
    )
    print(
        f"\n4 sentences, NFE {NFE}: first audio {times['ttfa']:.2f} s vs full {times['full']:.2f} s -> ratio {ratio:.3f}"
    )
    assert ratio < 1


def test_precision_speed(benchmark: Any, fast: Engine) -> None:
    dit = fast.model.transformer
    g = torch.Generator().manual_seed(0)
    req = SampleRequest(
        torch.randn(180, 100, generator=g), torch.randint(0, 100, (90,), generator=g), 500, seed=1
    )
    buckets = BucketSet((512,), (1,))
    runs = {"fp32": StaticRunner(dit, buckets), "bf16": StaticRunner(dit, buckets, dtype=torch.bfloat16)}
    pdit = copy.deepcopy(dit)
    precast_block_linears(pdit, torch.bfloat16)  # what the static renderer does for a bf16 engine
    runs["bf16_precast"] = StaticRunner(pdit, buckets, dtype=torch.bfloat16)
    if torchao_available():
        qdit = copy.deepcopy(dit)
        quantize_dit(qdit)
        runs["int8"] = StaticRunner(qdit, buckets)
        # on the CPU torchao's int8 kernels pay off only once inductor fuses the (de)quantisation
        cdit = copy.deepcopy(qdit)
        compile_dit(cdit, "inductor")
        runs["int8_inductor"] = StaticRunner(cdit, buckets)
    outs = {k: r.sample([req], nfe_step=NFE)[0] for k, r in runs.items()}
    times = alternate({k: (lambda r=r: r.sample([req], nfe_step=NFE)) for k, r in runs.items()})
    benchmark.pedantic(lambda: runs["bf16"].sample([req], nfe_step=NFE), rounds=1, iterations=1)
    info: dict[str, Any] = {f"{k}_s": round(v, 3) for k, v in times.items()}
    for k in runs:
        if k != "fp32":
            info[f"fp32_over_{k}"] = round(times["fp32"] / times[k], 3)
            info[f"nmse_{k}"] = nmse(outs[k], outs["fp32"])
            print(
                f"\n{k}: {times[k]:.2f} s vs fp32 {times['fp32']:.2f} s -> {info[f'fp32_over_{k}']:.2f}x, NMSE {info[f'nmse_{k}']:.2e}"
            )
    benchmark.extra_info.update(info)
    assert info["nmse_bf16"] < 1e-2
    assert torch.equal(outs["bf16_precast"], outs["bf16"])  # precasting changes speed, not a bit of output
