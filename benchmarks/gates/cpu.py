"""Gate: FLOP utilisation of the bf16 DiT step on the CPU (F5TTS_v1_Base, the engine's bf16 mode).

ours = one DiT step (random weights, 938 frames run at the renderer's 960, cond + uncond) as the engine runs
it in bf16 on the CPU: block Linears precast, inductor-compiled where the machine's "auto" compiles, with
its "auto" attention kernel.
The model is the whole F5TTS_v1_Base (22 blocks): with fewer blocks the parts outside them (input and conv position
embedding, output projection) weigh more and the figure is not the real one (single runs the same day: 4
blocks 0.51, 12 blocks 0.54, 22 blocks 0.65); peer = bf16 ``torch.mm`` 2048^3 repeated to the same analytic
FLOPs. ``peer_min / ours_min`` is the step's fraction of this machine's bf16 matmul peak (MFU), measured
in the same run.

The floor is keyed by the CPU's matrix unit (``ishowtts.hardware``), not by the native core's ISA: on AMX
machines 0.3, the gate's rule (about 0.65x the lowest ratio seen: 0.48, 0.48, 0.53 and 0.65 in CI runs on
the 2-core AMX VM, 2026-12-03), so a 2x slowdown fails and noise does not; issue 12's goal of 0.5 is not
reached reliably yet and stays its target. Elsewhere the ratio is reported and not gated (floor 0).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from cpu_step import MM_SIZE, StepBench
from gatelib import GateCase
from ishowtts.engine.options import EngineOptions, resolve
from ishowtts.hardware import cpu_features

_state: dict[str, object] = {}


def _get() -> dict[str, object]:
    if not _state:
        bench = StepBench("F5TTS_v1_Base")
        auto = resolve(EngineOptions(device="cpu", dtype="bf16", quantize=None), torch.device("cpu"))
        mode = "bf16+compile" if auto.compile else "bf16"  # what "auto" runs in bf16 on this machine
        engine = bench.engine(mode)
        gen = torch.Generator().manual_seed(0)
        a = torch.randn(MM_SIZE, MM_SIZE, generator=gen).bfloat16()
        b = torch.randn(MM_SIZE, MM_SIZE, generator=gen).bfloat16()
        repeats = max(1, round(bench.flops / (2 * MM_SIZE**3)))
        _state.update(engine=engine, step=bench.step_fn(engine), a=a, b=b, repeats=repeats, mode=mode)
    return _state


def _ours() -> object:
    return _get()["step"]()  # type: ignore[operator]


def _peer() -> object:
    s = _get()
    for _ in range(s["repeats"]):  # type: ignore[call-overload]
        torch.mm(s["a"], s["b"])  # type: ignore[call-overload]
    return None


CASES = [
    GateCase(
        name="model.cpu_bf16_step_mfu",
        ours=_ours,
        peer=_peer,
        peer_name="bf16 torch.mm same FLOPs",
        rounds=3,
        notes="ratio = bf16 DiT step (F5TTS_v1_Base) FLOP/s over bf16 torch.mm FLOP/s (MFU)",
        kernel_set=lambda: cpu_features().matrix_unit,
    )
]
