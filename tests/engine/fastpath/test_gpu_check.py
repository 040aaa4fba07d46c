"""benchmarks/gpu_check.py must keep running: its CPU smoke mode, end to end."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import REPO, load_module


def test_gpu_check_cpu_smoke(tmp_path: Path) -> None:
    mod = load_module(REPO / "benchmarks" / "gpu_check.py")
    report = mod.main(["--device", "cpu", "--config", "tiny", "--quick", "--out", str(tmp_path)])
    saved = json.loads(Path(report["path"]).read_text())
    assert saved["config"] == "tiny" and saved["device"] == "cpu"
    (case,) = saved["cases"]
    paths = case["paths"]
    assert set(paths) == {
        "eager_fp32", "eager_bf16", "static_bf16", "static_precast_bf16", "batch1_bf16", "batch2_bf16"
    }  # fmt: skip
    # precasting the block Linears is bit-identical to autocasting them
    for key in ("mel_max_abs_diff", "audio_max_abs_diff"):
        assert paths["static_precast_bf16"][key] == paths["static_bf16"][key]
    weights = case["weights"]
    assert 0 < weights["dit_precast_half"] < weights["dit_fp32"]
    for name, row in paths.items():
        assert row["rtf"] > 0 and row["peak_bytes"] > 0
        if name != "eager_fp32":
            assert 0 < row["audio_max_abs_diff"] < 1.0  # bf16 differs a little, not wildly
    assert paths["batch2_bf16"]["throughput_vs_batch1"] > 0
    assert saved["ttfa"][0]["ttfa_s"] > 0
