"""Engine behaviour on a tiny random-weight model (the model itself is tested in tests/model)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from ishowtts.engine.backend import CancelToken, SynthesisCancelled, SynthesisParams
from ishowtts.engine.engine import Engine
from ishowtts.engine.options import EngineOptions
from ishowtts.engine.planning import CrossFader, chunk_seed
from ishowtts.engine.render import ChunkWork
from ishowtts.voices.prepare import remove_long_silences

from .conftest import REF_TEXT, SR, ref_clip

LONG = "Hello there, my friend. This is the second sentence of the text. And here comes a third one. Finally, a fourth."
NFE = 3


def upstream_cross_fade(
    waves: list[np.ndarray], seconds: float = 0.15, samples: int | None = None
) -> np.ndarray:
    """Reference implementation of upstream's join (whole waves, one after another)."""
    out = waves[0]
    for nxt in waves[1:]:
        n = min(int(seconds * SR) if samples is None else samples, len(out), len(nxt))
        if n <= 0:
            out = np.concatenate([out, nxt])
            continue
        mixed = out[-n:] * np.linspace(1, 0, n) + nxt[:n] * np.linspace(0, 1, n)
        out = np.concatenate([out[:-n], mixed, nxt[n:]])
    return out


def render_chunks(engine: Engine, text: str, voice, params: SynthesisParams) -> list[np.ndarray]:
    """The per-chunk waves ``stream`` cross-fades, before joining."""
    checked, plan = engine.plan(text, voice, params)
    return engine.renderer.render([ChunkWork(0, c, voice, checked) for c in plan])


