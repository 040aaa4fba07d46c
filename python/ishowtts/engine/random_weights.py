"""Random-weight models and checkpoints in upstream's file layout, for tests and benchmarks.

:func:`save_random_checkpoint` writes what the real loading code reads: ``model.safetensors`` with
``ema_model.transformer.*`` keys, ``vocab.txt``, and a Vocos directory with ``config.yaml`` +
``pytorch_model.bin``. The vocab is generated here (space first, printable ASCII, a few Latin-1 letters,
CJK punctuation, then every tone-numbered pinyin syllable in pypinyin's dictionary), so it covers what
the text front end produces without copying upstream's vocab file.
"""

from __future__ import annotations

import copy
import functools
import logging
import os
from pathlib import Path
from typing import Any

import torch

from ishowtts.logging_setup import kv

__all__ = ["VOCOS_CONFIG", "generated_vocab", "random_models", "save_random_checkpoint"]

log = logging.getLogger(__name__)

_CJK_PUNCTUATION = "，。！？；：、“”‘’（）《》【】「」『』…—～·"
_LATIN1_LETTERS = "àáâäæçèéêëìíîïñòóôöùúûüÿßÀÁÂÄÇÈÉÊËÎÏÑÔÖÙÚÛÜ"

#: upstream charactr/vocos-mel-24khz config.yaml contents (architecture only)
VOCOS_CONFIG: dict[str, Any] = {
    "feature_extractor": {
        "class_path": "vocos.feature_extractors.MelSpectrogramFeatures",
        "init_args": {
            "sample_rate": 24000,
            "n_fft": 1024,
            "hop_length": 256,
            "n_mels": 100,
            "padding": "center",
        },
    },
    "backbone": {
        "class_path": "vocos.models.VocosBackbone",
        "init_args": {"input_channels": 100, "dim": 512, "intermediate_dim": 1536, "num_layers": 8},
    },
    "head": {
        "class_path": "vocos.heads.ISTFTHead",
        "init_args": {"dim": 512, "n_fft": 1024, "hop_length": 256, "padding": "center"},
    },
}


@functools.lru_cache(maxsize=1)
def generated_vocab() -> tuple[str, ...]:
    """Symbols of the generated vocab; index = token id, index 0 is the space."""
    from pypinyin.contrib.tone_convert import to_tone3
    from pypinyin.pinyin_dict import pinyin_dict

    symbols: list[str] = [" "]
    symbols += [chr(c) for c in range(0x21, 0x7F)]
    symbols += list(_LATIN1_LETTERS)
    symbols += list(_CJK_PUNCTUATION)
    syllables = {to_tone3(r) for readings in pinyin_dict.values() for r in readings.split(",")}
    seen = set(symbols)
    symbols += sorted(s for s in syllables if s and s not in seen)
    return tuple(symbols)


def random_models(config: str | Any = "tiny", seed: int = 0) -> tuple[Any, Any]:
    """(F5 model, Vocos decoder) with random weights and the generated vocab.

    The ``tiny`` config gets a tiny Vocos too (fast tests); every other config gets the real
    mel-24khz architecture (13.5 M parameters), so benchmarks measure the real decoder cost.
    """
    from ishowtts.model import VocosConfig, random_f5, random_vocos
    from ishowtts.text.vocab import Vocab

    vocab = Vocab(list(generated_vocab()))
    f5 = random_f5(config, seed=seed, vocab=vocab)
    if config == "tiny":
        return f5, random_vocos(seed, VocosConfig(dim=64, intermediate_dim=192, num_layers=2))
    return f5, random_vocos(seed)


def save_random_checkpoint(
    out_dir: str | os.PathLike[str], config: str = "tiny", seed: int = 0
) -> dict[str, str]:
    """Write a random checkpoint in upstream layout; returns ``{"ckpt", "vocab", "vocoder"}`` paths."""
    import yaml
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    f5, voc = random_models(config, seed)

    vocab_path = out / "vocab.txt"
    with open(vocab_path, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(s + "\n" for s in generated_vocab())

    state = f5.upstream_state_dict()
    tensors = {_ema_key(k): v.detach().contiguous().cpu() for k, v in state.items()}
    ckpt_path = out / "model.safetensors"
    save_file(tensors, str(ckpt_path))

    voc_dir = out / "vocos"
    voc_dir.mkdir(exist_ok=True)
    with open(voc_dir / "config.yaml", "w", encoding="utf-8") as f:
        yaml.safe_dump(_vocos_config(voc), f, sort_keys=False)
    voc_state = voc.upstream_state_dict() if hasattr(voc, "upstream_state_dict") else voc.state_dict()
    torch.save(
        {k: v.detach().contiguous().cpu() for k, v in voc_state.items()}, voc_dir / "pytorch_model.bin"
    )
    log.info("random checkpoint written", extra=kv(dir=str(out), config=str(config), seed=seed))
    return {"ckpt": str(ckpt_path), "vocab": str(vocab_path), "vocoder": str(voc_dir)}


def _ema_key(key: str) -> str:
    if key.startswith("ema_model."):
        return key
    if not key.startswith("transformer."):
        key = "transformer." + key
    return "ema_model." + key


def _vocos_config(voc: Any) -> dict[str, Any]:
    """The decoder's architecture in upstream's config.yaml layout."""
    cfg = getattr(voc, "config", None)
    if cfg is None:
        return VOCOS_CONFIG
    out = copy.deepcopy(VOCOS_CONFIG)
    out["feature_extractor"]["init_args"].update(
        {"n_fft": cfg.n_fft, "hop_length": cfg.hop_length, "n_mels": cfg.input_channels}
    )
    backbone = {
        "input_channels": cfg.input_channels,
        "dim": cfg.dim,
        "intermediate_dim": cfg.intermediate_dim,
        "num_layers": cfg.num_layers,
    }
    if cfg.layer_scale_init_value is not None:
        backbone["layer_scale_init_value"] = cfg.layer_scale_init_value
    out["backbone"]["init_args"] = backbone
    out["head"]["init_args"] = {
        "dim": cfg.dim,
        "n_fft": cfg.n_fft,
        "hop_length": cfg.hop_length,
        "padding": cfg.padding,
    }
    return out
