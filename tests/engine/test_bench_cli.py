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


def test_cli_several_nfe_values_and_compile_switch(tmp_path: Path, capsys) -> None:
    out = tmp_path / "bench.json"
    rc = main(["bench", "--config", "tiny", "--device", "cpu", "--nfe", "2", "3", "--seconds", "1", "--runs", "1",
               "--compile", "off", "--json", str(out)])  # fmt: skip
    assert rc == 0
    rows = json.loads(out.read_text())
    assert [r["nfe"] for r in rows] == [2, 3]
    assert all(r["compile"] is False and "compile configured" in r["decided"] for r in rows)
    assert capsys.readouterr().out.count("rtf") == 2


def test_measure_reports_the_auto_decisions() -> None:
    """The test session pins an AVX2 CPU (tests/conftest.py): auto is fp32 without compile, and says why."""
    r = measure("tiny", device="cpu", nfe=2, seconds=1.0, runs=1)
    assert r["compile"] is False and r["cpu"]
    assert "dtype auto: fp32, the CPU has no bf16 matmul units" in r["decided"]


def test_single_pass_is_one_chunk_of_the_total_length() -> None:
    import pytest

    r = measure("tiny", device="cpu", nfe=2, seconds=7.0, runs=1, single_pass=True)
    assert r["single_pass"] is True and r["chunks"] == 1
    assert 1.0 < r["audio_seconds"] < 1.6  # 7 s total minus the bundled voice's ~5.7 s reference
    with pytest.raises(ValueError, match="above the reference"):
        measure("tiny", device="cpu", nfe=2, seconds=3.0, runs=1, single_pass=True)


def test_cli_quantize_switch(tmp_path: Path) -> None:
    """``--quantize int8`` runs the DiT's block Linears int8 (torchao, in the test extra); ``none`` is off."""
    out = tmp_path / "bench.json"
    for value, expected in (("int8", "int8"), ("none", None)):
        rc = main(["bench", "--config", "tiny", "--device", "cpu", "--nfe", "2", "--seconds", "1", "--runs", "1",
                   "--compile", "off", "--quantize", value, "--json", str(out)])  # fmt: skip
        assert rc == 0
        row = json.loads(out.read_text())
        assert row["quantize"] == expected and "quantize configured" in row["decided"]
