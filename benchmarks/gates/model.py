"""Gate: FLOP utilisation of the DiT sampler loop (small config, CPU fp32).

ours = MODEL_STEPS sampler steps; peer = torch.mm (1024^3 fp32) repeated to the same analytic FLOPs, so
``peer_min / ours_min`` is the loop's fraction of the machine's matmul throughput.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gatelib import GateCase
from test_engine import build_loop_bench

_bench = None


def _get():
    global _bench
    if _bench is None:
        _bench = build_loop_bench()
    return _bench


def _ours() -> object:
    return _get().run_loop()


def _peer() -> object:
    return _get().run_mm()


CASES = [
    GateCase(
        name="model.dit_loop_flop_utilisation",
        ours=_ours,
        peer=_peer,
        peer_name="torch.mm same FLOPs",
        notes="ratio = DiT sampler-loop FLOP/s over torch.mm FLOP/s (utilisation)",
    )
]
