"""Building blocks of the F5-TTS DiT, parameter names matching upstream's state dict key for key.

Padding masks: ``valid`` tensors are bool ``(B, N)`` with True on real frames/tokens.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ishowtts.model import cpu_attention

# ----------------------------------------------------------------------------------------------- rotary


class Rope(NamedTuple):
    """Rotary tables for one sequence length: ``freqs`` complex (N, D/2) for the eager path, and the
    real interleaved ``cos`` (N, D) / sign-folded ``sin`` (N, D) for traced/compiled code."""

    freqs: Tensor
    cos: Tensor
    sin: Tensor


def rotary_tables(inv_freq: Tensor, seq_len: int) -> Rope:
    """Tables for x_transformers-style interleaved rotary embeddings, computed in fp32 like upstream
    (which disables autocast there)."""
    pos = torch.arange(seq_len, device=inv_freq.device, dtype=torch.float32)
    angles = pos[:, None] * inv_freq.float()[None, :]
    cos, sin = angles.cos(), angles.sin()
    return Rope(
        torch.complex(cos, sin), cos.repeat_interleave(2, dim=-1), torch.stack((-sin, sin), -1).flatten(-2)
    )


def apply_rotary(t: Tensor, rope: Rope) -> Tensor:
    """Rotate adjacent pairs ``(t[2i], t[2i+1])`` of the last dim of ``t`` (B, H, N, D) by position.

    Same function as x_transformers' ``apply_rotary_pos_emb`` with interleaved frequencies over the full
    head dim, evaluated in fp32 and cast back to ``t``'s dtype. Eagerly it is one complex multiply
    (~8x faster than strided even/odd arithmetic); under torch.compile a real-valued form is used.
    """
    x = t.float()
    if torch.compiler.is_compiling():
        swapped = x.unflatten(-1, (-1, 2)).flip(-1).flatten(-2)
        out = torch.addcmul(x * rope.cos, swapped, rope.sin)
    else:
        out = torch.view_as_real(torch.view_as_complex(x.unflatten(-1, (-1, 2))) * rope.freqs).flatten(-2)
    return out.to(t.dtype)


class RotaryEmbedding(nn.Module):
    """Holds upstream's persistent ``inv_freq`` buffer (x_transformers ``RotaryEmbedding(dim_head)``)."""

    def __init__(self, dim: int, base: float = 10000.0) -> None:
        super().__init__()
        self.register_buffer("inv_freq", 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim)))

    def tables(self, seq_len: int) -> Rope:
        return rotary_tables(self.inv_freq, seq_len)


# ------------------------------------------------------------------------------------------- embeddings


def sinusoidal_embedding(x: Tensor, dim: int, scale: float = 1000.0) -> Tensor:
    """Upstream ``SinusPositionEmbedding``: ``(T,) -> (T, dim)`` as [sin | cos], fp32."""
    half = dim // 2
    step = math.log(10000) / (half - 1)
    freqs = torch.exp(torch.arange(half, device=x.device).float() * -step)
    angles = scale * x.unsqueeze(1) * freqs.unsqueeze(0)
    return torch.cat((angles.sin(), angles.cos()), dim=-1)