class StopAfter(CancelToken):
    """A cancel token that reads as set from its ``n``-th check on (the engine checks it between chunks
    and the sampler between steps)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n, self.checks = n, 0

    @property
    def cancelled(self) -> bool:
        self.checks += 1
        return self.checks > self.n


def test_seeded_determinism(engine: Engine, voice) -> None:
    a = engine.synthesize("Seeded output please.", voice, SynthesisParams(nfe_step=NFE, seed=7))
    b = engine.synthesize("Seeded output please.", voice, SynthesisParams(nfe_step=NFE, seed=7))
    c = engine.synthesize("Seeded output please.", voice, SynthesisParams(nfe_step=NFE, seed=8))
    assert a.dtype == np.float32 and a.ndim == 1 and len(a) > 0
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_random_seed_when_none(engine: Engine, voice) -> None:
    a = engine.synthesize("No seed given.", voice, SynthesisParams(nfe_step=2))
    b = engine.synthesize("No seed given.", voice, SynthesisParams(nfe_step=2))
    assert len(a) == len(b) and not np.array_equal(a, b)


def test_chunk_seeds_are_derived() -> None:
    assert chunk_seed(5, 0) == 5
    assert chunk_seed(5, 1) == chunk_seed(5, 1) != chunk_seed(5, 2)
    assert chunk_seed(5, 1) != chunk_seed(6, 1)


def test_plan_long_text(engine: Engine, voice) -> None:
    _, plan = engine.plan(LONG, voice, SynthesisParams(seed=3))
    assert len(plan) >= 2
    assert plan[0].text == "Hello there,"  # the short first chunk
    assert " ".join(c.text for c in plan) == LONG
    assert all(c.frames > voice.ref_frames for c in plan)
    assert [c.seed for c in plan] == [chunk_seed(3, i) for i in range(len(plan))]
    assert len(engine.plan(LONG, voice, SynthesisParams(seed=3, first_chunk=False))[1]) < len(plan)


@pytest.mark.parametrize("first_chunk", [True, False])
def test_stream_concatenation_equals_synthesize(engine: Engine, voice, first_chunk: bool) -> None:
    kw = {"nfe_step": NFE, "seed": 11, "first_chunk": first_chunk}
    whole = engine.synthesize(LONG, voice, SynthesisParams(**kw))
    pieces = list(engine.stream(LONG, voice, SynthesisParams(**kw)))
    assert len(pieces) >= 2
    assert all(p.dtype == np.float32 for p in pieces)
    np.testing.assert_array_equal(np.concatenate(pieces), whole)


def test_stream_yields_after_first_chunk(engine: Engine, voice, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered: list[int] = []
    original = engine.renderer.render

    def counting(work):
        rendered.extend(w.chunk.index for w in work)
        return original(work)

    monkeypatch.setattr(engine.renderer, "render", counting)
    gen = engine.stream(LONG, voice, SynthesisParams(nfe_step=NFE, seed=2))
    first = next(gen)
    assert rendered == [0]  # the first audio came before the second chunk was computed
    waves = render_chunks(engine, LONG, voice, SynthesisParams(nfe_step=NFE, seed=2))
    assert len(first) == len(waves[0]) - int(0.15 * SR)  # only the cross-fade tail is held back
    gen.close()


def test_long_text_cross_fade(engine: Engine, voice) -> None:
    kw = {"nfe_step": NFE, "seed": 5}
    waves = render_chunks(engine, LONG, voice, SynthesisParams(**kw))
    whole = engine.synthesize(LONG, voice, SynthesisParams(**kw))
    assert len(waves) >= 2
    overlap = int(0.15 * SR)
    assert len(whole) == sum(len(w) for w in waves) - overlap * (len(waves) - 1)
    np.testing.assert_allclose(whole, upstream_cross_fade(waves), rtol=0, atol=1e-6)
    assert len(engine.synthesize(LONG, voice, SynthesisParams(cross_fade_duration=0.0, **kw))) == sum(len(w) for w in waves)


def test_cross_fader_has_no_spike_at_joins() -> None:
    t = np.arange(SR) / SR
    waves = [np.sin(2 * np.pi * 200 * t + phase).astype(np.float32) * 0.5 for phase in (0.0, 2.0, 4.0)]
    fader = CrossFader(int(0.15 * SR))
    joined = np.concatenate([fader.push(w) for w in waves] + [fader.flush()])
    assert len(joined) == 3 * SR - 2 * int(0.15 * SR)
    max_step_inside = np.abs(np.diff(waves[0])).max()
    assert np.abs(np.diff(joined)).max() <= max_step_inside * 1.05
    hard = np.concatenate(waves)
    assert np.abs(np.diff(hard)).max() > 5 * max_step_inside  # what the cross-fade avoids
    np.testing.assert_allclose(joined, upstream_cross_fade(waves), atol=1e-6)


def test_cross_fader_short_waves() -> None:
    rng = np.random.default_rng(0)
    waves = [rng.standard_normal(n).astype(np.float32) for n in (5000, 100, 3, 0, 8000, 50)]
    fader = CrossFader(3600)
    joined = np.concatenate([fader.push(w) for w in waves] + [fader.flush()])
    np.testing.assert_allclose(joined, upstream_cross_fade(waves), atol=1e-6)


def test_quiet_reference_output_scaled_back(engine: Engine) -> None:
    quiet = ref_clip(amp=0.03)
    v_quiet = engine.prepare_voice(quiet, REF_TEXT, SR)
    assert v_quiet.rms_factor < 1.0
    loud = (quiet * np.float32(1 / v_quiet.rms_factor)).astype(np.float32)
    v_loud = engine.prepare_voice(loud, REF_TEXT, SR)
    assert v_loud.rms_factor == pytest.approx(1.0, abs=1e-3) or v_loud.rms_factor == 1.0
    a = engine.synthesize("Scale me back.", v_quiet, SynthesisParams(nfe_step=NFE, seed=1))
    b = engine.synthesize("Scale me back.", v_loud, SynthesisParams(nfe_step=NFE, seed=1))
    np.testing.assert_allclose(a, b * v_quiet.rms_factor / v_loud.rms_factor, rtol=1e-3, atol=1e-5)


def test_fix_duration(engine: Engine, voice) -> None:
    out = engine.synthesize("Fixed length.", voice, SynthesisParams(nfe_step=2, seed=1, fix_duration=1.0))
    gen_frames = int(1.0 * SR / 256)
    assert len(out) == (gen_frames - 1) * 256


def test_remove_silence_is_applied_per_chunk(engine: Engine, voice) -> None:
    kw = {"nfe_step": 2, "seed": 4}
    waves = render_chunks(engine, LONG, voice, SynthesisParams(**kw))
    expected = upstream_cross_fade([remove_long_silences(w) for w in waves])
    got = engine.synthesize(LONG, voice, SynthesisParams(remove_silence=True, **kw))
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_cancellation(engine: Engine, voice) -> None:
    with pytest.raises(SynthesisCancelled):
        engine.synthesize("Never mind.", voice, SynthesisParams(nfe_step=NFE, seed=1), StopAfter(0))
    # lets the first chunk finish, stops inside the second
    gen = engine.stream(LONG, voice, SynthesisParams(nfe_step=NFE, seed=1), StopAfter(NFE + 2))
    assert len(next(gen)) > 0
    with pytest.raises(SynthesisCancelled):
        list(gen)


def test_voice_cache_by_content(engine: Engine, tmp_path) -> None:
    clip = ref_clip(1.5, amp=0.25)
    before = engine.voices.stats()
    v1 = engine.prepare_voice(clip, "Cache me.", SR)
    v2 = engine.prepare_voice(clip.copy(), "Cache me.", SR)  # same content, another object
    v3 = engine.prepare_voice(clip, "Cache me, changed.", SR)
    after = engine.voices.stats()
    assert v1 is v2 and v3 is not v1
    assert (after.hits - before.hits, after.misses - before.misses) == (1, 2)
    path = tmp_path / "ref.wav"
    sf.write(path, clip, SR, subtype="FLOAT")
    v4 = engine.prepare_voice(path, "Cache me.")
    assert v4 is v1  # float WAV gives the same samples: same content
    assert v1.mel.shape == (1, len(v1.audio) // 256 + 1, 100)


def test_bad_input(engine: Engine, voice) -> None:
    with pytest.raises(ValueError, match="empty"):
        engine.synthesize("   ", voice, SynthesisParams(nfe_step=2, seed=0))
    with pytest.raises(ValueError, match="nfe"):
        engine.synthesize("x y z", voice, SynthesisParams(nfe_step=0, seed=0))
    with pytest.raises(ValueError, match="speed"):
        engine.synthesize("x y z", voice, SynthesisParams(nfe_step=2, seed=0, speed=0))
    with pytest.raises(ValueError, match="seed"):
        engine.synthesize("x y z", voice, SynthesisParams(nfe_step=2, seed=-1))
    with pytest.raises(ValueError, match="sample_rate"):
        engine.prepare_voice(ref_clip(), REF_TEXT)
    with pytest.raises(FileNotFoundError):
        engine.prepare_voice("/nonexistent/ref.wav", REF_TEXT)
    with pytest.raises(ValueError, match="fp16"):
        Engine.random("tiny", options=EngineOptions(device="cpu", dtype="fp16"))


def test_info(engine: Engine) -> None:
    info = engine.info()
    assert info["device"] == "cpu" and info["dtype"] == "float32" and info["nfe_default"] == 16
    assert info["model"] == "random-tiny"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 9000), min_size=1, max_size=6),
    st.integers(0, 4000),
    st.integers(0, 2**31 - 1),
)
def test_cross_fader_equals_whole_wave_join(lengths: list[int], overlap: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    waves = [rng.standard_normal(n).astype(np.float32) for n in lengths]
    fader = CrossFader(overlap)
    pieces = [fader.push(w) for w in waves] + [fader.flush()]
    joined = np.concatenate(pieces)
    np.testing.assert_allclose(joined, upstream_cross_fade(waves, samples=overlap), atol=1e-6)
