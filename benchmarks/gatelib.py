"""Same-run ratio gating for noisy shared machines whose CPU changes from day to day.

A gate case times our kernel and a peer alternately in one process (>= 21 rounds each) and compares the
ratio of their *minimum* times, ``peer_min / ours_min`` (above 1 means we are faster). Absolute times are
never compared across runs, and a ratio is only compared with ratios measured on the same machine class.

Cases live in ``benchmarks/gates/<component>.py`` as a module-level ``CASES`` list of :class:`GateCase`.
``benchmarks/floors.json`` holds two things:

- ``required``: per case, the hard floor that comes from the goals, per kernel set (the native core's
  active ISA: ``avx2+fma``, ``neon``, ``scalar``; ``any`` for cases that do not use the native core). Each is
  about 0.65x the lowest ratio measured so far on that kernel set, so that a machine like the slowest seen
  passes with room for noise and a 2x slowdown of it fails; faster classes are held by their baselines.
  ``neon`` keeps the goal floors until a ratio is measured on aarch64 hardware (CI runs NEON under qemu).
- ``baselines``: per machine class (:func:`machine_class`: the CPU model string plus the active ISA), the
  ratios measured and committed on that class. The regression margin (:data:`MARGIN`) applies only against
  the baseline of the class that is running.

A case passes when ``ratio >= max(required, baseline * (1 - MARGIN))``; on a machine class with no baseline
(or a case with none in its class) it passes when ``ratio >= required``.
"""

from __future__ import annotations

import gc
import json
import platform
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

MARGIN = 0.30
DEFAULT_ROUNDS = 21
ANY_ISA = "any"


@dataclass
class GateCase:
    name: str
    ours: Callable[[], object]
    peer: Callable[[], object]
    peer_name: str
    # Number of calls per timed sample; raise it for sub-millisecond kernels so timer resolution is moot.
    inner: int = 1
    rounds: int = DEFAULT_ROUNDS
    notes: str = ""
    extra: dict = field(default_factory=dict)
    # The hardware key its required floor is looked up by, when that is not the native core's ISA (e.g. the
    # CPU's matrix unit, ishowtts.hardware: "amx", "avx512_bf16", "none"). ``None``: the native ISA.
    kernel_set: Callable[[], str] | None = None


@dataclass(frozen=True)
class Threshold:
    value: float
    required: float
    baseline: float | None


@dataclass
class GateResult:
    name: str
    peer_name: str
    ours_min_s: float
    peer_min_s: float
    ratio: float
    threshold: float
    required: float
    baseline: float | None
    machine_class: str

    @property
    def passed(self) -> bool:
        return self.ratio >= self.threshold


# --- machine class ------------------------------------------------------------------------------------


def _cpuinfo(text: str) -> dict[str, str]:
    info: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and key.strip() not in info:
            info[key.strip()] = value.strip()
    return info


def cpu_model(cpuinfo_text: str | None = None) -> str:
    """The CPU model string: x86 ``model name``; on aarch64 (often without one) implementer + part."""
    if cpuinfo_text is None:
        try:
            cpuinfo_text = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo_text = ""
    info = _cpuinfo(cpuinfo_text)
    for key in ("model name", "Model name", "Hardware"):
        if info.get(key):
            return " ".join(info[key].split())
    if info.get("CPU implementer") and info.get("CPU part"):
        return f"arm implementer {info['CPU implementer']} part {info['CPU part']}"
    return platform.processor() or platform.machine() or "unknown cpu"


def active_isa() -> str:
    from ishowtts.audio import active_isa as native_isa

    return native_isa()


def machine_class(model: str | None = None, isa: str | None = None) -> str:
    """The key that baselines are recorded under: ``"<CPU model> [<matrix unit>] | <active ISA>"``. The
    matrix unit (``amx``, ``avx512_bf16`` or ``none``: :mod:`ishowtts.hardware`) is part of it because VMs
    report one model string ("AMD EPYC") for CPU generations with and without bf16 units."""
    if model is None:
        from ishowtts.hardware import cpu_features

        model = f"{cpu_model()} [{cpu_features().matrix_unit}]"
    return f"{model} | {isa if isa is not None else active_isa()}"


def isa_of(machine: str) -> str:
    return machine.rsplit(" | ", 1)[-1]


# --- floors -------------------------------------------------------------------------------------------


def load_floors(path: Path) -> dict:
    floors = json.loads(path.read_text())
    if not isinstance(floors.get("required"), dict) or not isinstance(floors.get("baselines", {}), dict):
        raise ValueError(f"{path}: expected {{'required': {{...}}, 'baselines': {{...}}}}")
    return floors


def threshold_for(name: str, floors: dict, machine: str, kernel_set: str | None = None) -> Threshold:
    """The threshold a case must reach on ``machine`` (see the module docstring); ``kernel_set`` replaces
    the machine's native ISA as the key of the required floor (:attr:`GateCase.kernel_set`)."""
    per_isa = floors["required"].get(name)
    if per_isa is None:
        raise KeyError(f"no required floor committed for gate case {name!r} in benchmarks/floors.json")
    isa = kernel_set if kernel_set is not None else isa_of(machine)
    if isa in per_isa:
        required = float(per_isa[isa])
    elif ANY_ISA in per_isa:
        required = float(per_isa[ANY_ISA])
    else:
        raise KeyError(f"gate case {name!r} has no required floor for ISA {isa!r} (nor {ANY_ISA!r})")
    baseline = floors.get("baselines", {}).get(machine, {}).get("ratios", {}).get(name)
    if baseline is None:
        return Threshold(required, required, None)
    return Threshold(max(required, float(baseline) * (1.0 - MARGIN)), required, float(baseline))


def baseline_entry(ratios_per_run: dict[str, list[float]], recorded: str) -> dict:
    """The ``baselines`` entry for one machine class: the median ratio of each case over its runs."""
    runs = min((len(v) for v in ratios_per_run.values()), default=0)
    return {
        "recorded": recorded,
        "runs": runs,
        "ratios": {name: round(statistics.median(v), 3) for name, v in sorted(ratios_per_run.items())},
    }


def missing_baselines(floors: dict, machine: str, names: Iterable[str]) -> list[str]:
    have = floors.get("baselines", {}).get(machine, {}).get("ratios", {})
    return [n for n in names if n not in have]


# --- measuring ----------------------------------------------------------------------------------------


def min_time(fn: Callable[[], object], rounds: int) -> float:
    """The fastest of ``rounds`` timed calls, after one untimed warm-up call."""
    fn()
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def time_once(fn: Callable[[], object], inner: int) -> float:
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t0) / inner


def measure(case: GateCase) -> tuple[float, float]:
    """Alternate ours/peer ``case.rounds`` times after one warm-up each; return (ours_min, peer_min)."""
    case.ours()
    case.peer()
    ours, peer = [], []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(case.rounds):
            # Alternate who goes first so neither systematically enjoys a warmer cache.
            if i % 2 == 0:
                ours.append(time_once(case.ours, case.inner))
                peer.append(time_once(case.peer, case.inner))
            else:
                peer.append(time_once(case.peer, case.inner))
                ours.append(time_once(case.ours, case.inner))
    finally:
        if gc_was_enabled:
            gc.enable()
    return min(ours), min(peer)


def evaluate(case: GateCase, floors: dict, machine: str) -> GateResult:
    th = threshold_for(case.name, floors, machine, case.kernel_set() if case.kernel_set else None)
    ours_min, peer_min = measure(case)
    return GateResult(
        case.name, case.peer_name, ours_min, peer_min, peer_min / ours_min, th.value, th.required,
        th.baseline, machine,
    )  # fmt: skip
