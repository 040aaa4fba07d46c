from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import yaml
from safetensors.torch import load_file

from ishowtts.engine.backend import SynthesisParams
from ishowtts.engine.engine import Engine
from ishowtts.engine.options import EngineOptions
from ishowtts.engine.random_weights import generated_vocab, save_random_checkpoint
from ishowtts.text.vocab import Vocab

from .conftest import REF_TEXT, SR, ref_clip

CASES = Path(__file__).parents[1] / "text" / "data" / "frontend_cases.json"


def test_generated_vocab_covers_the_front_end() -> None:
    vocab = generated_vocab()
    assert vocab[0] == " "
    assert len(set(vocab)) == len(vocab)
    assert {"a", "Z", "0", ",", "，", "。", "ni3", "hao3", "le", "lv4"} <= set(vocab)
    symbols = {s for case in json.loads(CASES.read_text(encoding="utf-8")) for s in case["symbols"]}
    pinyin = {s for s in symbols if len(s) > 1}
    assert pinyin <= set(vocab)


def test_checkpoint_layout(tmp_path: Path) -> None:
    paths = save_random_checkpoint(tmp_path, "tiny", seed=3)
    tensors = load_file(paths["ckpt"])
    assert tensors and all(k.startswith("ema_model.transformer.") for k in tensors)
    assert Vocab.from_file(paths["vocab"]).symbols == list(generated_vocab())
    cfg = yaml.safe_load((Path(paths["vocoder"]) / "config.yaml").read_text())
    assert cfg["backbone"]["class_path"].endswith("VocosBackbone")
    assert cfg["head"]["init_args"]["n_fft"] == 1024
    state = torch.load(Path(paths["vocoder"]) / "pytorch_model.bin", weights_only=True)
    assert any(k.startswith("backbone.") for k in state) and any(k.startswith("head.") for k in state)


def test_loading_the_checkpoint_gives_the_same_engine(tmp_path: Path) -> None:
    paths = save_random_checkpoint(tmp_path, "tiny", seed=3)
    loaded = Engine.from_pretrained(
        paths["ckpt"], vocab=paths["vocab"], vocoder=paths["vocoder"], config="tiny", options=EngineOptions(device="cpu")
    )
    direct = Engine.random("tiny", seed=3, options=EngineOptions(device="cpu"))
    clip = ref_clip()
    kw = {"nfe_step": 2, "seed": 9}
    a = loaded.synthesize("Same weights.", loaded.prepare_voice(clip, REF_TEXT, SR), SynthesisParams(**kw))
    b = direct.synthesize("Same weights.", direct.prepare_voice(clip, REF_TEXT, SR), SynthesisParams(**kw))
    np.testing.assert_array_equal(a, b)


def test_from_pretrained_through_a_fake_hf_cache(tmp_path: Path) -> None:
    """The official file names in an HF cache layout load through the real resolution + loading code."""
    import shutil

    from ishowtts.engine.weights import MODELS, VOCOS_FILES, VOCOS_REPO

    paths = save_random_checkpoint(tmp_path / "src", "tiny", seed=4)
    cache = tmp_path / "hub"
    rev = "f" * 40
    spec = MODELS["F5TTS_v1_Base"]
    sources = [(spec.ckpt, paths["ckpt"]), (spec.vocab, paths["vocab"])]
    sources += [(type(spec.ckpt)(VOCOS_REPO, n), str(Path(paths["vocoder"]) / n)) for n in VOCOS_FILES]
    for f, src in sources:
        repo_dir = cache / ("models--" + f.repo_id.replace("/", "--"))
        (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
        (repo_dir / "refs" / "main").write_text(rev)
        dst = repo_dir / "snapshots" / rev / f.filename
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    engine = Engine.from_pretrained(
        "F5TTS_v1_Base", config="tiny", cache_dir=cache, allow_download=False, options=EngineOptions(device="cpu")
    )
    direct = Engine.random("tiny", seed=4, options=EngineOptions(device="cpu"))
    clip = ref_clip()
    a = engine.synthesize("Cached weights.", engine.prepare_voice(clip, REF_TEXT, SR), SynthesisParams(nfe_step=2, seed=3))
    b = direct.synthesize("Cached weights.", direct.prepare_voice(clip, REF_TEXT, SR), SynthesisParams(nfe_step=2, seed=3))
    np.testing.assert_array_equal(a, b)
