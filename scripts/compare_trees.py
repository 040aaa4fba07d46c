"""Same-run before/after benchmark comparison of two git revisions.

    python scripts/compare_trees.py --before 07436d8 --after HEAD \\
        benchmarks/test_engine.py benchmarks/test_fastpath.py --rounds 2

Each revision is checked out into its own ``git worktree`` under a temporary directory, with the native core
copied from the installed package (the C++ sources must be identical between the two revisions, which this
script checks). The benchmark files are run from each tree, interleaved (before, after, before, after, ...)
so that a machine that heats up or gets busier mid-run penalises both sides alike. It prints, per benchmark,
the median of the per-round means, before and after, and their ratio (after / before: below 1 is faster),
then the same for every number the benchmark stored in ``extra_info`` (its own alternating timings in
seconds and the ratios it derives from them: read those by their meaning, e.g. a speed-up ratio should not
drop).

A benchmark present in only one tree (renamed or new) is listed with a dash on the other side.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Run pytest with ``ishowtts`` imported from TREE/python rather than the editable install.
_RUNNER = """
import os, sys
tree = os.path.abspath(sys.argv[1])
sys.meta_path[:] = [f for f in sys.meta_path
                    if "editable" not in type(f).__module__.lower() and "skbc" not in repr(f).lower()]
sys.path.insert(0, os.path.join(tree, "python"))
os.chdir(tree)
import ishowtts
assert ishowtts.__file__.startswith(tree), ishowtts.__file__
import pytest
sys.exit(pytest.main(sys.argv[2:]))
"""


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], check=True, capture_output=True, text=True).stdout


def checkout(rev: str, dest: Path) -> None:
    git("worktree", "add", "--detach", "-f", str(dest), rev)
    spec = importlib.util.find_spec("ishowtts._native")  # the installed build, reused by both trees
    if spec is None or spec.origin is None:
        raise SystemExit("no built native core in the installed ishowtts package")
    shutil.copy2(spec.origin, dest / "python" / "ishowtts" / Path(spec.origin).name)


def run(tree: Path, bench: str, out: Path, extra: list[str]) -> None:
    cmd = [sys.executable, "-c", _RUNNER, str(tree), "-q", bench, "-p", "no:cacheprovider",
           f"--benchmark-json={out}", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    tail = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else [proc.stderr[-500:]]
    print(f"  {tree.name:6s} {bench}: {' '.join(tail)}", flush=True)
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
        raise SystemExit(f"{bench} failed in {tree}")


def means(path: Path) -> dict[str, float]:
    """Each benchmark's mean time, and every number it recorded in ``extra_info`` (its own same-run
    timings and ratios, named ``benchmark[key]``)."""
    data = json.loads(path.read_text())
    out: dict[str, float] = {}
    for b in data["benchmarks"]:
        name = b["fullname"].split("::", 1)[1]
        out[name] = b["stats"]["mean"]
        for key, value in b.get("extra_info", {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[f"{name}[{key}]"] = float(value)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", default="HEAD")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", type=Path, help="write the table here too")
    ap.add_argument("benchmarks", nargs="+", help="benchmark files, relative to the repository root")
    ap.add_argument("--pytest-args", default="--benchmark-min-rounds=3 --benchmark-max-time=0.5")
    args = ap.parse_args()

    if git("diff", "--stat", args.before, args.after, "--", "csrc").strip():
        raise SystemExit("csrc/ differs between the revisions: the shared native core would not match both")
    work = Path(tempfile.mkdtemp(prefix="ishowtts-cmp-"))
    trees = {"before": work / "before", "after": work / "after"}
    try:
        checkout(args.before, trees["before"])
        checkout(args.after, trees["after"])
        results: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
        for rnd in range(args.rounds):
            print(f"round {rnd + 1}/{args.rounds}", flush=True)
            for bench in args.benchmarks:
                for side, tree in trees.items():
                    out = work / f"{side}-{Path(bench).stem}-{rnd}.json"
                    run(tree, bench, out, args.pytest_args.split())
                    for name, mean in means(out).items():
                        results[side].setdefault(f"{Path(bench).stem}::{name}", []).append(mean)
        if args.json:  # the raw per-round figures first, so that nothing measured is lost
            args.json.write_text(json.dumps({"cpu": cpu_model(), "raw": results}, indent=1))
        rows = []
        for name in sorted(set(results["before"]) | set(results["after"])):
            b = statistics.median(results["before"][name]) if name in results["before"] else None
            a = statistics.median(results["after"][name]) if name in results["after"] else None
            rows.append({"benchmark": name, "before_s": b, "after_s": a,
                         "ratio": (a / b) if a is not None and b else None})
        print(f"\nCPU: {cpu_model()}; before {args.before}, after {args.after}; "
              f"median of {args.rounds} interleaved rounds (mean time per call)")
        print(f"{'benchmark':80s} {'before':>10s} {'after':>10s} {'after/before':>12s}")
        for r in rows:
            def fmt(v: float | None, raw: bool = "[" in r["benchmark"]) -> str:
                if v is None:
                    return f"{'-':>11s}"
                return f"{v:11.4g}" if raw else f"{v * 1e3:9.2f}ms"

            ratio = f"{r['ratio']:12.3f}" if r["ratio"] is not None else f"{'-':>12s}"
            print(f"{r['benchmark'][:80]:80s} {fmt(r['before_s'])}{fmt(r['after_s'])} {ratio}")
        if args.json:
            args.json.write_text(json.dumps({"cpu": cpu_model(), "before": args.before, "after": args.after,
                                             "rounds": args.rounds, "rows": rows}, indent=1))
    finally:
        for tree in trees.values():
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
                           capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
