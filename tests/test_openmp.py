"""torch's idle OpenMP workers sleep in ishowtts processes (``ishowtts.openmp``): the CLI sets
OMP_WAIT_POLICY=PASSIVE before torch loads, a value already set wins, and libgomp really stops spinning.
Each case runs a fresh interpreter: libgomp reads the variable once, when torch loads it."""

from __future__ import annotations

import os
import subprocess
import sys

from ishowtts import openmp

# The CPU time a process burns while it sleeps right after parallel work: libgomp's spinning worker
# (several ms per region) or nothing.
_IDLE_CPU_MS = """
import time
{setup}
import torch
torch.set_num_threads(2)  # one OpenMP worker besides this thread, whatever the machine
a = torch.randn(512, 512)
idle = 0.0
for _ in range(5):
    a @ a
    t0 = time.process_time()
    time.sleep(0.05)
    idle += time.process_time() - t0
print(idle * 1e3)
"""


def _run(code: str, **env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k != openmp.VARIABLE}  # conftest set it for this process
    out = subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_the_cli_sets_passive_before_anything_loads_torch() -> None:
    code = (
        "import os, sys\nfrom ishowtts.cli import main\nmain([])\n"
        f"print(os.environ.get({openmp.VARIABLE!r}), 'torch' in sys.modules)"
    )
    assert _run(code) == "PASSIVE False"


def test_a_value_already_set_wins() -> None:
    code = "from ishowtts.openmp import prefer_passive_wait\nprint(prefer_passive_wait())"
    assert _run(code, OMP_WAIT_POLICY="active") == "ACTIVE"
    assert _run(code) == "PASSIVE"


def test_once_torch_is_loaded_it_is_too_late_and_says_so() -> None:
    code = "import os, torch\nfrom ishowtts.openmp import prefer_passive_wait\nprint(prefer_passive_wait(), os.environ.get('OMP_WAIT_POLICY'))"
    assert _run(code) == "spin (unset) None"


def test_libgomp_stops_spinning() -> None:
    spinning = float(_run(_IDLE_CPU_MS.format(setup="")))
    passive = float(_run(_IDLE_CPU_MS.format(setup="from ishowtts.openmp import prefer_passive_wait; prefer_passive_wait()")))
    # measured on a 2-core Zen 4: ~46 ms spinning over the five sleeps, 0.3 ms passive
    assert spinning > 5.0, spinning
    assert passive < spinning / 4, (passive, spinning)
