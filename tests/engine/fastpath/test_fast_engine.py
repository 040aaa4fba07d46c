"""FastEngine: same audio as Engine, batched requests equal individual ones, failures stay isolated."""

from __future__ import annotations

import numpy as np
import pytest

from ishowtts.engine.backend import SynthesisCancelled
from ishowtts.engine.fastpath.fast_engine import BatchItem

from .conftest import MASKED_ATOL, max_err

TEXTS = [
    "Hello there, this is a test.",
    "Short one.",
    "A somewhat longer sentence. And a second sentence follows it here, with more words.",
]


def test_synthesize_equals_plain_engine(engine, fast_engine, voice) -> None:
    for i, text in enumerate(TEXTS[:2]):
        ref = engine.synthesize(text, voice, nfe=4, seed=i)
        out = fast_engine.synthesize(text, voice, nfe=4, seed=i)
        assert out.dtype == np.float32 and out.shape == ref.shape
        assert max_err(out, ref) <= MASKED_ATOL
    streamed = np.concatenate(list(fast_engine.stream(TEXTS[2], voice, nfe=4, seed=9)))
    assert max_err(streamed, engine.synthesize(TEXTS[2], voice, nfe=4, seed=9)) <= MASKED_ATOL


def test_batch_equals_individual_and_isolates_failures(engine, fast_engine, voice) -> None:
    items = [BatchItem(t, voice, {"nfe": 4, "seed": 100 + i}) for i, t in enumerate(TEXTS)]
    items.insert(1, BatchItem("", voice, {"nfe": 4, "seed": 1}))  # invalid: empty text
    items.append(BatchItem("Bad speed.", voice, {"nfe": 4, "seed": 1, "speed": -1.0}))
    out = fast_engine.synthesize_batch(items)
    assert isinstance(out[1], ValueError) and "empty" in str(out[1])
    assert isinstance(out[-1], ValueError) and "speed" in str(out[-1])
    good = [o for k, o in enumerate(out) if k not in (1, len(out) - 1)]
    for i, (text, res) in enumerate(zip(TEXTS, good, strict=True)):
        ref = engine.synthesize(text, voice, nfe=4, seed=100 + i)
        assert isinstance(res, np.ndarray) and res.shape == ref.shape
        assert max_err(res, ref) <= MASKED_ATOL
    assert any(key[0] > 1 for key in fast_engine.runner.slots())  # really ran batched


def test_batch_falls_back_to_one_by_one_when_the_batch_fails(fast_engine, voice, monkeypatch) -> None:
    calls = []
    real = fast_engine._render_many

    def flaky(work):
        calls.append(len(work))
        if len({w.owner for w in work}) > 1:
            raise RuntimeError("batched kernel failed")
        return real(work)

    monkeypatch.setattr(fast_engine, "_render_many", flaky)
    out = fast_engine.synthesize_batch(
        [BatchItem("One.", voice, {"nfe": 2, "seed": 1}), BatchItem("Two.", voice, {"nfe": 2, "seed": 2})]
    )
    assert all(isinstance(o, np.ndarray) for o in out) and len(calls) == 3


def test_cancelled_request_in_batch(fast_engine, voice) -> None:
    out = fast_engine.synthesize_batch(
        [
            BatchItem("One.", voice, {"nfe": 2, "seed": 1, "should_stop": lambda: True}),
            BatchItem("Two.", voice, {"nfe": 2, "seed": 2}),
        ]
    )
    assert isinstance(out[0], SynthesisCancelled) and isinstance(out[1], np.ndarray)


def test_memory_report_fields_and_reconfigure_releases(engine, voice) -> None:
    from ishowtts.engine.fastpath.fast_engine import FastEngine, FastPathOptions

    fe = FastEngine.from_engine(engine, FastPathOptions(buckets=(512,), max_batch=2))
    fe.synthesize("Memory check.", voice, nfe=2, seed=0)
    rep = fe.memory_report()
    assert rep["static_bytes"] > 0 and rep["graphs"] == 0
    assert {s["kind"] for s in rep["slots"]} == {"dit", "vocos"}
    assert all(s["bytes"] > 0 and len(s["shape"]) >= 2 for s in rep["slots"])
    peak = rep["last_request_peak"]
    assert peak["kind"] == "cpu_rss" and peak["peak_bytes"] >= peak["start_bytes"] > 0
    assert rep["process_peak_rss_bytes"] > 0
    info = fe.info()["fastpath"]
    assert info["buckets"] == [512] and info["graphs"] is False
    fe.reconfigure(buckets=(256, 512))
    assert fe.runner.slots() == [] and fe.buckets.frames == (256, 512)
    with pytest.raises(ValueError, match="cannot reconfigure"):
        fe.reconfigure(quantize="int8")


def test_warmup_buckets_creates_every_slot(engine) -> None:
    from ishowtts.engine.fastpath.fast_engine import FastEngine, FastPathOptions

    fe = FastEngine.from_engine(engine, FastPathOptions(buckets=(256, 512), max_batch=2))
    assert fe.warmup_buckets((1, 2), nfe=1) == 4
    assert fe.runner.slots() == [(1, 256, 2), (1, 512, 2), (2, 256, 2), (2, 512, 2)]
    assert fe.voc_runner.slots() == [(1, 256), (1, 512), (2, 256), (2, 512)]
