"""The benchmark gate (benchmarks/gate.py, gatelib.py): per-machine-class baselines, required floors, retries.

The rules of issue 10: an unknown CPU class is gated on ``required`` alone and is told what to commit; a
known class gets the regression margin against its own baseline only; a real 2x slowdown fails, also after
the re-measurement in a fresh process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, load_module

BENCH = REPO / "benchmarks"
# under the names that gate.py and the gate cases import them by
gatelib = load_module(BENCH / "gatelib.py", "gatelib")
gate = load_module(BENCH / "gate.py", "gate")
MARGIN, cpu_model, isa_of = gatelib.MARGIN, gatelib.cpu_model, gatelib.isa_of
load_floors, machine_class, threshold_for = gatelib.load_floors, gatelib.machine_class, gatelib.threshold_for
FLOORS = load_floors(BENCH / "floors.json")
ISAS = ("avx2+fma", "neon", "scalar")
CASE = "wav_pcm16_10s_24k_vs_numpy"


def test_cpu_model_and_class() -> None:
    assert cpu_model("processor\t: 0\nmodel name\t: AMD EPYC  9R14 96-Core Processor\n") == (
        "AMD EPYC 9R14 96-Core Processor"
    )
    arm = "processor\t: 0\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU part\t: 0xd0c\n"
    assert cpu_model(arm) == "arm implementer 0x41 part 0xd0c"
    assert machine_class("Some CPU", "neon") == "Some CPU | neon"
    assert isa_of(machine_class()) in ISAS


def test_every_case_has_a_required_floor_for_every_kernel_set() -> None:
    cases = gate.load_cases(BENCH / "gates", None)
    assert len(cases) == 9
    assert set(FLOORS["required"]) == {c.name for c in cases}
    for case in cases:
        if case.kernel_set is not None:  # keyed by the CPU's matrix unit: gated on AMX, reported elsewhere
            assert case.kernel_set() in ("amx", "avx512_bf16", "none")
            assert threshold_for(case.name, FLOORS, "x | avx2+fma", "amx").required == 0.3
            for unit in ("avx512_bf16", "none"):
                assert threshold_for(case.name, FLOORS, "x | avx2+fma", unit).required == 0.0
            continue
        for isa in ISAS:
            assert threshold_for(case.name, FLOORS, f"x | {isa}").required > 0


def test_unknown_class_is_gated_on_required_alone() -> None:
    for name in FLOORS["required"]:
        for isa in ISAS:
            th = threshold_for(name, FLOORS, f"A CPU nobody has recorded | {isa}")
            assert th.baseline is None
            assert (
                th.value
                == th.required
                == FLOORS["required"][name].get(isa, FLOORS["required"][name].get("any"))
            )


def test_known_class_gets_the_margin_against_its_own_baseline_only() -> None:
    floors = {
        "required": {CASE: {"avx2+fma": 3.0}},
        "baselines": {
            "CPU A | avx2+fma": {"ratios": {CASE: 10.0}},
            "CPU B | avx2+fma": {"ratios": {CASE: 2.0}},
        },
    }
    a = threshold_for(CASE, floors, "CPU A | avx2+fma")
    assert a.baseline == 10.0 and a.value == pytest.approx(10.0 * (1 - MARGIN))
    assert threshold_for(CASE, floors, "CPU B | avx2+fma").value == 3.0  # required stays the floor
    assert (
        threshold_for(CASE, floors, "CPU C | avx2+fma").value == 3.0
    )  # another class's baseline never applies
    with pytest.raises(KeyError, match="no required floor"):
        threshold_for("unknown_case", floors, "CPU A | avx2+fma")
    with pytest.raises(KeyError, match="neon"):
        threshold_for(CASE, floors, "CPU A | neon")


def test_required_breaks_a_2x_slowdown_of_the_slowest_recorded_class() -> None:
    """Each committed baseline passes its required floor, and half the lowest one per kernel set fails it."""
    assert FLOORS["baselines"], "this machine class's baselines are committed (benchmarks/floors.json)"
    for name, per_isa in FLOORS["required"].items():
        for isa in ISAS:
            seen = [
                entry["ratios"][name]
                for cls, entry in FLOORS["baselines"].items()
                if isa_of(cls) == isa and name in entry["ratios"]
            ]
            if not seen:
                continue
            required = per_isa.get(isa, per_isa.get("any"))
            if required == 0:  # reported, not gated on this kernel set (floors keyed by another unit)
                continue
            assert min(seen) / 2 < required < min(seen), (name, isa, required, seen)


# --- the gate end to end, in subprocesses as CI runs it ------------------------------------------------

# A gate case module, run by gate.py in its own process (benchmarks/ is on its path): it wraps the real wav
# case in a slowdown, loading the real module with the benchmarks' loader (gate.load_module).
CASES_MODULE = """
import os, time
from pathlib import Path

