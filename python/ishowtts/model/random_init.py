"""Randomly initialised models for tests and benchmarks: EVERY parameter is drawn (including the
layers upstream zero-initialises), scaled so activations stay O(1) and outputs are not trivial."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from .configs import F5Config, resolve_config
from .f5 import F5Model
from .vocos import MEL_24KHZ, VocosConfig, VocosDecoder


def randomize_(module: nn.Module, seed: int = 0, gain: float = 1.0) -> nn.Module:
    """Redraw every parameter in place from a seeded generator (buffers such as rotary frequencies and
    windows are left as constructed). Matrices/kernels: N(0, gain / sqrt(fan_in)); norm weights and
    layer scales: 1 + N(0, 0.1) / N(0.1, 0.05); biases and GRN params: N(0, 0.05)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if p.ndim >= 2 and "embed" in name and isinstance(_owner(module, name), nn.Embedding):
                v = torch.randn(p.shape, generator=gen)
            elif p.ndim >= 2 and leaf == "weight":
                fan_in = math.prod(p.shape[1:])
                std = gain / math.sqrt(fan_in)
                if "attn_norm" in name or "norm_out" in name:
                    std *= 0.5  # adaLN: modest scales/shifts/gates
                v = torch.randn(p.shape, generator=gen) * std
            elif leaf == "gamma" and p.ndim == 1:  # Vocos layer scale
                v = 0.1 + 0.05 * torch.randn(p.shape, generator=gen)
            elif leaf == "weight":  # LayerNorm / RMSNorm weights
                v = 1.0 + 0.1 * torch.randn(p.shape, generator=gen)
            else:  # biases, GRN gamma/beta
                v = 0.05 * torch.randn(p.shape, generator=gen)
            p.copy_(v.to(p.dtype))
    return module


def _owner(root: nn.Module, param_name: str) -> nn.Module:
    return root.get_submodule(param_name.rsplit(".", 1)[0])


def random_f5(
    config: str | F5Config | Mapping[str, Any] = "tiny",
    vocab_size: int | None = None,
    seed: int = 0,
    vocab: Any = None,
) -> F5Model:
    """A randomly initialised :class:`F5Model` (eval mode). ``vocab_size`` sets text_num_embeds."""
    from ishowtts.text.vocab import Vocab

    voc = Vocab.coerce(vocab) if vocab is not None else None
    overrides = {}
    if vocab_size is not None:
        overrides["text_num_embeds"] = int(vocab_size)
    elif voc is not None:
        overrides["text_num_embeds"] = len(voc)
    cfg = resolve_config(config, **overrides)
    model = F5Model(cfg, vocab=voc)
    randomize_(model, seed)
    return model.eval()


def random_vocos(seed: int = 0, config: VocosConfig = MEL_24KHZ) -> VocosDecoder:
    return randomize_(VocosDecoder(config), seed).eval()  # type: ignore[return-value]
