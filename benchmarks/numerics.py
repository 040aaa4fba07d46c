"""Numerical error metrics for the benchmarks' accuracy checks (fast-path precision against fp32)."""

from __future__ import annotations

from typing import Any

import torch


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
