"""Benchmark-suite hooks: every figure pytest-benchmark prints or saves goes with the machine it came from."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gatelib import cpu_model, machine_class


def pytest_report_header(config) -> str:  # type: ignore[no-untyped-def]
    return f"cpu model: {cpu_model()!r}; machine class: {machine_class()!r}"


def pytest_benchmark_update_machine_info(config, machine_info: dict) -> None:  # type: ignore[no-untyped-def]
    # Saved with every --benchmark-autosave / --benchmark-json run beside pytest-benchmark's own cpu fields.
    machine_info["cpu_model"] = cpu_model()
    machine_info["machine_class"] = machine_class()
