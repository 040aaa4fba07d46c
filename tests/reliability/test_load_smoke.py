"""A short run of benchmarks/load.py against the real ``python -m ishowtts serve`` (espeak engine), with a
tiny scheduler queue and danmaku queue so that 429s, evictions and client aborts all happen; plus checks
that the harness's accounting really fails when a message or a request goes missing."""

from __future__ import annotations

import pytest


@pytest.mark.slow
@pytest.mark.e2e
def test_short_load_run_accounts_for_everything(load_harness, tmp_path) -> None:
    cfg = load_harness.LoadConfig(
        engine="espeak",
        clients=12,
        requests=600,
        duration_s=40.0,
        queue_max=3,
        danmaku_capacity=4,
        abort_fraction=0.15,
        seed=7,
        workdir=str(tmp_path / "load"),
    )
    rep = load_harness.run_load(cfg)
    assert rep["problems"] == [], load_harness.format_report(rep) + "\n" + rep.get("server_log_tail", "")
    assert rep["requests"] == 600
    for cls in ("tts", "speech", "danmaku"):
        s = rep["classes"][cls]
        assert s["ok"] > 0 and s["latency_s"]["p50"] is not None, (cls, s)
    acc = rep["accounting"]
    assert acc["accepted"] > 0 and acc["played"] > 0
    assert acc["accepted"] == acc["played"] + acc["evicted"] + acc["failed"] + acc["playback_dropped"]
    ev = acc["synthesis_events"]
    assert ev["queued"] == ev["finished"] + ev["failed"] + ev["cancelled"] > 0
    proc = rep["process"]
    assert proc["rss_mb"]["max"] > 0 and proc["fds"]["max"] > 0 and proc["threads"]["max"] > 0
    assert rep["server_exit"] in (0, -2, 130)


def _status(accepted: int, completed: int, failed: int = 0, dropped: int = 0) -> dict:
    return {
        "queue_depth": 0,
        "dropped_total": dropped,
        "synthesis": {"completed": completed, "failed": failed, "retries": 0, "in_flight": None},
        "playback": {"dropped_pending": 0, "dropped_slow_client": 0, "published": completed},
        "gateway": {"accepted": accepted, "dispatched": completed + failed, "filtered": {}},
    }


METRICS_OK = (
    'ishowtts_http_requests_total{method="POST",route="/api/danmaku/enqueue",status="202"} 3.0\n'
    'ishowtts_synthesis_events_total{event="queued"} 3.0\n'
    'ishowtts_synthesis_events_total{event="finished"} 3.0\n'
)


def _run_with(load_harness, played: list[str], evicted: set[str] = frozenset()):  # type: ignore[assignment]
    run = load_harness.LoadRun(load_harness.LoadConfig(), "http://unused")
    for i in ("a", "b", "c"):
        run.ledger.accepted[i] = 0.0
        run.records.append(load_harness.Record("danmaku", "ok", 202, 0.01))
    run.ledger.evicted = set(evicted)
    for i in played:
        if i in run.ledger.played:
            run.ledger.duplicates.append(i)
        run.ledger.played[i] = 1.0
    return run


def test_accounting_holds_when_everything_is_played(load_harness) -> None:
    run = _run_with(load_harness, ["a", "b", "c"])
    _, problems = load_harness.check_accounting(run, _status(3, 3), METRICS_OK)
    assert problems == []


def test_accounting_catches_a_lost_message(load_harness) -> None:
    run = _run_with(load_harness, ["a", "b"])  # "c" neither played, evicted nor failed
    _, problems = load_harness.check_accounting(run, _status(3, 2), METRICS_OK)
    assert any("off by 1" in p for p in problems), problems


def test_accounting_catches_a_played_and_evicted_message(load_harness) -> None:
    run = _run_with(load_harness, ["a", "b", "c"], evicted={"c"})
    _, problems = load_harness.check_accounting(run, _status(3, 3, dropped=1), METRICS_OK)
    assert any("both evicted and played" in p for p in problems), problems


def test_accounting_catches_server_counter_mismatch_and_metrics(load_harness) -> None:
    run = _run_with(load_harness, ["a", "b", "c"])
    unbalanced = METRICS_OK.replace('event="finished"} 3.0', 'event="finished"} 2.0')
    _, problems = load_harness.check_accounting(run, _status(4, 3), unbalanced)
    assert any("gateway.accepted = 4" in p for p in problems), problems
    assert any("do not balance" in p for p in problems), problems


def test_unexplained_errors_are_problems(load_harness) -> None:
    run = _run_with(load_harness, ["a", "b", "c"])
    run.records.append(load_harness.Record("speech", "problem:truncated_stream", 200, 0.1))
    _, problems = load_harness.check_accounting(run, _status(3, 3), METRICS_OK)
    assert any("truncated_stream" in p for p in problems), problems


@pytest.mark.slow
@pytest.mark.e2e
def test_short_load_run_tiny_f5(load_harness, tmp_path) -> None:
    """The same accounting with the real F5 path (tiny random-weight checkpoint, CPU, nfe 2)."""
    cfg = load_harness.LoadConfig(
        engine="f5-tiny",
        clients=3,
        requests=24,
        duration_s=60.0,
        abort_fraction=0.0,
        seed=3,
        workdir=str(tmp_path / "load"),
    )
    rep = load_harness.run_load(cfg)
    assert rep["problems"] == [], load_harness.format_report(rep) + "\n" + rep.get("server_log_tail", "")
    assert rep["engine"]["name"] == "f5" and rep["requests"] == 24
    assert sum(s["ok"] for s in rep["classes"].values()) == 24
    acc = rep["accounting"]
    assert acc["accepted"] == acc["played"] + acc["evicted"] + acc["failed"] + acc["playback_dropped"]
