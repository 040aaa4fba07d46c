"""Fast-path test fixtures: the upstream parity model (tiny_v1) and a fast-path engine (the tiny random
engine and its voice come from ``tests/engine/conftest.py``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import REPO, load_module

from ..conftest import REF_TEXT, SR, ref_clip  # noqa: F401  (re-exported for the fast-path tests)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
#: a request padded to a bucket / batched must equal its unpadded self this closely (fp32, max abs)
MASKED_ATOL = 1e-5
PARITY_ATOL = 1e-4
#: the one NMSE (``benchmarks/numerics.py``), shared with the benchmarks' accuracy checks
nmse = load_module(REPO / "benchmarks" / "numerics.py").nmse


def max_err(a: Any, b: Any) -> float:
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    assert a.shape == b.shape, f"shape {tuple(a.shape)} != {tuple(b.shape)}"
    return (a.double() - b.double()).abs().max().item()


@pytest.fixture(scope="session")
def parity_case() -> tuple[Any, dict[str, Any], dict[str, torch.Tensor]]:
    """(model loaded from upstream's tiny_v1 checkpoint, case params, tensors) for the NFE-16 sample."""
    from ishowtts.model import load_f5

    manifest = json.loads((FIXTURES / "manifest.json").read_text())
    model = load_f5(
        FIXTURES / manifest["checkpoints"]["tiny_v1"], dict(manifest["configs"]["tiny_v1"]),
        vocab=FIXTURES / manifest["vocab"],
    )  # fmt: skip
    case = manifest["cases"]["cfm_sample_tiny_v1_nfe16"]
    return model.eval(), case, load_file(str(FIXTURES / case["file"]))


def static_options(**changes: Any) -> Any:
    """CPU engine options with the static renderer (the rest of each test's switches in ``changes``)."""
    from ishowtts.engine.options import EngineOptions

    return EngineOptions(**{"device": "cpu", "renderer": "static", **changes})


@pytest.fixture(scope="session")
def fast_engine(engine):
    """The tiny engine's fp32 model and vocoder behind the static renderer (fp32 switches nothing in the
    model, so sharing it with the eager ``engine`` is safe)."""
    from ishowtts.engine.engine import Engine

    return Engine(engine.model, engine.vocoder, static_options(buckets=(256, 512, 1024), max_batch=4))


#: (request indices, steps, cfg, sway) of a graph-replay check: the first call of each slot captures,
#: the rest replay it for other requests, NFE, guidance, batch sizes and a 1-group (cfg off) slot
REPLAY_CALLS = [
    ([0], 16, 2.0, -1.0),
    ([1], 7, 2.0, -1.0),
    ([2], 16, 3.5, 0.0),
    ([1, 2], 5, 2.0, -1.0),
    ([2, 0], 9, 1.0, -1.0),
    ([0], 4, 0.0, -1.0),
    ([1], 6, 0.0, -1.0),
]


def replay_requests(
    model: Any, case: dict[str, Any], t: dict[str, torch.Tensor], device: Any = "cpu"
) -> list:
    """Three different requests for :data:`REPLAY_CALLS`: the parity case and two unrelated ones."""
    from ishowtts.engine.fastpath.static_runner import SampleRequest

    g = torch.Generator().manual_seed(3)
    ids = model.tokenize(case["text"])[0]
    reqs = [
        (t["cond"][0], ids, int(t["duration"]), case["seed"]),
        (torch.randn(20, 100, generator=g), model.tokenize([list("other words")])[0], 50, 9),
        (torch.randn(9, 100, generator=g), model.tokenize([list("hi")])[0], 31, 4),
    ]
    return [SampleRequest(c.to(device), i.to(device), n, seed=s) for c, i, n, s in reqs]

