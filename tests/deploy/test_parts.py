"""The Ray deployment's parts without a Ray cluster: ``[scale]`` parsing, a replica's answers and reports,
the registry's totals and staleness, and replica errors turned into the scheduler's own."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _ray_helpers import make_config
from ray import exceptions as ray_errors
from ray.serve import exceptions as serve_errors

from ishowtts.config import ConfigError
from ishowtts.deploy import replica as replica_mod
from ishowtts.deploy.remote import ReplicaLost, translate
from ishowtts.deploy.replica import Registry, SynthesisReplica
from ishowtts.deploy.settings import HIGH_THROUGHPUT_ENV, LOCAL_HIGH_THROUGHPUT_ENV, ScaleSettings
from ishowtts.engine.backend import SynthesisParams
from ishowtts.engine.jobs import EngineFailure, Priority, QueueFull, SchedulerClosed


def settings(tmp_path: Path, **scale: Any) -> ScaleSettings:
    return ScaleSettings.from_config(make_config(tmp_path, 1, scale=scale))


def test_scale_defaults_and_deployment_options(tmp_path: Path) -> None:
    s = settings(tmp_path)
    assert (s.address, s.replicas, s.ingress_replicas, s.num_gpus) == ("", 2, 1, 0.0)
    opts = s.synthesis_options(queue_size=64)
    assert opts == {"ray_actor_options": {"num_cpus": 1.0, "num_gpus": 0.0}, "max_ongoing_requests": 65, "num_replicas": 2}
    auto = settings(tmp_path, autoscaling={"min_replicas": 1, "max_replicas": 4, "target_ongoing_requests": 8})
    opts = auto.synthesis_options(queue_size=64)
    assert "num_replicas" not in opts and opts["autoscaling_config"]["max_replicas"] == 4


def test_high_throughput_environment_is_set_before_ray_and_the_environment_wins(tmp_path: Path) -> None:
    assert not settings(tmp_path).high_throughput and settings(tmp_path).ray_env() == {}  # off by default
    local = settings(tmp_path, high_throughput=True)
    assert local.ray_env() == {**HIGH_THROUGHPUT_ENV, **LOCAL_HIGH_THROUGHPUT_ENV}
    # joining a cluster: its pods' own environment decides the drain (Ray's default there)
    assert settings(tmp_path, address="auto", high_throughput=True).ray_env() == HIGH_THROUGHPUT_ENV
    environ = {"RAY_SERVE_ENABLE_HA_PROXY": "0"}  # a user's explicit choice stays
    applied = local.apply_ray_env(environ)
    assert environ["RAY_SERVE_ENABLE_HA_PROXY"] == "0" and "RAY_SERVE_ENABLE_HA_PROXY" not in applied
    assert environ["RAY_SERVE_THROUGHPUT_OPTIMIZED"] == "1" == applied["RAY_SERVE_THROUGHPUT_OPTIMIZED"]
    assert local.apply_ray_env(environ) == {}


@pytest.mark.parametrize(
    ("scale", "message"),
    [
        ({"replicas": 0}, "scale.replicas"),
        ({"replicas": True}, "scale.replicas"),
        ({"num_gpus": -1}, "scale.num_gpus"),
        ({"adress": "auto"}, "unknown key"),
        ({"autoscaling": {"max_replica": 3}}, "scale.autoscaling: unknown"),
        ({"autoscaling": {"min_replicas": 3, "max_replicas": 2}}, "min_replicas <= max_replicas"),
        ({"autoscaling": {"min_replicas": 1.5}}, "non-negative count"),
        ({"address": 5}, "scale.address"),
        ({"high_throughput": "yes"}, "scale.high_throughput"),
    ],
)
def test_bad_scale_settings_are_refused_by_name(tmp_path: Path, scale: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings(tmp_path, **scale)


def test_translate_keeps_our_errors_and_names_a_lost_replica() -> None:
    full = QueueFull(2.0)
    wrapped = ray_errors.RayTaskError("synthesize", "traceback", full)
    assert translate(wrapped) is full
    assert isinstance(translate(ray_errors.RayTaskError("f", "tb", KeyError("x"))), EngineFailure)
    assert isinstance(translate(ray_errors.RayTaskError("f", "tb", ray_errors.ActorDiedError())), ReplicaLost)
    lost = translate(ray_errors.ActorDiedError())
    assert isinstance(lost, ReplicaLost) and isinstance(lost, SchedulerClosed)  # 503 + Retry-After
    assert isinstance(translate(serve_errors.BackPressureError(num_queued_requests=9, max_queued_requests=8)), QueueFull)


def test_registry_sums_fresh_reports_and_drops_stale_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(replica_mod.time, "monotonic", lambda: now[0])
    reg = Registry(stale_s=3.0)
    reg.report({"replica": "a", "queue_depth": 2, "running": 1, "capacity": 64})
    now[0] += 2.0
    reg.report({"replica": "b", "queue_depth": 3, "running": 0, "capacity": 64})
    snap = reg.snapshot()
    assert [r["replica"] for r in snap["replicas"]] == ["a", "b"]
    assert (snap["cluster"]["replicas"], snap["cluster"]["queue_depth"], snap["cluster"]["capacity"]) == (2, 5, 128)
    now[0] += 2.0  # a: 4 s without a report -> gone
    snap = reg.snapshot()
    assert [r["replica"] for r in snap["replicas"]] == ["b"] and snap["cluster"]["queue_depth"] == 3


def test_a_replica_answers_streams_in_pieces_and_reports(tmp_path: Path) -> None:
    reports: list[dict[str, Any]] = []

    async def report(snapshot: dict[str, Any]) -> None:
        reports.append(snapshot)

    async def go() -> None:
        rep = SynthesisReplica(make_config(tmp_path, 1, engine={"kind": "espeak"}), "r1", report=report)
        await rep.start()
        try:
            req = {"text": "Hello there, this is a longer sentence.", "voice_id": "default",
                   "params": SynthesisParams(), "priority": int(Priority.INTERACTIVE)}  # fmt: skip
            whole = await rep.synthesize(req)
            assert whole["replica"] == "r1" and whole["sample_rate"] == 24_000 and len(whole["audio"]) > 0
            items = [item async for item in rep.stream(req)]
            meta, first = items[0]
            assert meta == {"replica": "r1", "whole": False}
            assert len(first) == replica_mod.FIRST_PIECE_SAMPLES  # the first audio leaves as a small piece
            assert all(len(p) <= replica_mod.PIECE_SAMPLES for p in items[1:])
            d = rep.describe()
            assert (d["name"], d["sample_rate"]) == ("espeak", 24_000)
            await asyncio.sleep(0.05)
        finally:
            await rep.stop()

    asyncio.run(go())
    assert reports and reports[0]["replica"] == "r1" and reports[0]["engine"] == "espeak"
    assert {"queue_depth", "running", "capacity"} <= set(reports[0])


@pytest.mark.parametrize("n", [0, 1, 2_048, 2_049, 40_000])
def test_pieces_are_views_that_add_up_to_the_chunk(n: int) -> None:
    chunk = np.arange(n, dtype=np.float32)
    pieces = replica_mod._pieces(chunk, replica_mod.FIRST_PIECE_SAMPLES)
    np.testing.assert_array_equal(np.concatenate(pieces), chunk)
    assert len(pieces[0]) == min(n, replica_mod.FIRST_PIECE_SAMPLES)
    assert all(0 < len(p) <= replica_mod.PIECE_SAMPLES for p in pieces[1:])
    assert all(np.shares_memory(p, chunk) for p in pieces if len(p))  # no copies


def test_serve_ray_refuses_a_bad_scale_section_with_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ishowtts.cli import main

    cfg = tmp_path / "c.toml"
    cfg.write_text('[engine]\nkind = "espeak"\n[scale]\nreplicas = 0\n')
    assert main(["serve", "--ray", "--config", str(cfg), "--data-dir", str(tmp_path / "d")]) == 2
    assert "scale.replicas: must be an integer >= 1" in capsys.readouterr().err


def test_serve_ray_without_ray_says_which_extra_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from ishowtts.cli import main

    monkeypatch.setitem(sys.modules, "ishowtts.deploy.ray", None)  # what an install without the extra sees
    assert main(["serve", "--ray", "--data-dir", str(tmp_path / "d")]) == 2
    assert "pip install '.[scale]'" in capsys.readouterr().err
