"""The engine as the scheduler's backend: VoiceReference in, every SynthesisParams field honoured."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ishowtts.engine.backend import Backend, CancelToken, SynthesisCancelled, SynthesisParams
from ishowtts.engine.engine import Engine
from ishowtts.voices.reference import VoiceReference

from .conftest import REF_TEXT, SR, ref_clip

TEXT = "Hello there, my friend. This is the backend speaking for a while now."


@pytest.fixture(scope="module")
def backend(engine) -> Engine:
    return engine


@pytest.fixture(scope="module")
def ref() -> VoiceReference:
    return VoiceReference(id="alice", audio=ref_clip(), sample_rate=SR, text=REF_TEXT, version="1")


def test_protocol_and_info(backend: Engine) -> None:
    assert isinstance(backend, Backend)
    info = backend.info()
    assert {"model", "device", "dtype", "nfe_default"} <= set(info)
    assert backend.name == "f5" and backend.sample_rate == 24_000


def test_synthesize_matches_engine_and_stream(backend: Engine, ref: VoiceReference, engine) -> None:
    params = SynthesisParams(nfe_step=3, seed=21)
    out = backend.synthesize(TEXT, ref, params)
    direct = engine.synthesize(TEXT, engine.prepare_voice(ref.audio, REF_TEXT, SR), params)
    np.testing.assert_array_equal(out, direct)
    np.testing.assert_array_equal(np.concatenate(list(backend.stream(TEXT, ref, params))), out)
    whole = SynthesisParams(nfe_step=3, seed=21, first_chunk=False)
    assert len(backend.synthesize(TEXT, ref, whole)) != len(out) or not np.array_equal(
        backend.synthesize(TEXT, ref, whole), out
    )


def test_params_are_passed(backend: Engine, ref: VoiceReference) -> None:
    out = backend.synthesize("Fixed.", ref, SynthesisParams(nfe_step=2, seed=1, fix_duration=0.5))
    assert len(out) == (int(0.5 * SR / 256) - 1) * 256
    slow = backend.synthesize("Slow speech here.", ref, SynthesisParams(nfe_step=2, seed=1, speed=0.5))
    fast = backend.synthesize("Slow speech here.", ref, SynthesisParams(nfe_step=2, seed=1, speed=2.0))
    assert len(slow) > len(fast)


def test_cancel(backend: Engine, ref: VoiceReference) -> None:
    token = CancelToken()
    token.cancel("client left")
    with pytest.raises(SynthesisCancelled, match="client left"):
        backend.synthesize(TEXT, ref, SynthesisParams(nfe_step=2, seed=1), token)
    token2 = CancelToken()
    gen = backend.stream(TEXT, ref, SynthesisParams(nfe_step=2, seed=1), token2)
    next(gen)
    token2.cancel("timeout")
    with pytest.raises(SynthesisCancelled, match="timeout"):
        list(gen)


def test_voice_without_audio(backend: Engine) -> None:
    with pytest.raises(ValueError, match="reference audio"):
        backend.synthesize("x", VoiceReference("v", None, SR, "t"), SynthesisParams(nfe_step=2))


def test_warmup_prepares_voices(backend: Engine, ref: VoiceReference) -> None:
    other = VoiceReference(id="bob", audio=ref_clip(1.2, amp=0.2), sample_rate=SR, text="Bob speaks.")
    backend.warmup([ref, other])
    before = backend.voices.stats()
    backend.prepare_voice(other.audio, other.text, SR)
    assert backend.voices.stats().hits == before.hits + 1


def test_every_param_is_mapped(backend: Engine, ref: VoiceReference, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every field reaches the renderer under its own name (one request type from the router to the
    sampler); only ``nfe_step`` / ``seed`` are filled in when None, and the cancel token is the stop hook."""
    params = SynthesisParams(
        nfe_step=5, cfg_strength=1.5, sway_sampling_coef=-0.5, speed=1.2, seed=3, cross_fade_duration=0.1,
        fix_duration=2.0, remove_silence=True, first_chunk=False,
    )  # fmt: skip
    seen = []
    original = backend.renderer.render

    def spy(work):
        seen.extend(work)
        return original(work)

    monkeypatch.setattr(backend.renderer, "render", spy)
    token = CancelToken()
    backend.synthesize("Every knob.", ref, params, token)
    assert seen and all(w.params == params for w in seen)
    assert dataclasses.asdict(seen[0].params) == {
        "nfe_step": 5, "cfg_strength": 1.5, "sway_sampling_coef": -0.5, "speed": 1.2, "seed": 3,
        "cross_fade_duration": 0.1, "target_rms": 0.1, "fix_duration": 2.0, "remove_silence": True,
        "first_chunk": False,
    }  # fmt: skip
    assert seen[0].should_stop() is False
    token.cancel()
    assert seen[0].should_stop() is True
    checked, _ = backend.plan("x y", backend.prepare_voice(ref.audio, ref.text, SR), SynthesisParams())
    assert isinstance(checked.seed, int) and checked.nfe_step == backend.default_nfe  # None -> concrete
