"""Buffer pool vs numpy allocation under a server-like pattern (information only; no gate).

The pattern: a worker thread (the engine) allocates an output buffer of 1-10 s of float32 audio at 24 or
48 kHz (96 KiB - 1.9 MiB), writes every sample (the first write is where page faults land), and hands it
to a second thread (the event loop), which keeps the last few in flight (being sent) and drops the older
ones, so every buffer is freed in a different thread from the one that allocated it.

Contenders: ``pool`` (a :class:`~ishowtts.audio.pool.BufferPool`, 256 MiB cap), ``np_empty`` (np.empty + the
write) and ``np_zeros`` (np.zeros + the write). Measured per operation: p50/p99 of allocate + first write in
the worker, p50/p99 of the free in the event loop, minor page faults (getrusage, worker thread and whole
process), and RSS over time (sampled every 25 operations, warm-up included). The first 500 operations warm
every contender up unmeasured, as a long-running server is warm. Every (allocator environment, contender) pair runs in a fresh process:

- ``glibc``: glibc malloc with its defaults (dynamic mmap threshold);
- ``glibc_mmap_pinned``: ``MALLOC_MMAP_THRESHOLD_=131072`` pins the mmap threshold at glibc's default
  128 KiB, which disables the dynamic adjustment, so every audio-sized buffer is mmapped on allocation and
  unmapped on free (as with any tuned or long-running process whose threshold never rose);
- ``jemalloc`` / ``mimalloc`` via LD_PRELOAD when the libraries are installed (skipped otherwise).

Run ``python benchmarks/test_pool.py`` for the table and verdicts, or ``pytest benchmarks/test_pool.py -s``
(results also land in pytest-benchmark's ``extra_info``). The verdict is printed whichever way it goes.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import queue
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
MiB = 1 << 20
STRATEGIES = ("pool", "np_empty", "np_zeros")
DEFAULT_OPS = 3000
IN_FLIGHT = 4  # buffers the event loop keeps alive while "sending" them
WARMUP = 500  # operations run before measuring (every contender alike): a server runs warm

_PRELOADS = {
    "jemalloc": ["/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2"],
    "mimalloc": ["/usr/lib/x86_64-linux-gnu/libmimalloc.so.2", "/usr/lib/aarch64-linux-gnu/libmimalloc.so.2"],
}


def environments() -> dict[str, dict[str, str] | None]:
    """Allocator environments; None marks one that is unavailable on this machine."""
    envs: dict[str, dict[str, str] | None] = {
        "glibc": {},
        "glibc_mmap_pinned": {"MALLOC_MMAP_THRESHOLD_": "131072"},
    }
    for name, paths in _PRELOADS.items():
        found = next((p for p in paths if os.path.exists(p)), None)
        envs[name] = {"LD_PRELOAD": found} if found else None
    return envs


# ------------------------------------------------------------------------------------------- child side
def _sizes(ops: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    seconds = rng.uniform(1.0, 10.0, ops)
    rates = rng.choice([24000, 48000], ops)
    return (seconds * rates).astype(np.int64)


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MiB


def _minflt(who: int) -> int:
    return resource.getrusage(who).ru_minflt


def run_pattern(strategy: str, ops: int = DEFAULT_OPS, seed: int = 0) -> dict:
    """Runs the two-thread pattern in this process; returns its measurements."""
    pool = None
    if strategy == "pool":
        from ishowtts.audio.pool import BufferPool

        pool = BufferPool(256 * MiB)
        alloc = pool.empty
    elif strategy == "np_empty":
        alloc = np.empty
    elif strategy == "np_zeros":
        alloc = np.zeros
    else:
        raise ValueError(f"unknown strategy {strategy!r}")
    sizes = _sizes(WARMUP + ops, seed)
    q: queue.Queue = queue.Queue(maxsize=IN_FLIGHT)
    alloc_ns = np.zeros(ops, np.int64)
    free_ns: list[int] = []
    rss: list[tuple[int, float]] = []
    worker_faults = [0]
    thread_rusage = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)

    measuring = threading.Event()
    faults0 = [0]

    def worker() -> None:
        f0 = 0
        for i, n in enumerate(sizes):
            if i == WARMUP:
                f0 = _minflt(thread_rusage)
                faults0[0] = _minflt(resource.RUSAGE_SELF)
                measuring.set()
            t0 = time.perf_counter_ns()
            a = alloc(int(n), np.float32)
            a.fill(0.25)  # the first write of every sample
            dt = time.perf_counter_ns() - t0
            if i >= WARMUP:
                alloc_ns[i - WARMUP] = dt
            q.put(a)
            del a
            if i % 25 == 0:
                rss.append((i - WARMUP, round(_rss_mib(), 1)))
        worker_faults[0] = _minflt(thread_rusage) - f0
        q.put(None)

    def event_loop() -> None:
        window: collections.deque = collections.deque()
        while (a := q.get()) is not None:
            window.append(a)
            del a
            if len(window) > IN_FLIGHT:
                t0 = time.perf_counter_ns()
                window.popleft()  # the last reference: freed (or returned to the pool) here
                if measuring.is_set():
                    free_ns.append(time.perf_counter_ns() - t0)
        window.clear()

    rss0 = _rss_mib()
    t_start = time.perf_counter()
    threads = [threading.Thread(target=worker), threading.Thread(target=event_loop)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t_start
    total_faults = _minflt(resource.RUSAGE_SELF) - faults0[0]
    a_us = alloc_ns / 1e3
    f_us = np.asarray(free_ns) / 1e3
    out = {
        "strategy": strategy,
        "ops": ops,
        "warmup_ops": WARMUP,
        "alloc_write_p50_us": round(float(np.percentile(a_us, 50)), 1),
        "alloc_write_p99_us": round(float(np.percentile(a_us, 99)), 1),
        "alloc_write_mean_us": round(float(a_us.mean()), 1),
        "free_p50_us": round(float(np.percentile(f_us, 50)), 2),
        "free_p99_us": round(float(np.percentile(f_us, 99)), 2),
        "worker_faults_per_op": round(worker_faults[0] / ops, 1),
        "process_faults_per_op": round(total_faults / ops, 1),
        "rss_start_mib": round(rss0, 1),
        "rss_peak_mib": max(r for _, r in rss),
        "rss_end_mib": round(_rss_mib(), 1),
        "rss_over_time_mib": rss[:: max(1, len(rss) // 12)],
        "wall_s": round(wall, 3),
        "mean_buffer_mib": round(float(sizes.mean()) * 4 / MiB, 2),
    }
    if pool is not None:
        s = pool.stats()
        out["pool_hit_rate"] = round(s.hit_rate, 4)  # warm-up included
        out["pool_misses"] = s.misses
        out["pool_bytes_held_mib"] = round(s.bytes_held / MiB, 1)
        out["pool_peak_mib"] = round(s.peak_bytes / MiB, 1)
    return out


# ------------------------------------------------------------------------------------------ parent side
def run_child(env_name: str, strategy: str, ops: int = DEFAULT_OPS) -> dict:
    extra = environments()[env_name]
    if extra is None:
        raise RuntimeError(f"allocator environment {env_name!r} is not available here")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "LD_PRELOAD"}
    env.update(extra)
    cmd = [sys.executable, str(HERE), "--child", strategy, "--ops", str(ops)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"child {env_name}/{strategy} failed:\n{proc.stderr}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["env"] = env_name
    return res


def _judge(ratio: float, lower_is_better: bool = True) -> str:
    r = ratio if lower_is_better else 1.0 / ratio
    return "wins" if r <= 0.9 else ("loses" if r >= 1.1 else "ties")


def verdict(results: dict[str, dict]) -> str:
    """Pool against each numpy contender, metric by metric (wins/loses beyond +-10%, else ties).

    The headline looks at allocate + first write latency (p50, p99, mean): POOL WINS when it wins at least
    one and loses none, MIXED when it wins some and loses some, POOL DOES NOT WIN otherwise.
    """
    pool = results["pool"]
    lines = []
    for name in (s for s in STRATEGIES if s != "pool"):
        other = results[name]
        parts = []
        for key, label in (
            ("alloc_write_p50_us", "p50"),
            ("alloc_write_p99_us", "p99"),
            ("alloc_write_mean_us", "mean"),
            ("free_p99_us", "free p99"),
            ("rss_peak_mib", "RSS peak"),
        ):
            ratio = pool[key] / max(other[key], 1e-9)
            parts.append(f"{label} {ratio:.2f}x ({_judge(ratio)})")
        pf, of = pool["process_faults_per_op"], other["process_faults_per_op"]
        parts.append(f"faults/op {pf} vs {of} ({_judge(max(pf, 0.1) / max(of, 0.1))})")
        latency = parts[:3]  # p50, p99, mean of allocate + first write: the headline
        won = any(p.endswith("(wins)") for p in latency)
        lost = any(p.endswith("(loses)") for p in latency)
        overall = "MIXED" if won and lost else ("POOL WINS" if won else "POOL DOES NOT WIN")
        lines.append(f"{overall} vs {name}: " + ", ".join(parts))
    return "\n".join(lines)


def format_table(env_name: str, results: dict[str, dict]) -> str:
    head = (
        f"{'contender':10s} {'p50 us':>8s} {'p99 us':>8s} {'mean us':>8s} {'free p50':>9s} {'free p99':>9s} "
        f"{'flt/op wk':>9s} {'flt/op all':>10s} {'RSS peak':>9s} {'RSS end':>8s}"
    )
    lines = [f"== allocator: {env_name}", head]
    for s in STRATEGIES:
        r = results[s]
        lines.append(
            f"{s:10s} {r['alloc_write_p50_us']:8.1f} {r['alloc_write_p99_us']:8.1f} {r['alloc_write_mean_us']:8.1f} "
            f"{r['free_p50_us']:9.2f} "
            f"{r['free_p99_us']:9.2f} {r['worker_faults_per_op']:9.1f} {r['process_faults_per_op']:10.1f} "
            f"{r['rss_peak_mib']:9.1f} {r['rss_end_mib']:8.1f}"
        )
    if "pool_hit_rate" in results["pool"]:
        lines.append(f"pool hit rate {results['pool']['pool_hit_rate']:.3f}")
    lines.append(verdict(results))
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ pytest
try:
    import pytest
except ImportError:  # script mode without pytest installed
    pytest = None

if pytest is not None:
    _ENVS = environments()

    @pytest.mark.parametrize("env_name", list(_ENVS))
    def test_pool_server_pattern(benchmark, env_name: str) -> None:
        if _ENVS[env_name] is None:
            pytest.skip(f"{env_name} is not installed")
        results: dict[str, dict] = {}
        for s in ("np_empty", "np_zeros"):
            results[s] = run_child(env_name, s)
        results["pool"] = benchmark.pedantic(run_child, args=(env_name, "pool"), rounds=1, iterations=1)
        benchmark.group = "pool vs numpy, server pattern (child wall time; see extra_info)"
        benchmark.extra_info.update(
            {s: {k: v for k, v in r.items() if k != "rss_over_time_mib"} for s, r in results.items()}
        )
        benchmark.extra_info["verdict"] = verdict(results)
        print("\n" + format_table(env_name, results))
        pool = results["pool"]
        assert pool["pool_hit_rate"] > 0.9  # the pattern reuses buffers once warm
        assert pool["pool_bytes_held_mib"] <= 256


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", choices=STRATEGIES, help="(internal) run one contender in this process")
    ap.add_argument("--ops", type=int, default=DEFAULT_OPS)
    ap.add_argument("--json", help="write all results here")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_pattern(args.child, args.ops)))
        return 0
    all_results: dict[str, dict] = {}
    for env_name, extra in environments().items():
        if extra is None:
            print(f"== allocator: {env_name}: not installed, skipped")
            continue
        results = {s: run_child(env_name, s, args.ops) for s in STRATEGIES}
        all_results[env_name] = results
        print(format_table(env_name, results), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(all_results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
