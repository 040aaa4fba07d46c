"""The DiT with the native CPU attention (model/cpu_attention.py): the same step as SDPA in bf16, the same
under torch.compile, chosen per model when it is built, refused where the CPU cannot run it."""

from __future__ import annotations

import copy

import pytest
import torch

from ishowtts.model import cpu_attention
from ishowtts.model.layers import Attention
from ishowtts.model.random_init import random_f5


def nmse(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    return float(((a - b) ** 2).sum() / (b**2).sum())


def step_inputs(dit, frames: int = 70, valid: int = 61):
    """A padded batch of 2 (the second request shorter), as the static renderer runs it."""
    gen = torch.Generator().manual_seed(0)
    mel = dit.proj_out.out_features
    cond = torch.randn(2, frames, mel, generator=gen)
    text = torch.randint(1, 50, (2, 20), generator=gen)
    keep = torch.arange(frames)[None] < torch.tensor([[frames], [valid]])
    with torch.no_grad():
        c = dit.conditioning(cond, text, keep, groups=((False, False), (True, True)))
        mod = dit.time_modulation(torch.tensor([0.4]))
    return torch.randn(2, frames, mel, generator=gen), c, mod, keep


def test_key_bias() -> None:
    mask = torch.tensor([[True, True, False]])[:, None, None, :]
    assert cpu_attention.key_bias(mask).tolist() == [[0.0, 0.0, float("-inf")]]
    assert cpu_attention.key_bias(None) is None
    with pytest.raises(ValueError, match=r"\(B, 1, 1, N\)"):
        cpu_attention.key_bias(torch.ones(1, 1, 3, 3, dtype=torch.bool))


def test_use_native_attention_is_refused_where_the_kernel_cannot_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu_attention, "available", lambda: False)
    with pytest.raises(RuntimeError, match="AVX512-BF16"):
        cpu_attention.use_native_attention(random_f5("small").transformer)


@pytest.mark.avx512_bf16
def test_native_step_matches_sdpa_in_bf16() -> None:
    dit = random_f5("small", seed=3).transformer
    native = copy.deepcopy(dit)
    assert cpu_attention.use_native_attention(native) == 4  # every block (head size 64)
    assert Attention.kernel == "sdpa" and all(b.attn.kernel == "sdpa" for b in dit.transformer_blocks)
    x, c, mod, keep = step_inputs(dit)
    with torch.no_grad(), torch.autocast("cpu", torch.bfloat16):
        ref = dit.denoise(x, c, mod).float()
        out = native.denoise(x, c, mod).float()
    rows = keep.repeat(2, 1)  # cond + uncond groups; padded rows are zeroed by both
    assert nmse(out[rows], ref[rows]) < 1e-4
    assert torch.equal(out[~rows], ref[~rows])


@pytest.mark.avx512_bf16
def test_native_attention_compiles_into_one_graph() -> None:
    attn = Attention(dim=128, heads=2, dim_head=64).eval()
    attn.kernel = "native"
    x = torch.randn(2, 40, 128).bfloat16()
    mask = (torch.arange(40) < 33)[None, None, None, :].expand(2, 1, 1, 40)
    attn = attn.bfloat16()
    with torch.no_grad():
        eager = attn(x, None, mask)
        compiled = torch.compile(attn, fullgraph=True, backend="aot_eager")(x, None, mask)
    assert torch.equal(eager, compiled)