from gate import load_module

mod = load_module(Path({bench!r}) / "gates" / "wav.py", "real_wav_gates")
case = next(c for c in mod.CASES if c.name == {case!r})
SLOWDOWN = float(os.environ.get("GATE_TEST_SLOWDOWN", "1"))
fast = case.ours

def slowed():
    t0 = time.perf_counter()
    fast()
    spent = time.perf_counter() - t0
    while time.perf_counter() - t0 < SLOWDOWN * spent:  # exactly SLOWDOWN x the kernel's own time
        pass

if SLOWDOWN != 1:
    case.ours = slowed
CASES = [case]
"""


def _gate(tmp: Path, machine: str, slowdown: float = 1.0, *extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, GATE_TEST_SLOWDOWN=str(slowdown))
    return subprocess.run(
        [sys.executable, str(BENCH / "gate.py"), "--floors", str(tmp / "floors.json"), "--cases-dir",
         str(tmp / "cases"), "--machine-class", machine, *extra],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


@pytest.mark.slow
def test_gate_end_to_end_unknown_class_then_recorded_then_a_real_2x_slowdown(tmp_path: Path) -> None:
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "wav_numpy.py").write_text(CASES_MODULE.format(bench=str(BENCH), case=CASE))
    floors = {"required": {CASE: FLOORS["required"][CASE]}, "baselines": {}}
    (tmp_path / "floors.json").write_text(json.dumps(floors))
    machine = machine_class("gate test cpu")

    # 1. An unknown class: gated on required, and told what to commit, in floors.json's own form.
    res = _gate(tmp_path, machine)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "no baseline for this class" in res.stdout and "gated on 'required' alone" in res.stdout
    snippet = json.loads(res.stdout[res.stdout.index("\n{") : res.stdout.rindex("}") + 1])
    ratio = snippet[machine]["ratios"][CASE]
    assert ratio >= threshold_for(CASE, floors, machine).required

    assert set(snippet[machine]) == {"recorded", "runs", "ratios"}

    # 2. Recorded (the median of 3 fresh processes; one process can be an outlier), the class is known:
    #    the margin applies against that baseline.
    res = _gate(tmp_path, machine, 1.0, "--update-baselines", "--runs", "3")
    assert res.returncode == 0, res.stdout + res.stderr
    assert not list(tmp_path.glob("*.tmp"))  # floors.json is written atomically
    entry = load_floors(tmp_path / "floors.json")["baselines"][machine]
    assert entry["runs"] == 3
    baseline = entry["ratios"][CASE]
    res = _gate(tmp_path, machine)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"baseline {baseline:.2f} - 30%" in res.stdout

    # 3. A real 2x slowdown of our kernel fails, also when re-measured in fresh processes.
    res = _gate(tmp_path, machine, 2.0)
    assert res.returncode == 1, res.stdout + res.stderr
    assert res.stdout.count("FAIL " + CASE) == 3  # the run and its two fresh-process re-measurements
    assert "re-measuring" in res.stdout and "GATE FAILED" in res.stdout
