"""How torch's idle OpenMP workers wait between parallel regions: the CLI makes them sleep (PASSIVE).

GNU OpenMP, which torch's CPU wheels use, lets an idle worker spin for 300,000 iterations after each
parallel region before it sleeps, several milliseconds on a Zen 4. On a machine with few cores the spinning
worker takes a core from whatever runs next outside OpenMP: the native attention's own threads (on 2 cores
their op ran 31-39 ms right after a GEMM instead of 22-23 ms), the server's event loop, and on a streaming
PC the video encoder. With ``OMP_WAIT_POLICY=PASSIVE`` workers sleep at once; on a 2-core Zen 4 the F5TTS_v1_Base
DiT step measured faster in every mode (int8 + compile 2.13 -> 1.96 s, bf16 2.84 -> 2.66 s, fp32 5.38 ->
5.27 s; at 480 frames bf16 1.32-1.42 -> 1.19 s, fp32 even; benchmarks/README.md). Only ops far smaller than
F5's pay for the wake-up: the gate's small-config fp32 sampler loop runs ~12% slower.

libgomp reads the variable once, when torch loads it, so :func:`prefer_passive_wait` must run before
anything imports torch: ``python -m ishowtts`` does that first thing, and so do the test and benchmark
suites. A value already in the environment wins (``OMP_WAIT_POLICY=ACTIVE python -m ishowtts serve`` keeps
the workers spinning). An application that embeds ishowtts sets the variable itself.
"""

from __future__ import annotations

import os
import sys

from ishowtts import defaults

__all__ = ["VARIABLE", "prefer_passive_wait", "wait_policy"]

VARIABLE = "OMP_WAIT_POLICY"


def prefer_passive_wait() -> str:
    """Set ``OMP_WAIT_POLICY`` to the default (PASSIVE) unless it is set or torch is already loaded; returns
    what this process's OpenMP will use, as :func:`wait_policy` words it."""
    if VARIABLE not in os.environ and "torch" not in sys.modules:
        os.environ[VARIABLE] = defaults.OMP_WAIT_POLICY
    return wait_policy()


def wait_policy() -> str:
    """``"PASSIVE"`` / ``"ACTIVE"`` (the variable's value), or ``"spin (unset)"``: libgomp's default, spinning
    before it sleeps. Right only if the variable has not changed since torch was loaded."""
    value = os.environ.get(VARIABLE, "").strip()
    return value.upper() if value else "spin (unset)"
