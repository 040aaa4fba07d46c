"""Shared helpers for the model tests: the upstream parity fixtures under tests/fixtures/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PARITY_ATOL = 1e-4


class Fixtures:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.manifest: dict[str, Any] = json.loads((root / "manifest.json").read_text())

    @property
    def vocab_path(self) -> Path:
        return self.root / self.manifest["vocab"]

    def arch(self, config: str) -> dict[str, Any]:
        return dict(self.manifest["configs"][config])

    def checkpoint(self, config: str) -> Path:
        return self.root / self.manifest["checkpoints"][config]

    def case(self, name: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        case = self.manifest["cases"][name]
        return case, load_file(str(self.root / case["file"]))

    def tensors(self, filename: str) -> dict[str, torch.Tensor]:
        return load_file(str(self.root / filename))


@pytest.fixture(scope="session")
def fixtures() -> Fixtures:
    if not (FIXTURES / "manifest.json").exists():
        pytest.fail(
            f"parity fixtures missing: {FIXTURES}/manifest.json (run scripts/make_reference_fixtures.py)"
        )
    return Fixtures(FIXTURES)


@pytest.fixture(autouse=True)
def _fp32_deterministic():
    torch.set_default_dtype(torch.float32)
    yield


def max_err(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, f"shape {tuple(a.shape)} != {tuple(b.shape)}"
    return (a.float() - b.float()).abs().max().item()
