"""The whole engine pipeline against upstream's ``infer_process`` on the same random tiny checkpoint.

Covers reference preprocessing (silence split, edge trim, RMS normalisation and scale-back), the text
layout (``ref_text + ". " + extra space + gen_text``, pinyin), the duration rule, the mel slice before
the vocoder and NFE-16 EPSS sampling with a fixed seed. Fixture: ``make_upstream_pipeline_fixture.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ishowtts.engine.backend import SynthesisParams
from ishowtts.engine.engine import Engine
from ishowtts.engine.options import EngineOptions
from ishowtts.engine.random_weights import save_random_checkpoint
from tests.conftest import load_module

upf = load_module(Path(__file__).with_name("make_upstream_pipeline_fixture.py"))

FIXTURE = np.load(Path(__file__).parent / "data" / "upstream_pipeline.npz")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    work = tmp_path_factory.mktemp("upf")
    p = save_random_checkpoint(work, "tiny", seed=upf.CKPT_SEED)
    return Engine.from_pretrained(
        p["ckpt"], vocab=p["vocab"], vocoder=p["vocoder"], config="tiny", options=EngineOptions(device="cpu", renderer="eager")
    )


@pytest.mark.parametrize("case", upf.CASES, ids=[c[0] for c in upf.CASES])
def test_matches_upstream_infer_process(
    engine: Engine, case: tuple[str, str, str, str], tmp_path: Path
) -> None:
    name, kind, ref_text, gen_text = case
    wav = tmp_path / f"{kind}.wav"
    sf.write(wav, upf.reference(kind), upf.SR, subtype="PCM_16")
    voice = engine.prepare_voice(wav, ref_text)
    out = engine.synthesize(gen_text, voice, SynthesisParams(nfe_step=upf.NFE, seed=upf.SEED, first_chunk=False))
    assert len(out) == int(FIXTURE[f"{name}_len"])
    expected = FIXTURE[f"{name}_strided"]
    np.testing.assert_allclose(out[:: upf.STRIDE], expected, rtol=0, atol=2e-5)
    assert np.abs(expected).max() > 0.01  # the check is not vacuous
