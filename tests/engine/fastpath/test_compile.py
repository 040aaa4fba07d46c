"""torch.compile of the DiT step and the Vocos features: counters prove the compiled code runs."""

from __future__ import annotations

import copy

import pytest
import torch

from ishowtts.engine.fastpath.buckets import BucketSet
from ishowtts.engine.fastpath.compile import compile_dit, compile_vocoder, counting_backend
from ishowtts.engine.fastpath.static_runner import SampleRequest, StaticRunner
from ishowtts.engine.fastpath.static_vocoder import StaticVocoder

from .conftest import MASKED_ATOL, max_err


def _req(model, case, t):
    return SampleRequest(t["cond"][0], model.tokenize(case["text"])[0], int(t["duration"]), seed=case["seed"])


def _check_dit(model, case, t, backend: str) -> None:
    torch._dynamo.reset()
    req = _req(model, case, t)
    eager = StaticRunner(model.transformer, BucketSet((64,), (1,))).sample([req], nfe_step=5)[0]
    dit = copy.deepcopy(model.transformer)
    stats = compile_dit(dit, backend)
    out = StaticRunner(dit, BucketSet((64,), (1,))).sample([req], nfe_step=5)[0]
    assert stats.graphs >= 1
    assert stats.runs >= 5  # every step ran compiled code
    assert max_err(out, eager) <= 1e-4


def test_compiled_dit_runs_compiled_code_aot_eager(parity_case) -> None:
    model, case, t = parity_case
    _check_dit(model, case, t, "aot_eager")


@pytest.mark.slow
def test_compiled_dit_inductor(parity_case) -> None:
    model, case, t = parity_case
    _check_dit(model, case, t, "inductor")


def test_compiled_vocoder_runs_compiled_code(engine) -> None:
    torch._dynamo.reset()
    mels = [torch.randn(100, 40, generator=torch.Generator().manual_seed(2))]
    sv = StaticVocoder(engine.vocoder, BucketSet((64,), (1,)))
    ref = sv.decode(mels)[0]
    stats = compile_vocoder(sv, "aot_eager")
    out = sv.decode(mels)[0]
    sv.decode(mels)
    assert stats.graphs == 1 and stats.runs == 2
    assert max_err(out, ref) <= MASKED_ATOL


def test_bad_backend_and_mode(parity_case) -> None:
    from ishowtts.engine.fastpath.compile import CompileStats

    with pytest.raises(ValueError, match="unknown compile backend"):
        counting_backend("tvm", CompileStats("x"))
    with pytest.raises(ValueError, match="reduce-overhead"):
        compile_dit(copy.deepcopy(parity_case[0].transformer), mode="reduce-overhead")


def test_engine_compile_switch_runs_compiled_code(engine, voice) -> None:
    from ishowtts.engine.backend import SynthesisParams
    from ishowtts.engine.engine import Engine
    from ishowtts.engine.options import EngineOptions

    torch._dynamo.reset()
    params = SynthesisParams(nfe_step=3, seed=4)
    ref = engine.synthesize("Compile switch.", voice, params)
    # compile replaces the DiT step of the engine's model at build: give it its own copy of the weights
    opts = EngineOptions(device="cpu", renderer="static", buckets=(512,), compile=True, compile_backend="aot_eager")
    fe = Engine(copy.deepcopy(engine.model), engine.vocoder, opts)
    out = fe.synthesize("Compile switch.", voice, params)
    stats = fe.info()["render"]["compile"]
    assert stats["dit"]["runs"] == 3 and stats["vocos"]["runs"] == 1
    assert max_err(out, ref) <= 1e-4


def test_one_compiled_graph_serves_every_bucket(engine, voice) -> None:
    """The step's batch / frame dims are marked varying (compile.vary): warming batch 1 and 2 at one bucket
    compiles everything; other buckets and batch sizes reuse those graphs instead of compiling again."""
    from ishowtts.engine.backend import SynthesisParams
    from ishowtts.engine.engine import Engine
    from ishowtts.engine.options import EngineOptions

    torch._dynamo.reset()
    opts = EngineOptions(
        device="cpu", renderer="static", buckets=(256, 512, 768), max_batch=4, compile=True,
        compile_backend="aot_eager",
    )  # fmt: skip
    fe = Engine(copy.deepcopy(engine.model), engine.vocoder, opts)
    assert fe.renderer.compiled
    fe.renderer.warmup(nfe_step=2, batch_sizes=(1, 2), frames=(256,))
    stats = fe.renderer.compile_stats
    warmed = (stats["dit"].graphs, stats["vocos"].graphs)
    assert warmed[0] >= 2 and warmed[1] >= 2  # batch 1 and batch > 1 (dynamo specialises size 1)
    fe.renderer.warmup(nfe_step=2, batch_sizes=(1, 2, 4), frames=(512, 768))  # other buckets and batch 4
    params = SynthesisParams(nfe_step=2, seed=1)
    fe.synthesize_batch([("A longer line of text for a longer bucket.", voice, params, None)] * 3)
    assert (stats["dit"].graphs, stats["vocos"].graphs) == warmed
