"""Small numeric kernels: rotary paths."""

from __future__ import annotations

import torch

from ishowtts.model.layers import apply_rotary, rotary_tables


def _reference_rotary(t: torch.Tensor, inv_freq: torch.Tensor) -> torch.Tensor:
    """x_transformers' formula written out: interleaved freqs, rotate_half on adjacent pairs."""
    n = t.shape[-2]
    freqs = torch.arange(n).float()[:, None] * inv_freq[None, :]
    freqs = torch.stack((freqs, freqs), dim=-1).flatten(-2)
    pairs = t.unflatten(-1, (-1, 2))
    rotated = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
    return t * freqs.cos() + rotated * freqs.sin()


def test_rotary_eager_and_compiled_forms_match_reference(monkeypatch) -> None:
    d, n = 16, 37
    inv = 1.0 / (10000 ** (torch.arange(0, d, 2).float() / d))
    base = torch.randn(2, n, 3 * d)
    t = base.view(2, n, 3, d).transpose(1, 2)  # strided like the real q/k
    rope = rotary_tables(inv, n)
    ref = _reference_rotary(t, inv)
    assert torch.allclose(apply_rotary(t, rope), ref, atol=1e-5)
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    assert torch.allclose(apply_rotary(t, rope), ref, atol=1e-5)
    half = apply_rotary(t.to(torch.bfloat16), rope)
    assert half.dtype == torch.bfloat16
