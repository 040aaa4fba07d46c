"""The DiT's attention on the CPU in bf16 through the native AVX512-BF16 kernel (``csrc/attention``).

torch's SDPA flash kernel reaches ~35% of the bf16 matmul peak on F5's attention (B=2, 16 heads of 64,
~960 frames) on a Zen 4; the native kernel scores a block of 8 query rows against every key with
``vdpbf16ps``, takes the exact softmax in fp32 and multiplies by V in bf16, 1.7-2.1x SDPA there
(benchmarks/README.md). It handles F5's masks (a key mask per batch row) and head size 64 only.

:func:`masked_attention` is a torch custom op (``ishowtts::masked_attention_bf16``), so ``torch.compile``
keeps it as one call in the compiled step. :func:`available` says whether this process can run it; the
engine decides when the model is built whether the DiT uses it (``engine.options.resolve``, "attention").
"""

import torch
from torch import Tensor, nn

__all__ = ["HEAD_DIM", "available", "key_bias", "masked_attention", "use_native_attention"]

HEAD_DIM = 64


def available() -> bool:
    """The native core has the kernel and this CPU runs it (AVX512-BF16; not under ISHOWTTS_FORCE_SCALAR)."""
    try:
        from ishowtts import _native
    except ImportError:
        return False
    return bool(_native.has_avx512_bf16())


def key_bias(attn_mask: Tensor | None) -> Tensor | None:
    """The DiT's (B, 1, 1, N) bool key mask (True = attend) as the kernel's (B, N) fp32 bias (0 / -inf)."""
    if attn_mask is None:
        return None
    if attn_mask.dim() != 4 or attn_mask.shape[1] != 1 or attn_mask.shape[2] != 1:
        raise ValueError(f"expected a key mask shaped (B, 1, 1, N), got {tuple(attn_mask.shape)}")
    keep = attn_mask[:, 0, 0, :]
    return torch.zeros(keep.shape, dtype=torch.float32, device=keep.device).masked_fill(~keep, float("-inf"))


@torch.library.custom_op("ishowtts::masked_attention_bf16", mutates_args=())
def masked_attention(q: Tensor, k: Tensor, v: Tensor, bias: Tensor | None, scale: float) -> Tensor:
    """softmax(scale * q k^T + bias) v per batch row and head. ``q``, ``k``, ``v``: (B, N, H, 64) bf16 on the
    CPU (any strides; made contiguous); ``bias``: (B, N) fp32 (:func:`key_bias`) or None. Returns
    (B, N, H, 64) bf16, contiguous, so ``out.view(B, N, H * 64)`` is free."""
    if q.dtype != torch.bfloat16 or k.dtype != q.dtype or v.dtype != q.dtype:
        raise TypeError(f"q, k, v must be bf16, got {q.dtype}, {k.dtype}, {v.dtype}")
    if q.device.type != "cpu":
        raise ValueError(f"the native attention runs on the CPU, got {q.device}")
    if q.dim() != 4 or q.shape[-1] != HEAD_DIM or k.shape != q.shape or v.shape != q.shape:
        raise ValueError(f"q, k, v must share a (B, N, H, {HEAD_DIM}) shape, got {q.shape}, {k.shape}, {v.shape}")
    from ishowtts import _native

    q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
    out = torch.empty_like(q, memory_format=torch.contiguous_format)
    b = None if bias is None else bias.to(torch.float32).contiguous().numpy()
    _native.masked_attention_bf16(
        q.view(torch.uint16).numpy(), k.view(torch.uint16).numpy(), v.view(torch.uint16).numpy(), b,
        out.view(torch.uint16).numpy(), float(scale), torch.get_num_threads(),
    )  # fmt: skip
    return out


@masked_attention.register_fake
def _(q: Tensor, k: Tensor, v: Tensor, bias: Tensor | None, scale: float) -> Tensor:
    return torch.empty_like(q, memory_format=torch.contiguous_format)


def use_native_attention(model: nn.Module) -> int:
    """Switch every :class:`~ishowtts.model.layers.Attention` of ``model`` with head size 64 to the native
    kernel (done once, when the engine builds its model); returns how many were switched."""
    from ishowtts.model.layers import Attention

    if not available():
        raise RuntimeError("the native attention needs a CPU with AVX512-BF16 (and a native core built with it)")
    switched = 0
    for module in model.modules():
        if isinstance(module, Attention) and module.dim_head == HEAD_DIM:
            module.kernel = "native"
            switched += 1
    return switched
