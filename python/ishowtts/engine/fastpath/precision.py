"""Mixed precision: the autocast context the fast path's runners wrap the network in.

The sampler state ``x`` and the t grid stay fp32 (``ishowtts.model.cfm``); only the network runs in the
autocast dtype, and its output is cast back to fp32 before guidance and the Euler update.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

__all__ = ["autocast"]


def autocast(device: torch.device | str, dtype: torch.dtype) -> contextlib.AbstractContextManager[Any]:
    """Autocast to ``dtype`` (no-op for fp32). The weight-cast cache is off, so the same context can
    wrap a CUDA-graph capture (cached casts made during capture would be stale on replay)."""
    device = torch.device(device)
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype, cache_enabled=False)
