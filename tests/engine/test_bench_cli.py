"""`python -m ishowtts bench` measures the real engine path (tiny random weights here)."""

from __future__ import annotations

import json
from pathlib import Path

from ishowtts.cli import main
from ishowtts.cli.bench import measure


def test_measure_reports_consistent_figures() -> None:
    r = measure("tiny", device="cpu", nfe=2, seconds=1.0, runs=1)
    assert r["device"] == "cpu" and r["dtype"] == "float32" and r["nfe"] == 2
    # fix_duration=1 s of generated audio (shared across chunks, cross-fades overlap a little)
    assert 0.7 < r["audio_seconds"] <= 1.05
    assert abs(r["rtf"] - r["synthesize_s"] / r["audio_seconds"]) < 1e-3
    assert r["time_to_first_audio_s"] > 0  # its size vs synthesize is a benchmark matter, not a test


def test_cli_writes_json(tmp_path: Path, capsys) -> None:
    out = tmp_path / "bench.json"
    rc = main(["bench", "--config", "tiny", "--device", "cpu", "--nfe", "2", "--seconds", "1", "--runs", "1",
               "--json", str(out)])  # fmt: skip
    assert rc == 0
    data = json.loads(out.read_text())
    assert data["config"] == "tiny" and data["rtf"] > 0
    assert "time_to_first_audio_s" in capsys.readouterr().out


def test_cli_rejects_bad_arguments(capsys) -> None:
    assert main(["bench", "--config", "tiny", "--runs", "0"]) == 2
    assert "runs" in capsys.readouterr().err
