"""int8 (torchao, dynamic activations + int8 weights on CPU) stays within a stated NMSE of fp32."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from ishowtts.engine.fastpath.buckets import BucketSet
from ishowtts.engine.fastpath.quantize import quantize_dit, torchao_available
from ishowtts.engine.fastpath.static_runner import SampleRequest, StaticRunner

from .conftest import nmse

#: per-row int8 weights + per-token int8 activations: ~1e-4 NMSE per Linear; 16 steps x 2 blocks
INT8_MEL_NMSE = 5e-3

pytestmark = pytest.mark.skipif(
    not torchao_available(), reason="torchao not installed (pip install 'ishowtts[fast]')"
)


def test_int8_sampler_within_tolerance_of_fp32(parity_case) -> None:
    model, case, t = parity_case
    dit = copy.deepcopy(model.transformer)
    n = quantize_dit(dit)
    assert n == 2 * 6  # q, k, v, out, ff in, ff out per block
    qtypes = {
        type(m.weight).__name__
        for blk in dit.transformer_blocks
        for m in blk.ff.modules()
        if isinstance(m, nn.Linear)
    }
    assert qtypes and "Parameter" not in qtypes and "Tensor" not in qtypes  # really quantised
    assert type(dit.input_embed.proj.weight) is nn.Parameter  # left in float
    assert type(dit.transformer_blocks[0].attn_norm.linear.weight) is nn.Parameter
    ids = model.tokenize(case["text"])[0]
    req = SampleRequest(t["cond"][0], ids, int(t["duration"]), seed=case["seed"])
    out = StaticRunner(dit, BucketSet((64,), (1,))).sample([req], nfe_step=16)[0]
    err = nmse(out, t["out"][0])
    assert 0 < err <= INT8_MEL_NMSE, err


def test_unknown_mode(parity_case) -> None:
    with pytest.raises(ValueError, match="unknown quantisation"):
        quantize_dit(copy.deepcopy(parity_case[0].transformer), "int4")  # type: ignore[arg-type]


def test_quantized_output_differs_from_fp32(parity_case) -> None:
    model, _, _ = parity_case
    dit = copy.deepcopy(model.transformer)
    lin = dit.transformer_blocks[0].ff.ff[2]
    ref = lin(torch.randn(1, 20, lin.in_features, generator=torch.Generator().manual_seed(0)))
    quantize_dit(dit)
    out = lin(torch.randn(1, 20, lin.in_features, generator=torch.Generator().manual_seed(0)))
    assert 0 < nmse(out, ref) < 1e-2


def test_engine_int8_switch(engine, voice) -> None:
    from ishowtts.engine.backend import SynthesisParams
    from ishowtts.engine.engine import Engine
    from ishowtts.engine.options import EngineOptions

    params = SynthesisParams(nfe_step=4, seed=2)
    ref = engine.synthesize("Quantised speech.", voice, params)
    # quantisation rewrites the engine's model at build: give it its own copy of the weights
    opts = EngineOptions(device="cpu", renderer="static", buckets=(512,), quantize="int8")
    fe = Engine(copy.deepcopy(engine.model), engine.vocoder, opts)
    assert fe.info()["render"]["quantize"] == "int8"
    out = fe.synthesize("Quantised speech.", voice, params)
    assert out.shape == ref.shape
    assert 0 < nmse(out, ref) <= 5e-2  # audio after 4 steps and the vocoder; mel NMSE is checked above
