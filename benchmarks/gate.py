"""Benchmark regression gate: ``python benchmarks/gate.py [--only SUBSTR] [--json OUT] [--update-baselines]``.

Runs every case in ``benchmarks/gates/*.py`` (see gatelib.py), prints each same-run ratio against its
threshold on this machine class, and exits 1 if a case stays below it: a failing case is re-measured in a
fresh process (``--retries``, 2 by default) and fails the gate only when every measurement is under.

On a machine class with no committed baseline the cases are gated on ``required`` alone, and the gate
prints this class's ratios in the form ``floors.json`` takes. ``--update-baselines --runs 5`` measures
every case in 5 fresh processes and writes their medians into ``floors.json`` for this class.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from gatelib import (
    MARGIN,
    GateCase,
    GateResult,
    baseline_entry,
    cpu_model,
    evaluate,
    load_floors,
    machine_class,
    missing_baselines,
)
from ishowtts.openmp import prefer_passive_wait

HERE = Path(__file__).resolve().parent


def load_module(path: Path, name: str | None = None) -> ModuleType:
    """The Python file at ``path`` as a module, executed once per process and kept in ``sys.modules``
    under ``name`` (by default ``gates.<file stem>``); the one way the benchmarks load a file by path."""
    file = path.resolve()
    name = name or f"gates.{file.stem}"
    module = sys.modules.get(name)
    if module is not None:
        if Path(getattr(module, "__file__", "") or "").resolve() != file:
            raise ImportError(f"module name {name!r} is already taken by {module!r}, not {file}")
        return module
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {file} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def load_cases(cases_dir: Path, only: str | None) -> list[GateCase]:
    cases: list[GateCase] = []
    for path in sorted(cases_dir.glob("*.py")):
        if path.name.startswith("_"):
            continue
        cases.extend(getattr(load_module(path), "CASES", []))
    if only:
        cases = [c for c in cases if only in c.name]
    return cases


def fmt(r: GateResult) -> str:
    verdict = "PASS" if r.passed else "FAIL"
    if r.baseline is None:
        rule = f"required {r.required:.2f}; no baseline for this class"
    else:
        rule = f"max(required {r.required:.2f}, baseline {r.baseline:.2f} - {MARGIN:.0%})"
    return (
        f"{verdict} {r.name}: ours {r.ours_min_s * 1e3:.3f} ms, {r.peer_name} {r.peer_min_s * 1e3:.3f} ms, "
        f"ratio {r.ratio:.2f}x (threshold {r.threshold:.2f}x = {rule})"
    )


def _child_args(args: argparse.Namespace, machine: str) -> list[str]:
    return [
        sys.executable, str(Path(__file__)), "--floors", str(args.floors), "--cases-dir", str(args.cases_dir),
        "--machine-class", machine, "--retries", "0",
    ]  # fmt: skip


def _measure_in_fresh_processes(args: argparse.Namespace, machine: str) -> dict[str, list[float]]:
    """Run the selected cases ``args.runs`` times, each in a fresh process; return each case's ratios."""
    ratios: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            out = Path(tmp) / f"run{i}.json"
            cmd = (
                _child_args(args, machine)
                + ["--json", str(out)]
                + (["--only", args.only] if args.only else [])
            )
            subprocess.call(cmd, stdout=subprocess.DEVNULL)
            for row in json.loads(out.read_text()):
                ratios.setdefault(row["name"], []).append(row["ratio"])
    return ratios


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="run only cases whose name contains this")
    ap.add_argument("--json", help="write results here")
    ap.add_argument("--floors", type=Path, default=HERE / "floors.json")
    ap.add_argument("--cases-dir", type=Path, default=HERE / "gates")
    ap.add_argument("--machine-class", help="override the detected machine class (CPU model [matrix unit] | active ISA)")
    ap.add_argument("--retries", type=int, default=2, help="fresh-process re-measurements of a failing case")
    ap.add_argument("--no-retry", action="store_true", help="same as --retries 0")
    ap.add_argument("--runs", type=int, default=1, help="measure in this many fresh processes (median)")
    ap.add_argument("--update-baselines", action="store_true", help="record this class's ratios as baselines")
    args = ap.parse_args(argv)
    prefer_passive_wait()  # torch's OpenMP as `python -m ishowtts` runs it, set before the cases load torch
    retries = 0 if args.no_retry else args.retries

    floors = load_floors(args.floors)
    machine = args.machine_class or machine_class()
    print(f"machine class: {machine!r} (cpu model {cpu_model()!r})", flush=True)

    cases = load_cases(args.cases_dir, args.only)
    if not cases:
        print(f"no gate case matches {args.only!r}")
        return 2
    if args.runs > 1 and not args.update_baselines:
        ap.error("--runs N (N > 1) records baselines: use it with --update-baselines")
    results: list[GateResult] = []
    failed: list[str] = []
    if args.runs > 1:
        ratios = _measure_in_fresh_processes(args, machine)
        for name, values in ratios.items():
            print(
                f"{name}: ratios {', '.join(f'{v:.2f}' for v in values)} over {len(values)} fresh processes"
            )
    else:
        ratios = {}
        for case in cases:
            r = evaluate(case, floors, machine)
            print(fmt(r), flush=True)
            results.append(r)
            ratios[r.name] = [r.ratio]
            if not r.passed:
                failed.append(case.name)

    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ | {"passed": r.passed} for r in results], indent=2))

    entry = baseline_entry(ratios, dt.date.today().isoformat())
    if args.update_baselines:
        cls = floors.setdefault("baselines", {}).setdefault(machine, {"ratios": {}})
        cls.update({k: v for k, v in entry.items() if k != "ratios"})
        cls["ratios"].update(entry["ratios"])
        _write_atomic(args.floors, json.dumps(floors, indent=2, sort_keys=True) + "\n")
        print(f"recorded baselines for {machine!r} in {args.floors}")
        return 0

    missing = missing_baselines(floors, machine, [c.name for c in cases])
    if missing:
        print(
            f"no baseline for {len(missing)} case(s) on machine class {machine!r}: gated on 'required' alone. "
            f'To record them, add this under "baselines" in {args.floors.name} '
            "(or run: python benchmarks/gate.py --update-baselines --runs 5):"
        )
        print(json.dumps({machine: entry}, indent=2))

    if failed and retries > 0:
        still = []
        for name in failed:
            for attempt in range(1, retries + 1):
                print(f"re-measuring {name} in a fresh process ({attempt}/{retries})", flush=True)
                if subprocess.call([*_child_args(args, machine), "--only", name]) == 0:
                    break
            else:
                still.append(name)
        failed = still
    if failed:
        print(f"GATE FAILED on {machine!r}: {failed}")
        return 1
    print(f"gate passed: {len(cases)} case(s) on {machine!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
