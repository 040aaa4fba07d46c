"""Small numeric kernels: rotary paths, the tanh GELU's compiled form."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ishowtts.model.layers import TanhGELU, apply_rotary, rotary_tables


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


def test_tanh_gelu_compiled_form_is_the_same_function(monkeypatch) -> None:
    x = torch.cat([torch.linspace(-12, 12, 4001), torch.tensor([-1e4, -100.0, -0.0, 0.0, 100.0, 1e4])])
    ref = F.gelu(x.double(), approximate="tanh")
    act = TanhGELU()
    assert torch.equal(act(x), F.gelu(x, approximate="tanh"))  # eager: torch's own kernel
    compiled = torch.compile(act, fullgraph=True)(x)  # inductor: the exp form
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    for out in (act(x), compiled):
        assert out.dtype == x.dtype and not out.isnan().any()
        assert float((out.double() - ref).abs().max()) < 2e-6 * 1e4  # relative ~1e-7 up to |x| = 1e4
        small = x.abs() <= 12
        assert float((out.double() - ref)[small].abs().max()) < 2e-6
    half = act(x.bfloat16())
    assert half.dtype == torch.bfloat16
    assert float((half.double() - ref).abs().max() / ref.abs().max()) < 1e-2
