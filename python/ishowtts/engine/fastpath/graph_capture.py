"""Capture one call of a zero-argument step function as a CUDA graph (the only CUDA-only code of the
fast path).

The step must read and write only tensors that live as long as the graph (static buffers, weights):
replay re-runs the recorded kernels on the same memory, so any Python value or freshly created tensor
seen during capture is frozen into the graph. The tests check exactly that on the CPU by swapping this
function for a tracer with the same semantics (``torch.fx`` constants are the very tensors, by identity).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .precision import autocast

__all__ = ["capture_graph"]

WARMUP_CALLS = 2


def capture_graph(fn: Callable[[], None], device: torch.device, pool: Any, dtype: torch.dtype) -> Any:
    """Warm ``fn`` up on a side stream (kernel selection, lazy allocations such as output buffers happen
    outside the graph), then capture one call under ``autocast(dtype)`` into ``pool``. Returns an object
    with ``replay()``. The warm-up calls really run ``fn`` (the caller restores any state they advance);
    the captured call does not."""
    side = torch.cuda.Stream(device=device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side), autocast(device, dtype):
        for _ in range(WARMUP_CALLS):
            fn()
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    # thread_local: a capture can happen while serving (a bucket first seen at run time) while another
    # thread prepares a voice on the same GPU; "global" mode would fail that thread's CUDA calls.
    with torch.cuda.graph(graph, pool=pool, capture_error_mode="thread_local"), autocast(device, dtype):
        fn()
    return graph
