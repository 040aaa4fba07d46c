"""Engine-level benchmarks on the CPU with random weights (information; ratios are same-run).

* ``test_synthesis_rtf_small``: real-time factor (wall / audio seconds) of ``Engine.synthesize`` for the
  ``small`` DiT config + the full-size Vocos decoder, NFE 16, a 3 s reference and a 2-sentence text.
* ``test_stream_ttfa_vs_full``: time to the first streamed audio piece vs the latency of the whole
  ``synthesize`` call for a 4-sentence text, measured alternately in the same run; the ratio of the
  minimum times is printed and stored as ``extra_info["ttfa_over_full"]`` (below 1 = streaming helps).

Run: ``python -m pytest benchmarks/test_engine_rtf.py -s`` (the model-level FLOP-utilisation benchmark
lives in ``benchmarks/test_engine.py``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from ishowtts.engine.backend import SynthesisParams
from ishowtts.engine.engine import Engine
from ishowtts.engine.options import EngineOptions

SR = 24_000
NFE = 16
REF_TEXT = "This is the reference voice speaking clearly."
TWO_SENTENCES = "The stream starts in five minutes. Grab a drink and say hello in the chat."
FOUR_SENTENCES = (
    "Welcome back to the stream, everyone. Today we are trying the new speedrun route. "
    "If you are new here, hit follow so you do not miss anything. Let us get started right away."
)
ROUNDS = 3


def _ref(seconds: float = 3.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    env = 0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)
    return (0.3 * env * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.random("small", seed=0, options=EngineOptions(device="cpu", dtype="fp32", renderer="eager"))


@pytest.fixture(scope="module")
def voice(engine: Engine) -> Any:
    return engine.prepare_voice(_ref(), REF_TEXT, SR)


def test_synthesis_rtf_small(benchmark: Any, engine: Engine, voice: Any) -> None:
    audio = engine.synthesize(TWO_SENTENCES, voice, SynthesisParams(nfe_step=NFE, seed=0))  # warm-up, and the audio length
    seconds = len(audio) / SR
    benchmark.pedantic(
        lambda: engine.synthesize(TWO_SENTENCES, voice, SynthesisParams(nfe_step=NFE, seed=0)), rounds=ROUNDS, iterations=1
    )
    rtf = benchmark.stats.stats.min / seconds
    benchmark.extra_info.update({"audio_s": round(seconds, 3), "rtf_min": round(rtf, 4), "nfe": NFE})
    print(f"\nsmall config, NFE {NFE}: {seconds:.2f} s of audio, RTF (min of {ROUNDS}) = {rtf:.4f}")


def test_stream_ttfa_vs_full(benchmark: Any, engine: Engine, voice: Any) -> None:
    kw = {"nfe_step": NFE, "seed": 1}
    _, plan = engine.plan(FOUR_SENTENCES, voice, SynthesisParams(seed=1))

    def ttfa() -> float:
        t0 = time.perf_counter()
        gen = engine.stream(FOUR_SENTENCES, voice, SynthesisParams(**kw))
        first = next(gen)
        elapsed = time.perf_counter() - t0
        gen.close()
        assert len(first) > 0
        return elapsed

    def full() -> float:
        t0 = time.perf_counter()
        engine.synthesize(FOUR_SENTENCES, voice, SynthesisParams(**kw))
        return time.perf_counter() - t0

    ttfa()  # warm-up
    firsts, fulls = [], []
    for _ in range(ROUNDS):  # alternate, so both see the same machine load
        firsts.append(ttfa())
        fulls.append(full())
    benchmark.pedantic(ttfa, rounds=1, iterations=1)
    ratio = min(firsts) / min(fulls)
    benchmark.extra_info.update(
        {
            "ttfa_min_s": round(min(firsts), 4),
            "full_min_s": round(min(fulls), 4),
            "ttfa_over_full": round(ratio, 4),
            "chunks": [c.text for c in plan],
        }
    )
    print(
        f"\n4 sentences in {len(plan)} chunks (first: {plan[0].text!r}): time to first audio "
        f"{min(firsts):.3f} s, full synthesize {min(fulls):.3f} s, ratio {ratio:.3f}"
    )
    assert ratio < 1.0
