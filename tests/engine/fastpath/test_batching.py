"""The Scheduler's batching hook over ``Engine.synthesize_batch``: concurrent requests run as one batch,
results equal individual runs."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from ishowtts.engine.backend import SynthesisParams
from ishowtts.engine.scheduler import EngineFailure, Scheduler
from ishowtts.voices.reference import VoiceReference

from .conftest import MASKED_ATOL, REF_TEXT, SR, max_err, ref_clip


@pytest.fixture(scope="module")
def backend(fast_engine):
    return fast_engine  # the engine with the static renderer is the batching backend


@pytest.fixture(scope="module")
def ref():
    return VoiceReference("v", ref_clip(), SR, REF_TEXT)


async def _run(sched, jobs):
    await sched.start()
    try:
        return await asyncio.gather(*(sched.synthesize(t, v, p) for t, v, p in jobs), return_exceptions=True)
    finally:
        await sched.stop()


@pytest.mark.anyio
async def test_concurrent_requests_are_batched_and_equal_individual(backend, ref) -> None:
    texts = ["First request here.", "Second one, a bit longer than that.", "Third.", "Fourth request."]
    jobs = [(t, ref, SynthesisParams(nfe_step=3, seed=10 + i)) for i, t in enumerate(texts)]
    jobs.append(("", ref, SynthesisParams(nfe_step=3, seed=1)))  # fails alone
    sched = Scheduler(backend, batch_window_ms=200, max_batch=8, max_queue=16, timeout_s=300, cache_size=0)
    assert sched.max_batch == backend.max_batch == 4  # capped by what the renderer batches
    results = await _run(sched, jobs)
    assert sched.batch_sizes and max(sched.batch_sizes) >= 2
    assert isinstance(results[-1], EngineFailure) and "empty" in str(results[-1])
    plain = Scheduler(backend, max_batch=1, max_queue=16, timeout_s=300, cache_size=0)
    assert not plain.can_batch
    singles = await _run(plain, jobs[:-1])
    assert plain.batch_sizes == []  # every request ran alone
    for res, single in zip(results[:-1], singles, strict=True):
        assert isinstance(res.audio, np.ndarray) and res.audio.shape == single.audio.shape
        assert max_err(res.audio, single.audio) <= MASKED_ATOL
    assert sched.stats()["batched_requests"] >= 2


@pytest.mark.anyio
async def test_different_nfe_not_batched_together_and_streams_run_alone(backend, ref) -> None:
    sched = Scheduler(backend, batch_window_ms=100, max_batch=4, max_queue=8, timeout_s=300, cache_size=0)
    await sched.start()
    try:
        a = sched.synthesize("Alpha.", ref, SynthesisParams(nfe_step=2, seed=1))
        b = sched.synthesize("Beta.", ref, SynthesisParams(nfe_step=3, seed=2))
        chunks = [c async for c in sched.stream("Gamma.", ref, SynthesisParams(nfe_step=2, seed=3))]
        ra, rb = await asyncio.gather(a, b)
    finally:
        await sched.stop()
    assert all(s == 1 for s in sched.batch_sizes) or not sched.batch_sizes
    assert ra.audio.size and rb.audio.size and sum(c.size for c in chunks) > 0


def test_batch_key_treats_the_default_nfe_like_an_explicit_one() -> None:
    from ishowtts.engine.scheduler import batch_key

    assert batch_key(SynthesisParams(), 16) == batch_key(SynthesisParams(nfe_step=16), 16)
    assert batch_key(SynthesisParams(), 16) != batch_key(SynthesisParams(nfe_step=8), 16)
    assert batch_key(SynthesisParams(cfg_strength=1.0), 16) != batch_key(SynthesisParams(), 16)


def test_validation() -> None:
    with pytest.raises(ValueError, match="batch_window_ms"):
        Scheduler(object(), batch_window_ms=-1, max_queue=1, timeout_s=1, cache_size=0)
    with pytest.raises(ValueError, match="max_batch"):
        Scheduler(object(), max_batch=0, max_queue=1, timeout_s=1, cache_size=0)
    assert Scheduler(object(), max_queue=1, timeout_s=1, cache_size=0).can_batch is False


def test_wiring_from_engine_config(backend, engine) -> None:
    from ishowtts import defaults
    from ishowtts.config import Config, EngineConfig, QueueConfig
    from ishowtts.engine.factory import build, engine_options

    cfg = EngineConfig(buckets=[300, 600], max_batch=4, batch_window_ms=7.0, compile=False)
    opts = engine_options(cfg)
    assert (
        opts.buckets == (300, 600)
        and opts.max_batch == 4
        and opts.quantize == defaults.QUANTIZE
        and opts.graphs is defaults.GRAPHS
    )
    config = Config(engine=cfg, queue=QueueConfig(max_size=4, timeout_s=10, cache_size=0))
    sched = build(config, backend=backend).scheduler
    assert sched.can_batch and sched.batch_window_s == pytest.approx(0.007)
    plain = build(config, backend=engine).scheduler  # the eager renderer renders one request at a time
    assert not plain.can_batch
    cfg.max_batch = 1
    assert not build(config, backend=backend).scheduler.can_batch


@pytest.mark.anyio
async def test_batch_call_failure_reruns_each_request_alone(backend, ref, monkeypatch) -> None:
    def broken(jobs):
        raise RuntimeError("whole batch exploded")

    monkeypatch.setattr(backend, "synthesize_batch", broken)
    jobs = [("One.", ref, SynthesisParams(nfe_step=2, seed=1)), ("", ref, SynthesisParams(nfe_step=2, seed=2))]
    sched = Scheduler(backend, batch_window_ms=200, max_batch=4, max_queue=8, timeout_s=300, cache_size=0)
    ok, bad = await _run(sched, jobs)
    assert sched.batch_sizes == [2]
    assert ok.audio.size > 0 and isinstance(bad, EngineFailure)
    assert sched.stats()["completed"] == 1 and sched.stats()["failed"] == 1


def test_build_fast_backend_from_a_checkpoint(tmp_path) -> None:
    from ishowtts.config import EngineConfig
    from ishowtts.engine.engine import Engine
    from ishowtts.engine.factory import build_backend
    from ishowtts.engine.fastpath.static_render import StaticRenderer
    from ishowtts.engine.random_weights import save_random_checkpoint

    paths = save_random_checkpoint(tmp_path, "tiny", seed=0)
    cfg = EngineConfig(
        kind="f5", model="tiny", ckpt=paths["ckpt"], vocab=paths["vocab"], vocoder=paths["vocoder"],
        device="cpu", dtype="fp32", nfe=4, buckets=[512], max_batch=2,
    )  # fmt: skip
    be, fallback = build_backend(cfg)
    assert fallback is None
    assert isinstance(be, Engine) and isinstance(be.renderer, StaticRenderer)
    assert be.info()["render"]["buckets"] == [512] and be.info()["max_batch"] == 2  # it batches


def test_factory_builds_the_renderer_the_config_names(tmp_path) -> None:
    """Batching is on by default now: the static renderer unless ``renderer = "eager"`` asks for the
    one-chunk-at-a-time reference (which the scheduler never batches)."""
    from ishowtts import defaults
    from ishowtts.config import EngineConfig
    from ishowtts.engine.factory import build_backend
    from ishowtts.engine.fastpath.static_render import StaticRenderer
    from ishowtts.engine.random_weights import save_random_checkpoint
    from ishowtts.engine.render import EagerRenderer

    paths = save_random_checkpoint(tmp_path, "tiny", seed=0)
    common = dict(kind="f5", model="tiny", ckpt=paths["ckpt"], vocab=paths["vocab"], vocoder=paths["vocoder"])
    plain, _ = build_backend(EngineConfig(**common, device="cpu", renderer="eager"))
    assert isinstance(plain.renderer, EagerRenderer) and plain.max_batch == 1
    default, _ = build_backend(EngineConfig(**common, device="cpu"))
    assert isinstance(default.renderer, StaticRenderer) and default.renderer.buckets.frames == defaults.BUCKETS
    fast, _ = build_backend(EngineConfig(**common, device="cpu", buckets=[512], max_batch=2))
    assert isinstance(fast.renderer, StaticRenderer) and fast.renderer.buckets.frames == (512,)
