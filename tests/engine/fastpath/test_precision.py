"""bf16 autocast on the CPU stays within a stated NMSE of fp32 (on the upstream parity fixture)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from ishowtts.engine.engine import Engine
from ishowtts.engine.fastpath.buckets import BucketSet
from ishowtts.engine.fastpath.precision import autocast, nmse, resolve_compute_dtype
from ishowtts.engine.fastpath.static_runner import SampleRequest, StaticRunner
from ishowtts.model.precast import block_linears, precast_block_linears

#: bf16 has an 8-bit mantissa (rel. error ~4e-3 per op); 16 steps of a 2-layer DiT stay well below this
BF16_MEL_NMSE = 1e-3
BF16_AUDIO_NMSE = 2e-2


def test_bf16_sampler_within_tolerance_of_fp32(parity_case) -> None:
    model, case, t = parity_case
    ids = model.tokenize(case["text"])[0]
    req = SampleRequest(t["cond"][0], ids, int(t["duration"]), seed=case["seed"])
    fp32 = StaticRunner(model.transformer, BucketSet((64,), (1,))).sample([req], nfe_step=16)[0]
    bf16 = StaticRunner(model.transformer, BucketSet((64,), (1,)), dtype=torch.bfloat16).sample(
        [req], nfe_step=16
    )[0]
    assert fp32.dtype == bf16.dtype == torch.float32  # the sampler state stays fp32
    err = nmse(bf16, t["out"][0])
    assert 0 < err <= BF16_MEL_NMSE, err  # nonzero: bf16 really ran
    assert nmse(fp32, t["out"][0]) < 1e-9


def test_bf16_engine_audio_within_tolerance(engine, voice) -> None:
    from ishowtts.engine.fastpath.fast_engine import FastEngine, FastPathOptions

    ref = engine.synthesize("Precision check, one two.", voice, nfe=4, seed=3)
    model = copy.deepcopy(engine.model)  # the bf16 engine precasts its block Linears in place
    fe = FastEngine(
        model, engine.vocoder, dtype="bf16", device="cpu", options=FastPathOptions(buckets=(512,))
    )
    assert {m.weight.dtype for m in block_linears(model.transformer)} == {torch.bfloat16}
    out = fe.synthesize("Precision check, one two.", voice, nfe=4, seed=3)
    assert out.shape == ref.shape and out.dtype == np.float32
    err = nmse(out, ref)
    assert 0 < err <= BF16_AUDIO_NMSE, err

    plain = FastEngine(
        copy.deepcopy(engine.model), engine.vocoder, dtype="bf16", device="cpu",
        options=FastPathOptions(buckets=(512,), precast=False),
    )  # fmt: skip
    assert {m.weight.dtype for m in block_linears(plain.model.transformer)} == {torch.float32}
    np.testing.assert_array_equal(plain.synthesize("Precision check, one two.", voice, nfe=4, seed=3), out)

    # the fp32 engine that shared the model would now mix dtypes: it must say so, not crash obscurely
    shared = Engine(model, engine.vocoder, device="cpu")
    with pytest.raises(RuntimeError, match="precast"):
        shared.synthesize("Precision check.", voice, nfe=2, seed=3)


def test_precast_block_linears_is_bit_identical_to_autocast(parity_case) -> None:
    model, case, t = parity_case
    ids = model.tokenize(case["text"])[0]
    req = SampleRequest(t["cond"][0], ids, int(t["duration"]), seed=case["seed"])
    buckets = BucketSet((64,), (1,))
    autocast_only = StaticRunner(model.transformer, buckets, dtype=torch.bfloat16).sample([req], nfe_step=16)[0]
    dit = copy.deepcopy(model.transformer)
    linears = block_linears(dit)
    assert len(linears) == 2 * 6  # q, k, v, out, ff in, ff out per block
    assert precast_block_linears(dit, torch.bfloat16) == len(linears)
    assert all(m.weight.dtype == m.bias.dtype == torch.bfloat16 for m in linears if m.bias is not None)
    assert dit.proj_out.weight.dtype == torch.float32  # the rest (and so the sampler boundary) stays fp32
    precast = StaticRunner(dit, buckets, dtype=torch.bfloat16).sample([req], nfe_step=16)[0]
    assert precast.dtype == torch.float32
    assert torch.equal(precast, autocast_only)
    assert precast_block_linears(dit, torch.bfloat16) == 0  # idempotent
    assert precast_block_linears(dit, torch.float32) == 0  # fp32 compute: nothing to do
    with pytest.raises(ValueError, match="already precast"):
        precast_block_linears(dit, torch.float16)


def test_dtype_policy() -> None:
    assert resolve_compute_dtype(None, "cpu") == torch.float32
    assert resolve_compute_dtype(None, "cuda") == torch.float16
    assert resolve_compute_dtype("bf16", "cpu") == torch.bfloat16
    assert resolve_compute_dtype("auto", "cpu") in (torch.float32, torch.bfloat16)
    with pytest.raises(ValueError, match="fp16 needs a CUDA"):
        resolve_compute_dtype("fp16", "cpu")
    with pytest.raises(ValueError, match="unknown dtype"):
        resolve_compute_dtype("int4", "cpu")
    with autocast("cpu", torch.bfloat16):
        assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.bfloat16
    with autocast("cpu", torch.float32):
        assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.float32


def test_nmse() -> None:
    assert nmse([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert nmse([0.0, 0.0], [1.0, 1.0]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="all zeros"):
        nmse([1.0], [0.0])
