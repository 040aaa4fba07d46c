"""The static renderer: same audio as the eager engine, batched requests equal individual ones, failures
stay isolated; its memory report, reconfiguration and warm-up."""

from __future__ import annotations

import numpy as np
import pytest

from ishowtts import defaults
from ishowtts.engine.backend import CancelToken, SynthesisCancelled, SynthesisParams
from ishowtts.engine.engine import Engine

from .conftest import MASKED_ATOL, max_err, nmse, static_options

TEXTS = [
    "Hello there, this is a test.",
    "Short one.",
    "A somewhat longer sentence. And a second sentence follows it here, with more words.",
]


def p(nfe: int, seed: int, **more) -> SynthesisParams:
    return SynthesisParams(nfe_step=nfe, seed=seed, **more)


def test_synthesize_equals_plain_engine(engine, fast_engine, voice) -> None:
    for i, text in enumerate(TEXTS[:2]):
        ref = engine.synthesize(text, voice, p(4, i))
        out = fast_engine.synthesize(text, voice, p(4, i))
        assert out.dtype == np.float32 and out.shape == ref.shape
        assert max_err(out, ref) <= MASKED_ATOL
    streamed = np.concatenate(list(fast_engine.stream(TEXTS[2], voice, p(4, 9))))
    assert max_err(streamed, engine.synthesize(TEXTS[2], voice, p(4, 9))) <= MASKED_ATOL


def test_batch_equals_individual_and_isolates_failures(engine, fast_engine, voice) -> None:
    jobs = [(t, voice, p(4, 100 + i), None) for i, t in enumerate(TEXTS)]
    jobs.insert(1, ("", voice, p(4, 1), None))  # invalid: empty text
    jobs.append(("Bad speed.", voice, p(4, 1, speed=-1.0), None))
    out = fast_engine.synthesize_batch(jobs)
    assert isinstance(out[1], ValueError) and "empty" in str(out[1])
    assert isinstance(out[-1], ValueError) and "speed" in str(out[-1])
    good = [o for k, o in enumerate(out) if k not in (1, len(out) - 1)]
    for i, (text, res) in enumerate(zip(TEXTS, good, strict=True)):
        ref = engine.synthesize(text, voice, p(4, 100 + i))
        assert isinstance(res, np.ndarray) and res.shape == ref.shape
        assert max_err(res, ref) <= MASKED_ATOL
    assert any(key[0] > 1 for key in fast_engine.renderer.runner.slots())  # really ran batched


def test_batch_falls_back_to_one_by_one_when_the_batch_fails(fast_engine, voice, monkeypatch) -> None:
    calls = []
    real = fast_engine.renderer.render

    def flaky(work):
        calls.append(len(work))
        if len({w.owner for w in work}) > 1:
            raise RuntimeError("batched kernel failed")
        return real(work)

    monkeypatch.setattr(fast_engine.renderer, "render", flaky)
    out = fast_engine.synthesize_batch([("One.", voice, p(2, 1), None), ("Two.", voice, p(2, 2), None)])
    assert all(isinstance(o, np.ndarray) for o in out) and len(calls) == 3


def test_cancelled_request_in_batch(fast_engine, voice, monkeypatch) -> None:
    token = CancelToken()
    real = fast_engine.renderer.render

    def cancel_midway(work):  # the request is cancelled while its batch renders
        token.cancel("client went away")
        return real(work)

    monkeypatch.setattr(fast_engine.renderer, "render", cancel_midway)
    out = fast_engine.synthesize_batch([("One.", voice, p(2, 1), token), ("Two.", voice, p(2, 2), None)])
    assert isinstance(out[0], SynthesisCancelled) and isinstance(out[1], np.ndarray)
    assert str(out[0]) == "client went away"
    # cancelled before it was planned: it never reaches the renderer, its batch mate still runs
    out = fast_engine.synthesize_batch([("One.", voice, p(2, 1), token), ("Two.", voice, p(2, 2), None)])
    assert isinstance(out[0], SynthesisCancelled) and isinstance(out[1], np.ndarray)


def test_memory_report_fields_and_reconfigure_releases(engine, voice) -> None:
    fe = Engine(engine.model, engine.vocoder, static_options(buckets=(512,), max_batch=2))
    fe.synthesize("Memory check.", voice, p(2, 0))
    rep = fe.renderer.memory_report()
    assert rep["static_bytes"] > 0 and rep["graphs"] == 0
    assert {s["kind"] for s in rep["slots"]} == {"dit", "vocos"}
    assert all(s["bytes"] > 0 and len(s["shape"]) >= 2 for s in rep["slots"])
    peak = rep["last_request_peak"]
    assert peak["kind"] == "cpu_rss" and peak["peak_bytes"] >= peak["start_bytes"] > 0
    assert rep["process_peak_rss_bytes"] > 0
    info = fe.info()["render"]
    assert info["buckets"] == [512] and info["graphs"] is False
    assert info["frame_multiple"] == defaults.FRAME_MULTIPLE  # no graphs: runs at the length, rounded up
    (slot_frames,) = {frames for _, frames, _ in fe.renderer.runner.slots()}
    assert slot_frames % defaults.FRAME_MULTIPLE == 0 and slot_frames < 512
    fe.renderer.reconfigure(buckets=(256, 512))
    assert fe.renderer.runner.slots() == [] and fe.renderer.buckets.frames == (256, 512)
    with pytest.raises(ValueError, match="cannot reconfigure"):
        fe.renderer.reconfigure(quantize="int8")


def test_warmup_creates_every_slot(engine) -> None:
    fe = Engine(engine.model, engine.vocoder, static_options(buckets=(256, 512), max_batch=2))
    assert fe.renderer.warmup(nfe_step=1, batch_sizes=(1, 2)) == 4
    assert fe.renderer.runner.slots() == [(1, 256, 2), (1, 512, 2), (2, 256, 2), (2, 512, 2)]
    assert fe.renderer.voc_runner.slots() == [(1, 256), (1, 512), (2, 256), (2, 512)]


@pytest.mark.avx512_bf16
def test_native_attention_engine_sounds_like_sdpa() -> None:
    """``attention = "native"`` (bf16, head size 64: the small config) switches the engine's own DiT to the
    CPU kernel when it is built, says so, and renders the same audio as SDPA within bf16 noise."""
    from ..conftest import REF_TEXT, SR, ref_clip

    audio, infos = {}, {}
    for kernel in ("sdpa", "native"):
        opts = static_options(dtype="bf16", compile=False, quantize=None, attention=kernel, buckets=(256, 512))
        eng = Engine.random("small", seed=0, options=opts)
        voice = eng.prepare_voice(ref_clip(), REF_TEXT, SR)
        audio[kernel] = eng.synthesize("Hello there, chat.", voice, p(4, 5))
        infos[kernel] = eng.info()
        assert {b.attn.kernel for b in eng.model.transformer.transformer_blocks} == {kernel}
    assert infos["native"]["attention"] == "native" and infos["native"]["render"]["attention"] == "native"
    assert infos["native"]["decided"]["attention"] == "configured"
    assert audio["native"].shape == audio["sdpa"].shape
    assert nmse(audio["native"], audio["sdpa"]) < 1e-3
