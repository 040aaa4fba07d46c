"""Same-run ratio gating for noisy shared machines.

A gate case times our kernel and a peer alternately in one process (>= 21 rounds each) and compares the
ratio of their *minimum* times, ``peer_min / ours_min`` (above 1 means we are faster), against a committed
floor. Absolute times are never compared across runs.

Cases live in ``benchmarks/gates/<component>.py`` as a module-level ``CASES`` list of :class:`GateCase`.
Floors live in ``benchmarks/floors.json``: ``{"<case name>": {"required": r, "baseline": b}}``. A case
passes when ``ratio >= max(required, baseline * (1 - MARGIN))``: ``required`` is the issue's hard floor,
``baseline`` the ratio last measured and committed (a regression gate with a 30% margin).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field

MARGIN = 0.30
DEFAULT_ROUNDS = 21


@dataclass
class GateCase:
    name: str
    ours: Callable[[], object]
    peer: Callable[[], object]
    peer_name: str
    # Number of calls per timed sample; raise it for sub-millisecond kernels so timer resolution is moot.
    inner: int = 1
    rounds: int = DEFAULT_ROUNDS
    notes: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class GateResult:
    name: str
    peer_name: str
    ours_min_s: float
    peer_min_s: float
    ratio: float
    threshold: float
    required: float
    baseline: float | None

    @property
    def passed(self) -> bool:
        return self.ratio >= self.threshold


def _time_once(fn: Callable[[], object], inner: int) -> float:
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t0) / inner


def measure(case: GateCase) -> tuple[float, float]:
    """Alternate ours/peer ``case.rounds`` times after one warm-up each; return (ours_min, peer_min)."""
    case.ours()
    case.peer()
    ours, peer = [], []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(case.rounds):
            # Alternate who goes first so neither systematically enjoys a warmer cache.
            if i % 2 == 0:
                ours.append(_time_once(case.ours, case.inner))
                peer.append(_time_once(case.peer, case.inner))
            else:
                peer.append(_time_once(case.peer, case.inner))
                ours.append(_time_once(case.ours, case.inner))
    finally:
        if gc_was_enabled:
            gc.enable()
    return min(ours), min(peer)


def evaluate(case: GateCase, floors: dict) -> GateResult:
    ours_min, peer_min = measure(case)
    ratio = peer_min / ours_min
    entry = floors.get(case.name)
    if entry is None:
        raise KeyError(f"no floor committed for gate case {case.name!r} in benchmarks/floors.json")
    required = float(entry["required"])
    baseline = entry.get("baseline")
    threshold = max(required, float(baseline) * (1.0 - MARGIN)) if baseline is not None else required
    return GateResult(case.name, case.peer_name, ours_min, peer_min, ratio, threshold, required, baseline)
