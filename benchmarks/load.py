"""Load and soak harness: the real ``python -m ishowtts serve`` under N concurrent loopback clients.

    python benchmarks/load.py --engine espeak --clients 8 --requests 400 --duration 120
    python benchmarks/load.py --engine espeak --soak 600 --json soak.json
    python benchmarks/load.py --engine f5-tiny --clients 4 --requests 60

Clients mix ``POST /api/tts`` (JSON or raw WAV), streamed ``POST /v1/audio/speech`` (wav/pcm; a few abort
mid-stream on purpose) and ``POST /api/danmaku/enqueue``; one SSE reader on ``/api/danmaku/events`` plays
the danmaku clips. The run is bounded by ``--requests`` and ``--duration``.

Reported: throughput, latency p50/p95/p99 and time to first audio per class, outcomes and errors by kind,
and the server's RSS / open fds / threads over time (from ``/proc``). Accounting (any mismatch is a
problem and the exit status is 1):

* every request ends in a stated outcome — success, 429 with ``Retry-After``, a JSON error with a code,
  or an intentional client abort; transport errors, error statuses without a reason and truncated streams
  are problems;
* every accepted danmaku message is played (its id seen on the SSE stream, exactly once) or reported
  dropped by policy (evicted ids in enqueue answers, playback drops and synthesis failures in
  ``/api/danmaku/status``), and the client's counts equal the server's status counters;
* ``/metrics`` agrees: HTTP request counters per route and status equal the client's counts, and the
  scheduler's ``queued`` events equal ``finished + failed + cancelled`` once idle.

``--soak S`` runs for S seconds: a warm-up, a quiet moment (baseline RSS/fds/threads), steady load, drain
and a final quiet moment; RSS may grow by at most ``--rss-growth-mb`` and fds/threads not at all (a small
slack, ``--fd-slack``, for sockets still closing).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import json
import math
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

CLASSES = ("tts", "speech", "danmaku")
WORDS = (
    "hello chat thanks for the follow welcome back everyone this stream is fun today we play some games "
    "and read your messages aloud nice shot good luck have fun see you soon"
).split()


# ---------------------------------------------------------------------------------------------- config
@dataclass
class LoadConfig:
    engine: str = "espeak"  # espeak | f5-tiny
    clients: int = 8
    requests: int = 200  # total requests over all clients (0: until --duration)
    duration_s: float = 60.0
    mix: dict[str, float] = field(default_factory=lambda: {"tts": 0.35, "speech": 0.35, "danmaku": 0.30})
    abort_fraction: float = 0.05  # streamed requests the client drops after the first audio bytes
    seed: int = 0
    queue_max: int = 32
    queue_timeout_s: float = 60.0
    danmaku_capacity: int = 64
    danmaku_rate_limit: float = 0.0
    drain_timeout_s: float = 60.0
    sample_interval_s: float = 0.5
    soak_s: float = 0.0
    warmup_s: float = 0.0  # soak: 0 -> min(60, 15 % of the soak)
    rss_growth_mb: float = 64.0
    fd_slack: int = 4
    thread_slack: int = 4  # the default executor starts its threads lazily (up to min(32, cpus + 4))
    request_timeout_s: float = 120.0
    workdir: str | None = None
    keep_workdir: bool = False


# ---------------------------------------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v))


def render_toml(sections: dict[str, dict[str, Any]]) -> str:
    out = []
    for name, values in sections.items():
        out.append(f"[{name}]")
        out.extend(f"{k} = {_toml_value(v)}" for k, v in values.items())
        out.append("")
    return "\n".join(out)


def engine_section(cfg: LoadConfig, work: Path) -> dict[str, Any]:
    if cfg.engine == "espeak":
        return {"kind": "espeak"}
    if cfg.engine == "f5-tiny":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
        from ishowtts.engine.random_weights import save_random_checkpoint

        paths = save_random_checkpoint(work / "f5tiny", config="tiny", seed=0)
        return {"kind": "f5", "model": "tiny", "nfe": 2, "device": "cpu", **paths}
    raise SystemExit(f"--engine: unknown engine {cfg.engine!r} (espeak, f5-tiny)")


class ServerProcess:
    """``python -m ishowtts serve`` on a free loopback port, its output in ``work/server.log``."""

    def __init__(self, cfg: LoadConfig, work: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        sections = {
            "server": {"host": "127.0.0.1", "max_text_chars": 4096},
            "engine": engine_section(cfg, work),
            "queue": {"max_size": cfg.queue_max, "timeout_s": cfg.queue_timeout_s, "cache_size": 0},
            "danmaku": {
                "enabled": True,
                "queue_capacity": cfg.danmaku_capacity,
                "rate_limit": cfg.danmaku_rate_limit,
                "cooldown_s": 0.0,
                "playback_backlog": 4096,
            },
        }
        (work / "ishowtts.toml").write_text(render_toml(sections))
        self.log_path = work / "server.log"
        self._log = self.log_path.open("wb")
        env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
        cmd = [sys.executable, "-m", "ishowtts", "serve", "--config", str(work / "ishowtts.toml")]
        cmd += ["--port", str(self.port), "--data-dir", str(work / "data"), "--log-level", "warning"]
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self.pid = self.proc.pid

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early ({self.proc.returncode}):\n{self.output()[-4000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/ready", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"server not ready in {timeout} s:\n{self.output()[-4000:]}")

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        return int(self.proc.returncode)


# ---------------------------------------------------------------------------------------------- /proc
@dataclass
class ProcSample:
    t: float
    rss_mb: float
    fds: int
    threads: int


def proc_sample(pid: int, t0: float) -> ProcSample | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
    threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return ProcSample(round(time.monotonic() - t0, 2), round(rss, 1), fds, threads)


class Sampler(threading.Thread):
    def __init__(self, pid: int, interval: float, t0: float) -> None:
        super().__init__(name="load-proc-sampler", daemon=True)
        self.pid, self.interval, self.t0 = pid, interval, t0
        self.samples: list[ProcSample] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            s = proc_sample(self.pid, self.t0)
            if s is not None:
                self.samples.append(s)

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(5)


# ---------------------------------------------------------------------------------------------- records
@dataclass
class Record:
    cls: str
    outcome: (
        str  # ok | filtered:<reason> | rejected:queue_full | error:<status>:<code> | abort | problem:<why>
    )
    status: int | None
    latency_s: float
    ttfa_s: float | None = None
    audio_bytes: int = 0
    detail: str = ""


@dataclass
class DanmakuLedger:
    accepted: dict[str, float] = field(default_factory=dict)  # id -> accepted at (monotonic)
    evicted: set[str] = field(default_factory=set)
    refused_full: int = 0
    filtered: Counter[str] = field(default_factory=Counter)
    played: dict[str, float] = field(default_factory=dict)  # id -> seen at
    duplicates: list[str] = field(default_factory=list)
    unknown_played: list[str] = field(default_factory=list)
    bad_clips: list[str] = field(default_factory=list)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    k = (len(v) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return round(v[lo] + (v[hi] - v[lo]) * (k - lo), 4)


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


# ---------------------------------------------------------------------------------------------- clients
class LoadRun:
    def __init__(self, cfg: LoadConfig, url: str) -> None:
        self.cfg = cfg
        self.url = url
        self.records: list[Record] = []
        self.ledger = DanmakuLedger()
        self.issued = 0
        self.paused = asyncio.Event()
        self.paused.set()  # set = running
        self.stop_at = 0.0
        self._msg_seq = 0

    # -- one request of each class ------------------------------------------------------------
    async def do_tts(self, c: httpx.AsyncClient, rng: random.Random) -> Record:
        text = " ".join(_sentence(rng, rng.randint(3, 9)) for _ in range(rng.randint(1, 2)))
        raw = rng.random() < 0.5
        t0 = time.perf_counter()
        headers = {"Accept": "audio/wav"} if raw else {}
        r = await c.post("/api/tts", json={"text": text}, headers=headers)
        lat = time.perf_counter() - t0
        if r.status_code != 200:
            return self._error("tts", r, lat)
        if raw:
            body = r.content
            ok = body[:4] == b"RIFF" and len(body) > 44
        else:
            j = r.json()
            body = base64.b64decode(j.get("audio_base64", ""))
            ok = body[:4] == b"RIFF" and j.get("waveform_len", 0) > 0
        if not ok:
            return Record("tts", "problem:bad_audio", 200, lat, detail=f"{len(body)} bytes")
        return Record("tts", "ok", 200, lat, lat, len(body))

    async def do_speech(self, c: httpx.AsyncClient, rng: random.Random) -> Record:
        text = " ".join(_sentence(rng, rng.randint(4, 10)) for _ in range(rng.randint(1, 4)))
        fmt = rng.choice(["wav", "pcm"])
        abort = rng.random() < self.cfg.abort_fraction
        header = 44 if fmt == "wav" else 0
        t0 = time.perf_counter()
        ttfa = None
        total = 0
        async with c.stream("POST", "/v1/audio/speech", json={"input": text, "response_format": fmt}) as r:
            if r.status_code != 200:
                await r.aread()
                return self._error("speech", r, time.perf_counter() - t0)
            try:
                async for piece in r.aiter_raw():
                    total += len(piece)
                    if ttfa is None and total > header:
                        ttfa = time.perf_counter() - t0
                        if abort:
                            break
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                return Record(
                    "speech",
                    "problem:truncated_stream",
                    200,
                    time.perf_counter() - t0,
                    ttfa,
                    total,
                    f"{type(exc).__name__}: {exc}",
                )
        lat = time.perf_counter() - t0
        if abort and ttfa is not None:
            return Record("speech", "abort", 200, lat, ttfa, total)
        if total <= header or (fmt == "pcm" and total % 2):
            return Record("speech", "problem:bad_audio", 200, lat, ttfa, total)
        return Record("speech", "ok", 200, lat, ttfa, total)

    async def do_danmaku(self, c: httpx.AsyncClient, rng: random.Random) -> Record:
        self._msg_seq += 1
        mid = f"load-{self.cfg.seed}-{self._msg_seq}"
        body = {
            "id": mid,
            "platform": "loadtest",
            "channel": "loadchan",
            "username": f"viewer{self._msg_seq}",
            "text": f"{_sentence(rng, rng.randint(2, 7))} number {self._msg_seq}",
        }
        t0 = time.perf_counter()
        r = await c.post("/api/danmaku/enqueue", json=body)
        lat = time.perf_counter() - t0
        if r.status_code == 202:
            j = r.json()
            if j.get("id") != mid:
                return Record("danmaku", "problem:wrong_id", 202, lat, detail=str(j.get("id")))
            self.ledger.accepted[mid] = time.monotonic()
            self.ledger.evicted.update(j.get("evicted") or [])
            return Record("danmaku", "ok", 202, lat)
        if r.status_code == 204:
            reason = r.headers.get("x-danmaku-filtered", "")
            if not reason:
                return Record("danmaku", "problem:204_without_reason", 204, lat)
            if reason == "queue_full":
                self.ledger.refused_full += 1
            self.ledger.filtered[reason] += 1
            return Record("danmaku", f"filtered:{reason}", 204, lat)
        return self._error("danmaku", r, lat)

    def _error(self, cls: str, r: httpx.Response, lat: float) -> Record:
        code = ""
        try:
            j = r.json()
            code = (j.get("error") or {}).get("code") if isinstance(j.get("error"), dict) else None
            code = code or (j.get("detail") and "detail") or ""
        except (ValueError, AttributeError):
            pass
        if r.status_code == 429:
            if not r.headers.get("retry-after", "").isdigit():
                return Record(cls, "problem:429_without_retry_after", 429, lat)
            return Record(cls, "rejected:queue_full", 429, lat, detail=r.headers["retry-after"])
        if not code:
            return Record(
                cls, f"problem:status_{r.status_code}_without_reason", r.status_code, lat, detail=r.text[:200]
            )
        return Record(cls, f"error:{r.status_code}:{code}", r.status_code, lat, detail=r.text[:200])

    # -- the client loop ------------------------------------------------------------------------
    async def client(self, idx: int, c: httpx.AsyncClient) -> None:
        rng = random.Random(self.cfg.seed * 1000 + idx)
        classes = [k for k in CLASSES if self.cfg.mix.get(k, 0) > 0]
        weights = [self.cfg.mix[k] for k in classes]
        fns = {"tts": self.do_tts, "speech": self.do_speech, "danmaku": self.do_danmaku}
        while True:
            await self.paused.wait()
            if time.monotonic() >= self.stop_at:
                return
            if self.cfg.requests and self.issued >= self.cfg.requests:
                return
            self.issued += 1
            cls = rng.choices(classes, weights)[0]
            t0 = time.perf_counter()
            try:
                rec = await fns[cls](c, rng)
            except httpx.HTTPError as exc:
                rec = Record(
                    cls,
                    f"problem:transport_{type(exc).__name__}",
                    None,
                    time.perf_counter() - t0,
                    detail=str(exc)[:200],
                )
            self.records.append(rec)
            if rec.outcome == "rejected:queue_full":
                await asyncio.sleep(min(1.0, float(rec.detail or 1)) * rng.random())

    # -- the danmaku player (SSE) -----------------------------------------------------------------
    async def player(self, c: httpx.AsyncClient, connected: asyncio.Event) -> None:
        async with c.stream("GET", "/api/danmaku/events", headers={"Accept": "text/event-stream"}) as r:
            r.raise_for_status()
            event, data = None, []
            async for line in r.aiter_lines():
                if line.startswith(": connected"):
                    connected.set()
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
                elif line == "" and event is not None:
                    if event == "clip":
                        self._played("".join(data))
                    event, data = None, []

    def _played(self, raw: str) -> None:
        clip = json.loads(raw)
        mid = str(clip.get("id"))
        led = self.ledger
        if mid in led.played:
            led.duplicates.append(mid)
            return
        led.played[mid] = time.monotonic()
        if mid not in led.accepted:
            led.unknown_played.append(mid)
        audio = base64.b64decode(clip.get("audio_base64", ""))
        if audio[:4] != b"RIFF" or len(audio) <= 44:
            led.bad_clips.append(mid)


# ---------------------------------------------------------------------------------------------- checks
def parse_metrics(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        with contextlib.suppress(ValueError):
            out[name] = float(value)
    return out


def metric(m: dict[str, float], name: str, **labels: str) -> float:
    want = [f'{k}="{v}"' for k, v in labels.items()]
    total = 0.0
    for key, value in m.items():
        base, _, rest = key.partition("{")
        if base == name and all(w in rest for w in want):
            total += value
    return total


async def wait_drained(c: httpx.AsyncClient, run: LoadRun, timeout: float) -> dict[str, Any]:
    """Wait until the server is idle and every accepted danmaku message is accounted for."""
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = (await c.get("/api/danmaku/status")).json()
        sched = parse_metrics((await c.get("/metrics")).text)
        led = run.ledger
        syn = status["synthesis"]
        pb = status["playback"]
        settled = len(led.played) + len(led.evicted) + syn["failed"] + pb["dropped_pending"]
        settled += pb["dropped_slow_client"]
        idle = (
            status["queue_depth"] == 0
            and syn["in_flight"] is None
            and metric(sched, "ishowtts_queue_depth") == 0
            and metric(sched, "ishowtts_requests_running") == 0
        )
        if idle and settled >= len(led.accepted):
            break
        await asyncio.sleep(0.2)
    return status


def check_accounting(run: LoadRun, status: dict[str, Any], metrics_text: str) -> tuple[dict, list[str]]:
    problems: list[str] = []
    led = run.ledger
    syn, pb, gw = status["synthesis"], status["playback"], status["gateway"]
    # 1. every request has a stated outcome
    for outcome, n in Counter(r.outcome for r in run.records).items():
        if outcome.startswith("problem:"):
            problems.append(f"{n} request(s) ended as {outcome}")
    # 2. danmaku: accepted == played + evicted + failed + playback drops, exactly, and == server counters
    played_accepted = set(led.played) & set(led.accepted)
    both = set(led.played) & led.evicted
    if both:
        problems.append(f"{len(both)} danmaku message(s) both evicted and played: {sorted(both)[:5]}")
    if led.duplicates:
        problems.append(f"{len(led.duplicates)} danmaku clip(s) played twice: {led.duplicates[:5]}")
    if led.unknown_played:
        problems.append(f"{len(led.unknown_played)} clip(s) played that were never accepted")
    if led.bad_clips:
        problems.append(f"{len(led.bad_clips)} clip(s) without valid WAV audio")
    unexplained = set(led.accepted) - set(led.played) - led.evicted
    lost = len(unexplained) - syn["failed"] - pb["dropped_pending"] - pb["dropped_slow_client"]
    if lost != 0:
        problems.append(
            f"danmaku accounting: {len(led.accepted)} accepted = {len(played_accepted)} played + "
            f"{len(led.evicted)} evicted + {syn['failed']} failed + "
            f"{pb['dropped_pending'] + pb['dropped_slow_client']} playback drops does not hold (off by {lost})"
        )
    expect = {
        "gateway.accepted": (gw["accepted"], len(led.accepted)),
        "dropped_total": (status["dropped_total"], len(led.evicted) + led.refused_full),
        "synthesis.completed": (
            syn["completed"],
            len(led.played) + pb["dropped_slow_client"] + pb["dropped_pending"],
        ),
        "gateway.dispatched": (gw["dispatched"], syn["completed"] + syn["failed"]),
        "playback.published": (pb["published"], syn["completed"]),
    }
    for reason, n in led.filtered.items():
        if reason != "queue_full":
            expect[f"gateway.filtered.{reason}"] = (gw["filtered"].get(reason, 0), n)
    for name, (server, client) in expect.items():
        if server != client:
            problems.append(f"danmaku status {name} = {server}, client counted {client}")
    # 3. /metrics: HTTP counters per route/status and the scheduler's event balance
    m = parse_metrics(metrics_text)
    routes = {"tts": "/api/tts", "speech": "/v1/audio/speech", "danmaku": "/api/danmaku/enqueue"}
    by_route_status: Counter[tuple[str, int]] = Counter()
    for r in run.records:
        if r.status is not None:
            by_route_status[(routes[r.cls], r.status)] += 1
    for (route, status_code), n in sorted(by_route_status.items()):
        got = metric(m, "ishowtts_http_requests_total", route=route, method="POST", status=str(status_code))
        if got != n:
            problems.append(f"/metrics requests {route} {status_code} = {got:g}, client saw {n}")
    ev = {
        e: metric(m, "ishowtts_synthesis_events_total", event=e)
        for e in ("queued", "started", "finished", "failed", "cancelled")
    }
    if ev["queued"] != ev["finished"] + ev["failed"] + ev["cancelled"]:
        problems.append(f"/metrics synthesis events do not balance: {ev}")
    danmaku_metrics_exported = any(k.startswith("ishowtts_danmaku_") for k in m)
    if danmaku_metrics_exported:
        got = metric(m, "ishowtts_danmaku_messages_total", outcome="accepted")
        if got != len(led.accepted):
            problems.append(f"/metrics danmaku accepted = {got:g}, client counted {len(led.accepted)}")
    summary = {
        "accepted": len(led.accepted),
        "played": len(played_accepted),
        "evicted": len(led.evicted),
        "refused_queue_full": led.refused_full,
        "filtered": dict(led.filtered),
        "failed": syn["failed"],
        "playback_dropped": pb["dropped_pending"] + pb["dropped_slow_client"],
        "retries_after_429": syn["retries"],
        "synthesis_events": ev,
        "danmaku_metrics_exported": danmaku_metrics_exported,
    }
    return summary, problems


def class_stats(run: LoadRun, elapsed: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for cls in CLASSES:
        recs = [r for r in run.records if r.cls == cls]
        if not recs:
            continue
        ok = [r for r in recs if r.outcome in ("ok", "abort")]
        lat = [r.latency_s for r in ok]
        ttfa = [r.ttfa_s for r in ok if r.ttfa_s is not None]
        out[cls] = {
            "requests": len(recs),
            "ok": len(ok),
            "throughput_rps": round(len(ok) / elapsed, 3) if elapsed > 0 else None,
            "latency_s": {"p50": pct(lat, 0.5), "p95": pct(lat, 0.95), "p99": pct(lat, 0.99)},
            "ttfa_s": {"p50": pct(ttfa, 0.5), "p95": pct(ttfa, 0.95), "p99": pct(ttfa, 0.99)},
            "outcomes": dict(Counter(r.outcome for r in recs)),
        }
    if "danmaku" in out:
        led = run.ledger
        play = [led.played[i] - t for i, t in led.accepted.items() if i in led.played]
        out["danmaku"]["enqueue_to_played_s"] = {
            "p50": pct(play, 0.5),
            "p95": pct(play, 0.95),
            "p99": pct(play, 0.99),
        }
    return out


# ---------------------------------------------------------------------------------------------- driver
async def _drive(cfg: LoadConfig, server: ServerProcess, t0: float) -> dict[str, Any]:
    run = LoadRun(cfg, server.url)
    limits = httpx.Limits(max_connections=cfg.clients + 4, max_keepalive_connections=cfg.clients + 4)
    timeout = httpx.Timeout(cfg.request_timeout_s, connect=10)
    quiet: dict[str, ProcSample | None] = {}
    async with httpx.AsyncClient(base_url=server.url, timeout=timeout, limits=limits) as c:
        connected = asyncio.Event()
        player = asyncio.create_task(run.player(c, connected))
        await asyncio.wait_for(connected.wait(), 30)
        start = time.monotonic()
        total_s = cfg.soak_s or cfg.duration_s
        run.stop_at = start + total_s
        clients = [asyncio.create_task(run.client(i, c)) for i in range(cfg.clients)]
        if cfg.soak_s:
            warm = cfg.warmup_s or min(60.0, 0.15 * cfg.soak_s)
            await asyncio.sleep(warm)
            run.paused.clear()  # quiet moment: let in-flight work finish, then take the baseline
            await wait_drained(c, run, cfg.drain_timeout_s)
            await asyncio.sleep(2.0)
            quiet["baseline"] = proc_sample(server.pid, t0)
            run.paused.set()
        await asyncio.gather(*clients)
        elapsed = time.monotonic() - start
        status = await wait_drained(c, run, cfg.drain_timeout_s)
        await asyncio.sleep(2.0 if cfg.soak_s else 0.3)
        quiet["final"] = proc_sample(server.pid, t0)
        status = (await c.get("/api/danmaku/status")).json()
        metrics_text = (await c.get("/metrics")).text
        health = (await c.get("/api/health")).json()
        player.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await player
    accounting, problems = check_accounting(run, status, metrics_text)
    return {
        "elapsed_s": round(elapsed, 2),
        "requests": len(run.records),
        "classes": class_stats(run, elapsed),
        "errors_by_kind": dict(Counter(r.outcome for r in run.records if r.outcome not in ("ok", "abort"))),
        "accounting": accounting,
        "problems": problems,
        "quiet": {k: dataclasses.asdict(v) if v else None for k, v in quiet.items()},
        "engine": {"name": health.get("engine"), "label": health.get("engine_label")},
    }


def soak_verdict(cfg: LoadConfig, quiet: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    base, final = quiet.get("baseline"), quiet.get("final")
    if not base or not final:
        return {}, ["soak: could not sample the server at the quiet moments"]
    v = {
        "rss_growth_mb": round(final["rss_mb"] - base["rss_mb"], 1),
        "fd_growth": final["fds"] - base["fds"],
        "thread_growth": final["threads"] - base["threads"],
        "bounds": {
            "rss_growth_mb": cfg.rss_growth_mb,
            "fd_slack": cfg.fd_slack,
            "thread_slack": cfg.thread_slack,
        },
    }
    problems = []
    if v["rss_growth_mb"] > cfg.rss_growth_mb:
        problems.append(f"soak: RSS grew {v['rss_growth_mb']} MB after warm-up (bound {cfg.rss_growth_mb})")
    if v["fd_growth"] > cfg.fd_slack:
        problems.append(f"soak: open fds grew by {v['fd_growth']} (slack {cfg.fd_slack})")
    if v["thread_growth"] > cfg.thread_slack:
        problems.append(f"soak: threads grew by {v['thread_growth']} (slack {cfg.thread_slack})")
    return v, problems


def run_load(cfg: LoadConfig) -> dict[str, Any]:
    """Start the server, drive it, stop it; the report (``report["problems"]`` empty when all held)."""
    tmp = None
    if cfg.workdir:
        work = Path(cfg.workdir)
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="ishowtts-load-")
        work = Path(tmp.name)
    server = ServerProcess(cfg, work)
    t0 = time.monotonic()
    sampler = Sampler(server.pid, cfg.sample_interval_s, t0)
    report: dict[str, Any] = {"config": dataclasses.asdict(cfg)}
    try:
        server.wait_ready()
        report["ready_s"] = round(time.monotonic() - t0, 2)
        sampler.start()
        report.update(asyncio.run(_drive(cfg, server, t0)))
        if server.proc.poll() is not None:
            report["problems"].append(f"server died during the run ({server.proc.returncode})")
    except Exception as exc:
        report.setdefault("problems", []).append(f"run aborted: {type(exc).__name__}: {exc}")
    finally:
        try:
            sampler.stop()
        finally:
            rc = server.stop()  # never leave the server running, whatever happened
        log_tail = server.output()[-3000:]
        if tmp is not None and not cfg.keep_workdir:
            tmp.cleanup()
    samples = [dataclasses.asdict(s) for s in sampler.samples]
    report["process"] = summarise_samples(samples)
    report["process"]["samples"] = samples
    report["server_exit"] = rc
    if rc not in (0, -2, 130):
        report["problems"].append(f"server exited with {rc} on SIGINT")
    if cfg.soak_s:
        verdict, problems = soak_verdict(cfg, report.get("quiet", {}))
        report["soak"] = verdict
        report["problems"].extend(problems)
    if report["problems"]:
        report["server_log_tail"] = log_tail
    return report


def summarise_samples(samples: list[dict[str, Any]]) -> dict[str, Any]:
    if not samples:
        return {}
    rss = [s["rss_mb"] for s in samples]
    return {
        "rss_mb": {"first": rss[0], "max": max(rss), "last": rss[-1], "median": statistics.median(rss)},
        "fds": {
            "first": samples[0]["fds"],
            "max": max(s["fds"] for s in samples),
            "last": samples[-1]["fds"],
        },
        "threads": {
            "first": samples[0]["threads"],
            "max": max(s["threads"] for s in samples),
            "last": samples[-1]["threads"],
        },
    }


def format_report(rep: dict[str, Any]) -> str:
    lines = [
        f"engine {rep.get('engine', {}).get('name')}  elapsed {rep.get('elapsed_s')} s  "
        f"requests {rep.get('requests')}  ready after {rep.get('ready_s')} s"
    ]
    lines.append(
        f"{'class':8} {'req':>5} {'ok':>5} {'rps':>7} {'p50':>7} {'p95':>7} {'p99':>7} "
        f"{'ttfa50':>7} {'ttfa95':>7} {'ttfa99':>7}"
    )
    for cls, s in rep.get("classes", {}).items():
        lat, tt = s["latency_s"], s["ttfa_s"]
        if cls == "danmaku":
            tt = s["enqueue_to_played_s"]

        def f(x: float | None) -> str:
            return "-" if x is None else f"{x:.3f}"

        lines.append(
            f"{cls:8} {s['requests']:>5} {s['ok']:>5} {s['throughput_rps']:>7} {f(lat['p50']):>7} "
            f"{f(lat['p95']):>7} {f(lat['p99']):>7} {f(tt['p50']):>7} {f(tt['p95']):>7} "
            f"{f(tt['p99']):>7}"
        )
    lines.append("(danmaku ttfa = enqueue -> clip seen on the playback stream)")
    lines.append(f"errors by kind: {rep.get('errors_by_kind')}")
    lines.append(f"danmaku accounting: {json.dumps(rep.get('accounting'))}")
    p = rep.get("process", {})
    lines.append(f"server process: rss {p.get('rss_mb')}  fds {p.get('fds')}  threads {p.get('threads')}")
    if "soak" in rep:
        lines.append(f"soak: {rep['soak']}  quiet samples: {rep.get('quiet')}")
    lines.append("PROBLEMS:\n  " + "\n  ".join(rep["problems"]) if rep.get("problems") else "all checks held")
    return "\n".join(lines)


def parse_mix(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in text.split(","):
        name, _, w = part.partition("=")
        if name.strip() not in CLASSES:
            raise argparse.ArgumentTypeError(f"--mix: unknown class {name!r} ({', '.join(CLASSES)})")
        out[name.strip()] = float(w)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--engine", default="espeak", choices=["espeak", "f5-tiny"])
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--requests", type=int, default=200, help="total requests (0: until --duration)")
    p.add_argument("--duration", type=float, default=60.0, help="seconds at most")
    p.add_argument("--mix", type=parse_mix, default=None, help="e.g. tts=0.35,speech=0.35,danmaku=0.3")
    p.add_argument("--abort-fraction", type=float, default=0.05)
    p.add_argument("--queue-max", type=int, default=32)
    p.add_argument("--danmaku-capacity", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--soak", type=float, default=0.0, help="soak for this many seconds (ignores --requests)")
    p.add_argument("--warmup", type=float, default=0.0)
    p.add_argument("--rss-growth-mb", type=float, default=64.0)
    p.add_argument("--sample-interval", type=float, default=0.5)
    p.add_argument("--json", type=Path, default=None, help="write the full report here")
    p.add_argument("--workdir", default=None, help="keep config, data and server.log here")
    a = p.parse_args(argv)
    cfg = LoadConfig(
        engine=a.engine,
        clients=a.clients,
        requests=0 if a.soak else a.requests,
        duration_s=a.duration,
        abort_fraction=a.abort_fraction,
        queue_max=a.queue_max,
        danmaku_capacity=a.danmaku_capacity,
        seed=a.seed,
        soak_s=a.soak,
        warmup_s=a.warmup,
        rss_growth_mb=a.rss_growth_mb,
        sample_interval_s=a.sample_interval if not a.soak else max(a.sample_interval, 2.0),
        workdir=a.workdir,
    )
    if a.mix:
        cfg.mix = a.mix
    rep = run_load(cfg)
    print(format_report(rep))
    if a.json:
        a.json.write_text(json.dumps(rep, indent=1))
    return 1 if rep["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
