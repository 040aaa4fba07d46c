"""The fast path on a real CUDA device: captured graphs replayed for other requests equal eager, fp16
stays within tolerance of fp32, compile and int8 run inside graphs, memory comes back on release.

Skipped without CUDA (a platform skip). ``ISHOWTTS_TEST_DEVICE=cpu`` runs the same code with graphs off,
to check the tests themselves on a machine without a GPU. On a GPU: ``benchmarks/gpu_session.sh``.
"""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest
import torch

from ishowtts.engine.fastpath import memory
from ishowtts.engine.fastpath.buckets import BucketSet
from ishowtts.engine.fastpath.static_runner import StaticRunner
from ishowtts.engine.fastpath.static_vocoder import StaticVocoder
from ishowtts.model.precast import precast_block_linears

from .conftest import REPLAY_CALLS, max_err, nmse, replay_requests

DEVICE = torch.device(os.environ.get("ISHOWTTS_TEST_DEVICE", "cuda"))
GRAPHS = DEVICE.type == "cuda"
HALF = torch.float16 if GRAPHS else torch.bfloat16
#: fp16 has a 10-bit mantissa (bf16: 7, whose CPU bound is 1e-3); 16 steps of the tiny DiT
HALF_MEL_NMSE = 1e-4 if GRAPHS else 1e-3
REPLAY_ATOL = 1e-5  # graph replay runs the same kernels as eager

pytestmark = pytest.mark.skipif(
    DEVICE.type == "cuda" and not torch.cuda.is_available(), reason="needs a CUDA device"
)


@pytest.fixture(scope="module", autouse=True)
def exact_fp32():
    if GRAPHS:  # compare fp32 paths without TF32 rounding
        saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        yield
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
    else:
        yield


@pytest.fixture(scope="module")
def model(parity_case):
    return copy.deepcopy(parity_case[0]).to(DEVICE).eval()


def test_dit_graph_replay_equals_eager(model, parity_case) -> None:
    _, case, t = parity_case
    reqs = replay_requests(model, case, t, DEVICE)
    buckets = BucketSet((64,), (1, 2))
    eager = StaticRunner(model.transformer, buckets, graphs=False)
    graphed = StaticRunner(model.transformer, buckets, graphs=GRAPHS)
    for idx, steps, cfg, sway in REPLAY_CALLS:
        rs = [reqs[i] for i in idx]
        kw = dict(nfe_step=steps, cfg_strength=cfg, sway_sampling_coef=sway)
        for w, g in zip(eager.sample(rs, **kw), graphed.sample(rs, **kw), strict=True):
            assert max_err(w, g) <= REPLAY_ATOL, (idx, steps, cfg)
    assert graphed.slots() == [(1, 64, 1), (1, 64, 2), (2, 64, 2)]
    assert all((s.graph is not None) == GRAPHS for s in graphed._slots.values())
    # the first request, replayed after all the others, still matches upstream's fixture
    again = graphed.sample(reqs[:1], nfe_step=16, cfg_strength=case["cfg_strength"],
                           sway_sampling_coef=case["sway_sampling_coef"])[0]  # fmt: skip
    assert max_err(again.cpu(), t["out"][0]) <= 1e-4


def test_half_graph_close_to_fp32_and_precast_identical(model, parity_case) -> None:
    _, case, t = parity_case
    req = replay_requests(model, case, t, DEVICE)[0]
    kw = dict(nfe_step=16, cfg_strength=case["cfg_strength"], sway_sampling_coef=case["sway_sampling_coef"])
    buckets = BucketSet((64,), (1,))
    autocast_only = StaticRunner(model.transformer, buckets, dtype=HALF, graphs=GRAPHS).sample([req], **kw)[0]
    dit = copy.deepcopy(model.transformer)
    precast_block_linears(dit, HALF)
    precast = StaticRunner(dit, buckets, dtype=HALF, graphs=GRAPHS).sample([req], **kw)[0]
    assert precast.dtype == torch.float32
    err = nmse(precast.cpu(), t["out"][0])
    assert 0 < err <= HALF_MEL_NMSE, err
    assert nmse(precast, autocast_only) <= 1e-10  # same half weights, same kernels


