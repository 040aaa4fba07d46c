"""Analytic FLOP counts of the DiT sampler loop (matmul-like work only; elementwise ops ignored), for the
benchmarks' utilisation figures (test_engine.py); checked against torch's FLOP counter by
tests/benchmarks/test_flops.py."""

from __future__ import annotations

from ishowtts.model.configs import F5Config

CONV_POS_KERNEL = 31
CONV_POS_GROUPS = 16


def dit_step_flops(cfg: F5Config, batch: int, frames: int, guided: bool = True) -> int:
    """FLOPs (2 per multiply-add) of one sampler step as :func:`ishowtts.model.euler_loop` runs it.

    ``guided``: cond + uncond rows (2B) go through the network. Per-request work hoisted out of the
    loop (text branch, cond/text part of the input projection, adaLN projections) is not counted.
    """
    groups = 2 if guided else 1
    rows = groups * batch * frames
    d, inner, ff, mel = cfg.dim, cfg.inner_dim, cfg.ff_inner_dim, cfg.mel_dim
    flops = 2 * batch * frames * mel * d  # noisy-mel slice of the input projection (shared by both groups)
    flops += 2 * (2 * rows * d * (d // CONV_POS_GROUPS) * CONV_POS_KERNEL)  # two grouped convs
    per_block = 2 * rows * d * inner * 4  # q, k, v, out projections
    per_block += attention_flops(cfg, batch, frames, guided) // cfg.depth
    per_block += 2 * 2 * rows * d * ff  # feed-forward in and out
    flops += cfg.depth * per_block
    if cfg.long_skip_connection:
        flops += 2 * rows * 2 * d * d
    flops += 2 * rows * d * mel  # proj_out
    return flops


def attention_flops(cfg: F5Config, batch: int, frames: int, guided: bool = True) -> int:
    """FLOPs of QK^T and AV over all blocks of one step (part of :func:`dit_step_flops`)."""
    groups = 2 if guided else 1
    return cfg.depth * 2 * 2 * groups * batch * frames * frames * cfg.inner_dim
