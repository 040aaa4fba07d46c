"""Benchmark regression gate: ``python benchmarks/gate.py [--only SUBSTR] [--json OUT] [--update-baselines]``.

Runs every case in ``benchmarks/gates/*.py`` (see gatelib.py), prints each same-run ratio against its
floor, and exits 1 if any case is below its threshold. A failing case is retried once in a fresh process
before the gate fails (``--no-retry`` disables that; the retry itself runs with it).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gatelib import GateCase, GateResult, evaluate  # noqa: E402

FLOORS = HERE / "floors.json"


def load_cases(only: str | None) -> list[GateCase]:
    cases: list[GateCase] = []
    for path in sorted((HERE / "gates").glob("*.py")):
        if path.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"gates.{path.stem}", path)
        assert spec and spec.loader
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        cases.extend(getattr(mod, "CASES", []))
    if only:
        cases = [c for c in cases if only in c.name]
    return cases


def fmt(r: GateResult) -> str:
    verdict = "PASS" if r.passed else "FAIL"
    base = f"{r.baseline:.2f}" if r.baseline is not None else "-"
    return (
        f"{verdict} {r.name}: ours {r.ours_min_s * 1e3:.3f} ms, {r.peer_name} {r.peer_min_s * 1e3:.3f} ms, "
        f"ratio {r.ratio:.2f}x (threshold {r.threshold:.2f}x = max(required {r.required:.2f}, baseline {base} - 30%))"
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", help="run only cases whose name contains this")
    ap.add_argument("--json", help="write results here")
    ap.add_argument("--no-retry", action="store_true")
    ap.add_argument("--update-baselines", action="store_true", help="record measured ratios as baselines")
    args = ap.parse_args()

    floors = json.loads(FLOORS.read_text()) if FLOORS.exists() else {}
    results = []
    failed: list[str] = []
    for case in load_cases(args.only):
        r = evaluate(case, floors)
        print(fmt(r), flush=True)
        results.append(r)
        if not r.passed:
            failed.append(case.name)

    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ | {"passed": r.passed} for r in results], indent=2))
    if args.update_baselines:
        for r in results:
            floors.setdefault(r.name, {"required": r.required})["baseline"] = round(r.ratio, 3)
        FLOORS.write_text(json.dumps(floors, indent=2, sort_keys=True) + "\n")

    if failed and not args.no_retry:
        print(f"retrying {len(failed)} failing case(s) once in a fresh process", flush=True)
        still = []
        for name in failed:
            rc = subprocess.call([sys.executable, str(Path(__file__)), "--only", name, "--no-retry"])
            if rc != 0:
                still.append(name)
        failed = still
    if failed:
        print(f"GATE FAILED: {failed}")
        return 1
    print(f"gate passed: {len(results)} case(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
