"""The F5-TTS DiT backbone (upstream ``f5_tts.model.backbones.dit.DiT``), state-dict compatible.

Besides the upstream-compatible :meth:`DiT.forward`, the model is split into per-request pieces the
sampler precomputes once (:meth:`DiT.time_modulation`, :meth:`DiT.embed_text`,
:meth:`DiT.conditioning`) and the per-step :meth:`DiT.denoise`.

Padding (``mask`` / ``valid``, bool (B, N), True on real frames). Two behaviours, chosen by
``DiT.mask_mode``:

* ``"full"`` (default): padded frames are masked as attention keys, zeroed in the conv position
  embedding and kept out of the text branch (incl. GRN's sequence norm), so a request padded to a
  bucket gives the same output on its valid frames as unpadded.
* ``"upstream"``: exactly upstream's masked path with ``attn_mask_enabled=False`` (its default): text and
  conv position embedding masked, attention output rows zeroed, but padded frames still act as keys.

Without a mask both behave identically (upstream's batch-1 path).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .configs import F5Config
from .layers import (
    AdaLayerNorm,
    Attention,
    ConvPositionEmbedding,
    FeedForward,
    Rope,
    RotaryEmbedding,
    TimestepEmbedding,
    modulate,
)
from .text_embedding import TextEmbedding

MASK_MODES = ("full", "upstream")


@dataclass
class TimeModulation:
    """adaLN parameters for a set of time values: ``blocks`` (depth, T, 6, dim), ``final`` (T, 2, dim).

    Scale chunks already include the ``+1``. ``T`` is the batch (forward) or the step count (sampler).
    """

    blocks: Tensor
    final: Tensor

    def step(self, i: int) -> TimeModulation:
        return TimeModulation(self.blocks[:, i : i + 1], self.final[i : i + 1])


@dataclass
class Conditioning:
    """Everything about one request that is constant across sampler steps.

    ``static`` (G, B, N, dim): cond-audio + text part of the input projection (+ bias) for G guidance
    groups (1: cond only, 2: cond then uncond); ``x_weight``: the noisy-mel slice of that projection.
    """

    static: Tensor
    x_weight: Tensor
    rope: Rope
    valid: Tensor | None  # (G*B, N)
    attn_mask: Tensor | None  # (G*B, 1, 1, N)


class InputEmbedding(nn.Module):
    """``proj(cat(x, cond, text)) `` then the conv position embedding as a residual."""

    def __init__(self, mel_dim: int, text_dim: int, out_dim: int) -> None:
        super().__init__()
        self.mel_dim = mel_dim
        self.proj = nn.Linear(mel_dim * 2 + text_dim, out_dim)
        self.conv_pos_embed = ConvPositionEmbedding(out_dim)

    def static_part(self, cond: Tensor, text_emb: Tensor, drop_audio_cond: bool) -> Tensor:
        """The step-invariant part ``W_cond @ cond + W_text @ text + b`` (B, N, dim)."""
        m = self.mel_dim
        w = self.proj.weight
        out = F.linear(text_emb, w[:, 2 * m :], self.proj.bias)
        if not drop_audio_cond:
            out = out + F.linear(cond, w[:, m : 2 * m])
        return out

    def x_weight(self) -> Tensor:
        return self.proj.weight[:, : self.mel_dim].contiguous()


class DiTBlock(nn.Module):
    def __init__(self, cfg: F5Config) -> None:
        super().__init__()
        self.attn_norm = AdaLayerNorm(cfg.dim)
        self.attn = Attention(cfg.dim, cfg.heads, cfg.dim_head, cfg.qk_norm, cfg.pe_attn_head)
        self.ff = FeedForward(cfg.dim, cfg.ff_mult)

    def forward(
        self,
        x: Tensor,
        mod: Tensor,
        rope: Rope | None,
        attn_mask: Tensor | None = None,
        valid: Tensor | None = None,
    ) -> Tensor:
        """``mod`` (B|1, 6, dim) from :meth:`AdaLayerNorm.modulation`."""
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = mod.unbind(1)
        dim = x.shape[-1]
        h = modulate(F.layer_norm(x, (dim,), eps=1e-6), shift_msa, scale_msa)
        x = torch.addcmul(x, gate_msa.unsqueeze(1), self.attn(h, rope, attn_mask, valid))
        h = modulate(F.layer_norm(x, (dim,), eps=1e-6), shift_mlp, scale_mlp)
        return torch.addcmul(x, gate_mlp.unsqueeze(1), self.ff(h))


class DiT(nn.Module):
    """F5-TTS DiT. Parameter names equal upstream's, so upstream state dicts load strictly."""

    def __init__(self, cfg: F5Config) -> None:
        super().__init__()
        self.cfg = cfg
        self.dim = cfg.dim
        self.depth = cfg.depth
        self.mel_dim = cfg.mel_dim
        self.mask_mode = "full"
        self.time_embed = TimestepEmbedding(cfg.dim)
        self.text_embed = TextEmbedding(
            cfg.text_num_embeds, cfg.text_dim, mask_padding=cfg.text_mask_padding, conv_layers=cfg.conv_layers
        )
        self.input_embed = InputEmbedding(cfg.mel_dim, cfg.text_dim, cfg.dim)
        self.rotary_embed = RotaryEmbedding(cfg.dim_head)
        self.transformer_blocks = nn.ModuleList([DiTBlock(cfg) for _ in range(cfg.depth)])
        self.long_skip_connection = (
            nn.Linear(cfg.dim * 2, cfg.dim, bias=False) if cfg.long_skip_connection else None
        )
        self.norm_out = AdaLayerNorm(cfg.dim, chunks=2)
        self.proj_out = nn.Linear(cfg.dim, cfg.mel_dim)

    # ------------------------------------------------------------------ per-request precomputation

    @property
    def full_mask(self) -> bool:
        if self.mask_mode not in MASK_MODES:
            raise ValueError(f"DiT.mask_mode must be one of {MASK_MODES}, got {self.mask_mode!r}")
        return self.mask_mode == "full"

    def time_modulation(self, time: Tensor) -> TimeModulation:
        """adaLN parameters of every block for each value of ``time`` (T,)."""
        t_emb = self.time_embed(time)
        blocks = torch.stack([blk.attn_norm.modulation(t_emb) for blk in self.transformer_blocks])
        return TimeModulation(blocks, self.norm_out.modulation(t_emb))

    def embed_text(self, text: Tensor, seq_len: int, drop_text: bool, valid: Tensor | None = None) -> Tensor:
        return self.text_embed(text, seq_len, drop_text=drop_text, valid=valid, full_mask=self.full_mask)

    def conditioning(
        self,
        cond: Tensor,
        text: Tensor,
        valid: Tensor | None,
        groups: tuple[tuple[bool, bool], ...] = ((False, False),),
    ) -> Conditioning:
        """Precompute the step-invariant inputs for ``groups`` of (drop_audio_cond, drop_text) flags.

        ``cond`` (B, N, mel), ``text`` (B, Nt) ids, ``valid`` (B, N) or None. The text embeddings are
        computed here once per group and folded into the static part of the input projection.
        """
        n = cond.shape[1]
        statics = []
        for drop_audio_cond, drop_text in groups:
            text_emb = self.embed_text(text, n, drop_text, valid)
            statics.append(self.input_embed.static_part(cond, text_emb, drop_audio_cond))
        static = torch.stack(statics)
        rope = self.rotary_embed.tables(n)
        g = len(groups)
        valid_all = None if valid is None else valid.repeat(g, 1)
        attn_mask = None
        if valid_all is not None and self.full_mask:
            attn_mask = valid_all[:, None, None, :]
        return Conditioning(static, self.input_embed.x_weight(), rope, valid_all, attn_mask)

    # ------------------------------------------------------------------------------------ per step

    def denoise(self, x: Tensor, c: Conditioning, mod: TimeModulation) -> Tensor:
        """One network evaluation: ``x`` (B, N, mel) -> (G*B, N, mel), groups stacked along the batch."""
        g, b, n, d = c.static.shape
        h = (c.static + F.linear(x, c.x_weight)).view(g * b, n, d)
        h = self.input_embed.conv_pos_embed(h, c.valid) + h
        residual = h
        for j, block in enumerate(self.transformer_blocks):
            h = block(h, mod.blocks[j], c.rope, c.attn_mask, c.valid)
        if self.long_skip_connection is not None:
            h = self.long_skip_connection(torch.cat((h, residual), dim=-1))
        scale, shift = mod.final.unbind(1)
        h = modulate(F.layer_norm(h, (d,), eps=1e-6), shift, scale)
        return self.proj_out(h)

    # ------------------------------------------------------------------------- upstream interface

    def forward(
        self,
        x: Tensor,
        cond: Tensor,
        text: Tensor,
        time: Tensor,
        drop_audio_cond: bool = False,
        drop_text: bool = False,
        mask: Tensor | None = None,
    ) -> Tensor:
        """Upstream ``DiT.forward`` (without its text cache): x, cond (B, N, mel), text (B, Nt) int ids
        (-1 padded), time scalar or (B,), mask (B, N) bool or None -> predicted flow (B, N, mel)."""
        b = x.shape[0]
        if time.ndim == 0:
            time = time.repeat(b)
        c = self.conditioning(cond, text, mask, groups=((drop_audio_cond, drop_text),))
        return self.denoise(x, c, self.time_modulation(time))