def test_vocoder_graph_replay_equals_eager(parity_case) -> None:
    from ishowtts.engine.random_weights import random_models

    _, voc = random_models("tiny", 0)
    voc = voc.to(DEVICE).eval()
    g = torch.Generator().manual_seed(5)
    buckets = BucketSet((64,), (1, 2))
    eager = StaticVocoder(voc, buckets, graphs=False)
    graphed = StaticVocoder(voc, buckets, graphs=GRAPHS)
    for lengths in ([40], [64], [3], [17, 60], [33, 2]):
        mels = [torch.randn(100, n, generator=g).to(DEVICE) for n in lengths]
        for w, got in zip(eager.decode(mels), graphed.decode(mels), strict=True):
            assert max_err(w, got) <= REPLAY_ATOL


def test_static_engine_with_graphs_end_to_end(engine, voice) -> None:
    from ishowtts.engine.backend import SynthesisParams
    from ishowtts.engine.engine import Engine
    from ishowtts.engine.options import EngineOptions

    def build(graphs: bool) -> Engine:
        opts = EngineOptions(
            device=str(DEVICE), dtype="fp32", renderer="static", buckets=(256, 512), max_batch=2, graphs=graphs
        )
        return Engine(copy.deepcopy(engine.model), copy.deepcopy(engine.vocoder), opts)

    def p(seed: int) -> SynthesisParams:
        return SynthesisParams(nfe_step=4, seed=seed)

    eager, graphed = build(False), build(GRAPHS)
    texts = ["Hello there, this is a test.", "Short one. And a second sentence follows it here."]
    for i, text in enumerate(texts):
        want = eager.synthesize(text, voice, p(i))
        got = graphed.synthesize(text, voice, p(i))
        assert got.shape == want.shape and max_err(got, want) <= 1e-4
        streamed = np.concatenate(list(graphed.stream(text, voice, p(i))))
        assert max_err(streamed, got) <= 1e-4
    batch = graphed.synthesize_batch([(t, voice, p(i), None) for i, t in enumerate(texts)])
    for i, (text, out) in enumerate(zip(texts, batch, strict=True)):
        assert isinstance(out, np.ndarray) and max_err(out, eager.synthesize(text, voice, p(i))) <= 1e-4
    rep = graphed.renderer.memory_report()
    assert (rep["graphs"] > 0) == GRAPHS
    if GRAPHS:
        torch.cuda.synchronize()
        held = torch.cuda.memory_reserved(DEVICE)
        assert memory.release(graphed.renderer.runner, graphed.renderer.voc_runner) > 0
        assert torch.cuda.memory_reserved(DEVICE) < held  # the graph pools went back


def test_compiled_step_inside_graphs(model, parity_case) -> None:
    from ishowtts.engine.fastpath.compile import compile_dit

    _, case, t = parity_case
    req = replay_requests(model, case, t, DEVICE)[0]
    buckets = BucketSet((64,), (1,))
    want = StaticRunner(model.transformer, buckets, graphs=False).sample([req], nfe_step=8)[0]
    dit = copy.deepcopy(model.transformer)
    stats = compile_dit(dit, "inductor")
    runner = StaticRunner(dit, buckets, graphs=GRAPHS)
    first = runner.sample([req], nfe_step=8)[0]
    second = runner.sample([replay_requests(model, case, t, DEVICE)[1]], nfe_step=8)[0]
    assert stats.runs > 0 and stats.graphs >= 1
    assert max_err(first, want) <= 1e-3  # inductor may reorder reductions
    assert second.shape[0] == 50


def test_int8_weight_only_inside_graphs(model, parity_case) -> None:
    pytest.importorskip("torchao", reason="torchao (the fast extra)")
    from ishowtts.engine.fastpath.quantize import quantize_dit

    _, case, t = parity_case
    req = replay_requests(model, case, t, DEVICE)[0]
    kw = dict(nfe_step=16, cfg_strength=case["cfg_strength"], sway_sampling_coef=case["sway_sampling_coef"])
    dit = copy.deepcopy(model.transformer)
    assert quantize_dit(dit) == 12
    out = StaticRunner(dit, BucketSet((64,), (1,)), graphs=GRAPHS).sample([req], **kw)[0]
    err = nmse(out.cpu(), t["out"][0])
    assert 0 < err <= 5e-3, err
