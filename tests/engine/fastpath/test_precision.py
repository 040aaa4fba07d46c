"""bf16 autocast on the CPU stays within a stated NMSE of fp32 (on the upstream parity fixture)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from ishowtts.engine.backend import SynthesisParams
from ishowtts.engine.engine import Engine
from ishowtts.engine.fastpath.buckets import BucketSet
from ishowtts.engine.fastpath.precision import autocast
from ishowtts.engine.fastpath.static_runner import SampleRequest, StaticRunner
from ishowtts.model.precast import block_linears, precast_block_linears

from .conftest import MASKED_ATOL, max_err, nmse, static_options

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
    params = SynthesisParams(nfe_step=4, seed=3)
    ref = engine.synthesize("Precision check, one two.", voice, params)
    model = copy.deepcopy(engine.model)  # the bf16 engine precasts its block Linears in place, at build
    fe = Engine(model, engine.vocoder, static_options(dtype="bf16", buckets=(512,)))
    assert {m.weight.dtype for m in block_linears(model.transformer)} == {torch.bfloat16}
    out = fe.synthesize("Precision check, one two.", voice, params)
    assert out.shape == ref.shape and out.dtype == np.float32
    err = nmse(out, ref)
    assert 0 < err <= BF16_AUDIO_NMSE, err

    plain = Engine(
        copy.deepcopy(engine.model), engine.vocoder, static_options(dtype="bf16", buckets=(512,), precast=False)
    )
    assert {m.weight.dtype for m in block_linears(plain.model.transformer)} == {torch.float32}
    np.testing.assert_array_equal(plain.synthesize("Precision check, one two.", voice, params), out)

    # options are applied once, when an engine is built, to that engine's own model: the engine the
    # weights were copied from and a second (fp32) engine built on a fresh copy are both unaffected
    fresh = Engine(copy.deepcopy(engine.model), engine.vocoder, static_options(buckets=(512,)))
    for untouched in (engine, fresh):
        assert {m.weight.dtype for m in block_linears(untouched.model.transformer)} == {torch.float32}
    np.testing.assert_array_equal(engine.synthesize("Precision check, one two.", voice, params), ref)
    assert max_err(fresh.synthesize("Precision check, one two.", voice, params), ref) <= MASKED_ATOL


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
    from ishowtts.engine.options import resolve_dtype

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_dtype(None, cpu) == torch.float32
    assert resolve_dtype(None, cuda) == torch.float16
    assert resolve_dtype("bf16", cpu) == torch.bfloat16
    with pytest.raises(ValueError, match="fp16 needs a CUDA"):
        resolve_dtype("fp16", cpu)
    with pytest.raises(ValueError, match="unknown dtype"):
        resolve_dtype("int4", cpu)


def test_autocast() -> None:
    with autocast("cpu", torch.bfloat16):
        assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.bfloat16
    with autocast("cpu", torch.float32):
        assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.float32


def test_nmse() -> None:
    assert nmse([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert nmse([0.0, 0.0], [1.0, 1.0]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="all zeros"):
        nmse([1.0], [0.0])
