"""Gate cases: our resampler against soxr HQ (same-run ratio of minimum times; see benchmarks/gatelib.py).

10 s of mono float32 per ratio. ``required`` in floors.json is the hard floor per kernel set: for AVX2+FMA
it sits above half the lowest ratio any recorded machine class measured (so a 2x slowdown fails) and well
under what the quality-gated kernels reach; NEON keeps issue 2's floor (0.5x soxr HQ), scalar is set from
forced-scalar runs. ``baselines`` are the medians per machine class.
"""

from __future__ import annotations

import numpy as np
import soxr

from gatelib import GateCase
from ishowtts.audio import active_isa, resample

RATIOS = [(24000, 48000), (24000, 16000), (48000, 24000), (44100, 24000), (22050, 24000)]
SECONDS = 10.0


def _case(src: int, dst: int) -> GateCase:
    x = (np.random.default_rng(0).standard_normal(int(SECONDS * src)) * 0.3).astype(np.float32)
    return GateCase(
        name=f"resample_{src}_{dst}_vs_soxr_hq",
        ours=lambda: resample(x, src, dst),
        peer=lambda: soxr.resample(x, src, dst, quality="HQ"),
        peer_name="soxr HQ",
        # One call (0.4-1.5 ms) per sample and many rounds: on a loaded 2-core machine a short sample has a
        # fair chance to run unpreempted for both contenders, so the minima stay comparable.
        inner=1,
        rounds=61,
        notes=f"10 s mono float32, {src} -> {dst} Hz, kernels {active_isa()}",
    )


CASES = [_case(s, d) for s, d in RATIOS]
