"""Opt-in int8 quantisation of the DiT's transformer Linears through torchao.

* CPU: dynamic int8 activations + int8 weights (``Int8DynamicActivationInt8WeightConfig``);
* CUDA: weight-only int8 (``Int8WeightOnlyConfig``).

Only the Linears inside ``DiT.transformer_blocks`` (attention q/k/v/out and the feed-forward; >95% of the
FLOPs) are quantised. The input projection, time/text branches, adaLN modulation and output projection
stay in float: they run once per request or are tiny, and the sampler reads the input projection's
weight slices directly. torchao is an optional dependency (``pip install 'ishowtts[fast]'``).
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from ishowtts.logging_setup import kv
from ishowtts.model.dit import DiT
from ishowtts.model.precast import block_linears

__all__ = ["QUANT_MODES", "QuantizationUnavailable", "quantize_dit", "torchao_available"]

log = logging.getLogger(__name__)

QUANT_MODES = ("int8",)


class QuantizationUnavailable(RuntimeError):
    """torchao is missing or cannot quantise on this device."""


def torchao_available() -> bool:
    try:
        import torchao  # noqa: F401
    except Exception:
        return False
    return True


def _config(device: torch.device) -> Any:
    try:
        from torchao.quantization import Int8DynamicActivationInt8WeightConfig, Int8WeightOnlyConfig
    except Exception as exc:  # ImportError, or a torchao built for another torch
        raise QuantizationUnavailable(
            f"int8 quantisation needs torchao ({exc}); install it with: pip install 'ishowtts[fast]'"
        ) from exc
    if device.type == "cuda":
        return Int8WeightOnlyConfig()
    return Int8DynamicActivationInt8WeightConfig()


def quantize_dit(dit: DiT, mode: str = "int8") -> int:
    """Quantise ``dit``'s transformer-block Linears in place; returns how many were converted."""
    if mode not in QUANT_MODES:
        raise ValueError(f"unknown quantisation {mode!r}; supported: {QUANT_MODES}")
    from torchao.quantization import quantize_

    device = dit.proj_out.weight.device
    cfg = _config(device)
    targets = {id(m) for m in block_linears(dit)}  # adaLN runs once per request (precomputed)

    def is_target(module: nn.Module, fqn: str) -> bool:
        return id(module) in targets

    quantize_(dit, cfg, filter_fn=is_target)
    dit._quantized = mode  # type: ignore[attr-defined]
    log.info(
        "dit quantised",
        extra=kv(mode=mode, linears=len(targets), config=type(cfg).__name__, device=str(device)),
    )
    return len(targets)
