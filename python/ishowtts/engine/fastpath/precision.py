"""Mixed-precision policy: which compute dtype a device gets, the autocast context, and error metrics.

* CUDA: fp16 by default (bf16 on request).
* CPU: fp32 by default; bf16 autocast on request, and ``"auto"`` picks bf16 only on CPUs with bf16
  matrix units (AVX512-BF16 / AMX-BF16 in ``/proc/cpuinfo``, confirmed by a quick ``torch.mm`` probe).

The sampler state ``x`` and the t grid stay fp32 (``ishowtts.model.cfm``); only the network runs in the
autocast dtype, and its output is cast back to fp32 before guidance and the Euler update.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import platform
import time
from typing import Any

import torch

from ishowtts.logging_setup import kv

__all__ = [
    "autocast",
    "cpu_bf16_matmul_speedup",
    "cpu_has_bf16_units",
    "nmse",
    "resolve_compute_dtype",
]

log = logging.getLogger(__name__)

_NAMES = {
    "fp32": torch.float32,
    "float32": torch.float32,
    "fp16": torch.float16,
    "float16": torch.float16,
    "half": torch.float16,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
}
_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_bf16_units() -> bool:
    """True when the CPU advertises bf16 matrix instructions (x86 AVX512-BF16/AMX-BF16, Arm BF16)."""
    return _cpu_bf16_flags()


@functools.lru_cache(maxsize=1)
def _cpu_bf16_flags() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            text = f.read(1 << 20)
    except OSError:
        return False
    machine = platform.machine().lower()
    if machine in ("aarch64", "arm64"):
        return " bf16" in text
    return any(flag in text.split() for flag in _BF16_CPU_FLAGS)


@functools.lru_cache(maxsize=1)
def cpu_bf16_matmul_speedup(n: int = 512, reps: int = 3) -> float:
    """Measured ``torch.mm`` time ratio fp32 / bf16 on this CPU (>1: bf16 is faster). Cached."""

    def best(a: torch.Tensor, b: torch.Tensor) -> float:
        torch.mm(a, b)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            torch.mm(a, b)
            times.append(time.perf_counter() - t0)
        return min(times)

    a = torch.randn(n, n)
    b = torch.randn(n, n)
    ratio = best(a, b) / best(a.bfloat16(), b.bfloat16())
    log.info("bf16 matmul probe", extra=kv(n=n, fp32_over_bf16=round(ratio, 2)))
    return ratio


def resolve_compute_dtype(requested: str | torch.dtype | None, device: torch.device | str) -> torch.dtype:
    """``None`` -> fp16 on CUDA, fp32 elsewhere; ``"auto"`` -> fp16 on CUDA, bf16 on CPUs with bf16
    units that really run bf16 matmuls faster, else fp32. fp16 on the CPU is refused."""
    device = torch.device(device)
    if requested is None:
        return torch.float16 if device.type == "cuda" else torch.float32
    if isinstance(requested, str):
        key = requested.lower()
        if key == "auto":
            if device.type == "cuda":
                return torch.float16
            if cpu_has_bf16_units() and cpu_bf16_matmul_speedup() > 1.2:
                return torch.bfloat16
            return torch.float32
        try:
            requested = _NAMES[key]
        except KeyError:
            raise ValueError(f"unknown dtype {requested!r}; use auto or one of {sorted(_NAMES)}") from None
    if requested not in (torch.float32, torch.float16, torch.bfloat16):
        raise ValueError(f"compute dtype must be fp32, fp16 or bf16, got {requested}")
    if requested == torch.float16 and device.type != "cuda":
        raise ValueError("fp16 needs a CUDA device; use fp32 or bf16 on the CPU")
    return requested


def autocast(device: torch.device | str, dtype: torch.dtype) -> contextlib.AbstractContextManager[Any]:
    """Autocast to ``dtype`` (no-op for fp32). The weight-cast cache is off, so the same context can
    wrap a CUDA-graph capture (cached casts made during capture would be stale on replay)."""
    device = torch.device(device)
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype, cache_enabled=False)


def nmse(estimate: Any, reference: Any) -> float:
    """Normalised mean squared error ``sum((e - r)^2) / sum(r^2)`` (tensors or arrays, same shape)."""
    e = torch.as_tensor(estimate).detach().double().flatten()
    r = torch.as_tensor(reference).detach().double().flatten()
    if e.shape != r.shape:
        raise ValueError(f"shapes differ: {tuple(e.shape)} vs {tuple(r.shape)}")
    denom = float((r * r).sum())
    if denom == 0.0:
        raise ValueError("reference is all zeros: NMSE undefined")
    return float(((e - r) ** 2).sum()) / denom