def text_position_table(dim: int, length: int, device: torch.device, theta: float = 10000.0) -> Tensor:
    """Upstream ``precompute_freqs_cis(dim, length)``: ``(length, dim)`` as [cos | sin]."""
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2, device=device)[: dim // 2].float() / dim))
    pos = torch.arange(length, device=device)
    angles = torch.outer(pos, freqs).float()
    return torch.cat((angles.cos(), angles.sin()), dim=-1)


class TimestepEmbedding(nn.Module):
    """Sinusoidal (scale 1000, 256 channels) then Linear-SiLU-Linear; keys ``time_mlp.0`` / ``time_mlp.2``."""

    def __init__(self, dim: int, freq_embed_dim: int = 256) -> None:
        super().__init__()
        self.freq_embed_dim = freq_embed_dim
        self.time_mlp = nn.Sequential(nn.Linear(freq_embed_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, timestep: Tensor) -> Tensor:
        hidden = sinusoidal_embedding(timestep, self.freq_embed_dim).to(timestep.dtype)
        return self.time_mlp(hidden)


class ConvPositionEmbedding(nn.Module):
    """Two grouped Conv1d (k=31, groups=16) with Mish; padded frames zeroed around each conv."""

    def __init__(self, dim: int, kernel_size: int = 31, groups: int = 16) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.conv1d = nn.Sequential(
            nn.Conv1d(dim, dim, kernel_size, groups=groups, padding=pad),
            nn.Mish(),
            nn.Conv1d(dim, dim, kernel_size, groups=groups, padding=pad),
            nn.Mish(),
        )

    def forward(self, x: Tensor, valid: Tensor | None = None) -> Tensor:
        """``x`` (B, N, D) -> (B, N, D) (the residual is added by the caller)."""
        h = x.transpose(1, 2)
        keep = None if valid is None else valid.unsqueeze(1)
        if keep is not None:
            h = h.masked_fill(~keep, 0.0)
        conv_a, act_a, conv_b, act_b = self.conv1d
        h = conv_a(h)
        if keep is not None:
            h = h.masked_fill(~keep, 0.0)
        h = conv_b(act_a(h))
        if keep is not None:
            h = h.masked_fill(~keep, 0.0)
        return act_b(h).transpose(1, 2)


# ---------------------------------------------------------------------------------------- text branch


class GRN(nn.Module):
    """Global response normalisation over the sequence axis (upstream GRN, params (1, 1, dim))."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, dim))

    def forward(self, x: Tensor) -> Tensor:
        gx = torch.linalg.vector_norm(x, ord=2, dim=1, keepdim=True)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * nx) + self.beta + x


class ConvNeXtV2Block(nn.Module):
    """Depthwise conv k=7, LayerNorm, Linear, GELU, GRN, Linear, residual (text encoder block)."""

    def __init__(self, dim: int, intermediate_dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.grn = GRN(intermediate_dim)
        self.pwconv2 = nn.Linear(intermediate_dim, dim)

    def forward(self, x: Tensor, valid: Tensor | None = None) -> Tensor:
        """``valid`` (B, N): if given, positions outside it are excluded from GRN's sequence norm."""
        h = self.dwconv(x.transpose(1, 2)).transpose(1, 2)
        h = self.act(self.pwconv1(self.norm(h)))
        if valid is not None:
            h = h.masked_fill(~valid.unsqueeze(-1), 0.0)
        h = self.pwconv2(self.grn(h))
        return x + h


# ------------------------------------------------------------------------------------------ DiT parts


class AdaLayerNorm(nn.Module):
    """adaLN-Zero projection ``Linear(SiLU(t)) -> 6*dim``: shift/scale/gate for attention and MLP."""

    def __init__(self, dim: int, chunks: int = 6) -> None:
        super().__init__()
        self.chunks = chunks
        self.linear = nn.Linear(dim, dim * chunks)

    def modulation(self, t_emb: Tensor) -> Tensor:
        """``(T, dim) -> (T, chunks, dim)`` with ``+1`` already added to every *scale* chunk."""
        mod = self.linear(F.silu(t_emb)).unflatten(-1, (self.chunks, -1))
        return mod + self._scale_offset(mod)

    def _scale_offset(self, mod: Tensor) -> Tensor:
        offset = torch.zeros(self.chunks, 1, device=mod.device, dtype=mod.dtype)
        # 6 chunks: shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp
        # 2 chunks (final layer): scale, shift
        idx = (1, 4) if self.chunks == 6 else (0,)
        offset[list(idx)] = 1.0
        return offset


def modulate(x_normed: Tensor, shift: Tensor, scale_plus_one: Tensor) -> Tensor:
    """``norm(x) * (1 + scale) + shift`` with (B|1, dim) params broadcast over the sequence."""
    return torch.addcmul(shift.unsqueeze(1), x_normed, scale_plus_one.unsqueeze(1))


class TanhGELU(nn.Module):
    """GELU with the tanh approximation, as upstream's ``nn.GELU(approximate="tanh")``. Eager it is torch's
    fused kernel; traced by ``torch.compile`` it is the same function written as
    ``x * sigmoid(2u) = x / (1 + exp(-2u))``, ``u = sqrt(2/pi) (x + 0.044715 x^3)``, in fp32: inductor's CPU
    code then calls exp instead of tanh, 3x faster on a Zen 4 (1920 x 2048: 1.2 ms against 3.5), max abs
    difference 5e-7 (tests/model/test_kernels.py). Inductor itself computed tanh as ``2 / (1 + exp(-2x)) - 1``
    until pytorch#148254 switched to Sleef's slower tanh, because that form cancels near 0; the GELU form has
    no subtraction, so rewriting it here keeps the accuracy (inductor's ``cpp.use_decompose_tanh`` would bring
    the cancelling form back for every tanh)."""

    def forward(self, x: Tensor) -> Tensor:
        if not torch.compiler.is_compiling():
            return F.gelu(x, approximate="tanh")
        xf = x.float()
        return (xf / (1.0 + torch.exp(-1.5957691216057308 * (xf + 0.044715 * xf * xf * xf)))).to(x.dtype)


class FeedForward(nn.Module):
    """Linear, GELU(tanh), Linear; keys ``ff.0.0`` and ``ff.2`` like upstream."""

    def __init__(self, dim: int, mult: float) -> None:
        super().__init__()
        inner = int(dim * mult)
        self.ff = nn.Sequential(
            nn.Sequential(nn.Linear(dim, inner), TanhGELU()),
            nn.Identity(),  # upstream's dropout slot keeps the index of the output Linear at 2
            nn.Linear(inner, dim),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.ff(x)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return F.rms_norm(x, (x.shape[-1],), self.weight.to(x.dtype), self.eps)


class Attention(nn.Module):
    """Multi-head self attention with rotary embeddings on the first ``pe_attn_head`` heads.

    ``kernel`` is ``"sdpa"`` (torch's ``scaled_dot_product_attention``, the reference) or ``"native"`` (the
    CPU bf16 kernel of :mod:`ishowtts.model.cpu_attention`, for key masks and head size 64), chosen when the
    engine builds its model (:func:`ishowtts.model.cpu_attention.use_native_attention`)."""

    kernel = "sdpa"

    def __init__(
        self, dim: int, heads: int, dim_head: int, qk_norm: str | None = None, pe_attn_head: int | None = None
    ) -> None:
        super().__init__()
        self.heads = heads
        self.dim_head = dim_head
        self.pe_attn_head = pe_attn_head
        inner = heads * dim_head
        self.to_q = nn.Linear(dim, inner)
        self.to_k = nn.Linear(dim, inner)
        self.to_v = nn.Linear(dim, inner)
        if qk_norm == "rms_norm":
            self.q_norm: nn.Module | None = RMSNorm(dim_head)
            self.k_norm: nn.Module | None = RMSNorm(dim_head)
        else:
            self.q_norm = self.k_norm = None
        self.to_out = nn.ModuleList([nn.Linear(inner, dim), nn.Identity()])

    def _rope(self, t: Tensor, rope: Rope) -> Tensor:
        pn = self.pe_attn_head
        if pn is None or pn >= self.heads:
            return apply_rotary(t, rope)
        return torch.cat((apply_rotary(t[:, :pn], rope), t[:, pn:]), dim=1)

    def forward(
        self,
        x: Tensor,
        rope: Rope | None,
        attn_mask: Tensor | None = None,
        valid: Tensor | None = None,
    ) -> Tensor:
        """``x`` (B, N, dim); ``attn_mask`` bool broadcastable to (B, H, N, N) (True = attend);
        ``valid`` (B, N): output rows of padded frames are zeroed like upstream."""
        b, n, _ = x.shape
        q = self.to_q(x).view(b, n, self.heads, self.dim_head).transpose(1, 2)
        k = self.to_k(x).view(b, n, self.heads, self.dim_head).transpose(1, 2)
        v = self.to_v(x).view(b, n, self.heads, self.dim_head).transpose(1, 2)
        if self.q_norm is not None and self.k_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        if rope is not None:
            q, k = self._rope(q, rope), self._rope(k, rope)
        if self.kernel == "native":
            bf16 = torch.bfloat16
            out = cpu_attention.masked_attention(
                q.transpose(1, 2).to(bf16), k.transpose(1, 2).to(bf16), v.transpose(1, 2).to(bf16),
                cpu_attention.key_bias(attn_mask), self.dim_head**-0.5,
            ).view(b, n, self.heads * self.dim_head)  # fmt: skip
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
            out = out.transpose(1, 2).reshape(b, n, self.heads * self.dim_head)
        out = self.to_out[0](out)
        if valid is not None:
            out = out.masked_fill(~valid.unsqueeze(-1), 0.0)
        return out
