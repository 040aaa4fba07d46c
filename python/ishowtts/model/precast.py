"""Which Linears of a DiT run every sampler step, and storing them in a half dtype once.

These are facts about the model's structure, so they live beside it: the engine's fast-path options
(``precast``, ``quantize = "int8"``) apply them to a model when the engine is built.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from ishowtts.logging_setup import kv

__all__ = ["block_linears", "precast_block_linears", "precast_dtype"]

log = logging.getLogger(__name__)


def block_linears(dit: Any) -> list[nn.Linear]:
    """The Linears a DiT step runs every step: attention q/k/v/out and the feed-forward of every block
    (the blocks' adaLN Linears run once per request, in ``time_modulation``)."""
    return [
        m
        for blk in dit.transformer_blocks
        for part in (blk.attn, blk.ff)
        for m in part.modules()
        if isinstance(m, nn.Linear)
    ]


def precast_block_linears(dit: Any, dtype: torch.dtype) -> int:
    """Store the per-step Linears' weights and biases in the autocast ``dtype`` once, in place.

    Autocast runs with its cast cache off (graph capture needs that), so with fp32 weights every step
    re-casts every block Linear: on F5TTS_v1_Base ~185M parameters read as fp32 and written as fp16
    per step. Autocast casts a Linear's input, weight and bias to ``dtype``, so casting them once here
    gives bit-identical results; everything else (norms, embeddings, the residual stream, the sampler
    state) stays as it was. The model must then only run these blocks under ``autocast(dtype)``.
    Returns how many Linears were cast (0 for fp32 or when already cast)."""
    if dtype == torch.float32:
        return 0
    if dtype not in (torch.float16, torch.bfloat16):
        raise ValueError(f"precast dtype must be fp16 or bf16, got {dtype}")
    linears = block_linears(dit)
    done = precast_dtype(dit)
    if done is not None and done != dtype:
        raise ValueError(f"block Linears already precast to {done}; cannot switch to {dtype}")
    n = 0
    for m in linears:
        if m.weight.dtype == torch.float32:
            m.to(dtype)
            n += 1
    if n:
        log.info("block linears precast", extra=kv(linears=n, dtype=str(dtype)))
    return n


def precast_dtype(dit: Any) -> torch.dtype | None:
    """The half dtype ``dit``'s per-step Linears are stored in, or None while they are fp32."""
    blocks = dit.transformer_blocks
    dtype = blocks[0].attn.to_q.weight.dtype if len(blocks) else torch.float32  # precast casts them all
    return None if dtype == torch.float32 else dtype
