"""Strict checkpoint loading for the F5 DiT and the Vocos decoder (upstream file layouts)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import Tensor, nn

from ishowtts.logging_setup import kv
from ishowtts.text.vocab import Vocab

from .configs import F5Config, resolve_config
from .f5 import F5Model
from .vocos import MEL_24KHZ, VocosConfig, VocosDecoder

log = logging.getLogger(__name__)

_DROP_KEYS = ("initted", "step")
_SHOW = 5


class CheckpointMismatchError(ValueError):
    """A state dict does not fit the assumed architecture (missing / unexpected / mis-shaped keys)."""


def _read_state_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(path), device="cpu"))
    obj = torch.load(str(path), map_location="cpu", weights_only=True)
    if not isinstance(obj, Mapping):
        raise ValueError(f"{path}: expected a dict checkpoint, got {type(obj).__name__}")
    return dict(obj)


def normalize_f5_state_dict(raw: Mapping[str, Any]) -> dict[str, Tensor]:
    """Upstream checkpoint contents -> ``transformer.*`` state dict.

    Accepts the safetensors EMA layout (``ema_model.transformer.*``), a ``.pt`` dict with
    ``ema_model_state_dict`` (or only ``model_state_dict``), a CFM state dict (``transformer.*``) or a
    bare DiT state dict. Strips ``ema_model.``, drops ``initted``, ``step`` and ``mel_spec.*``.
    """
    sd: Mapping[str, Any] = raw
    if "ema_model_state_dict" in sd:
        sd = sd["ema_model_state_dict"]
    elif "model_state_dict" in sd:
        sd = sd["model_state_dict"]
    out: dict[str, Tensor] = {}
    for key, value in sd.items():
        k = key[len("ema_model.") :] if key.startswith("ema_model.") else key
        if k in _DROP_KEYS or k.startswith("mel_spec."):
            continue
        if not isinstance(value, Tensor):
            raise ValueError(f"checkpoint entry {key!r} is a {type(value).__name__}, not a tensor")
        out[k] = value
    if out and not any(k.startswith("transformer.") for k in out):
        out = {f"transformer.{k}": v for k, v in out.items()}
    return out


def check_state_dict(module: nn.Module, sd: Mapping[str, Tensor], what: str) -> None:
    """Raise :class:`CheckpointMismatchError` naming the first few offending keys, if any."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    shapes = [
        f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in sd and tuple(sd[k].shape) != tuple(v.shape)
    ]
    if not (missing or unexpected or shapes):
        return
    parts = [f"checkpoint does not match {what}"]
    for label, items in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", shapes)):
        if items:
            more = f" (+{len(items) - _SHOW} more)" if len(items) > _SHOW else ""
            parts.append(f"{len(items)} {label} key(s): {', '.join(items[:_SHOW])}{more}")
    raise CheckpointMismatchError("; ".join(parts))


def _assign(module: nn.Module, sd: Mapping[str, Tensor], copy: bool) -> None:
    """Load a checked state dict into a meta-device module; floats become fp32. ``copy``: never alias the
    caller's tensors (a file's freshly read tensors are adopted as they are)."""
    fp32 = {
        k: (v.to(torch.float32, copy=copy) if v.is_floating_point() else v.clone() if copy else v)
        for k, v in sd.items()
    }
    module.load_state_dict(fp32, strict=True, assign=True)
    left = [n for n, t in [*module.named_parameters(), *module.named_buffers()] if t.is_meta]
    if left:
        raise RuntimeError(f"tensors not provided by the checkpoint: {left[:_SHOW]}")
    module.eval()


def _infer_text_num_embeds(sd: Mapping[str, Tensor]) -> int | None:
    w = sd.get("transformer.text_embed.text_embed.weight")
    return None if w is None or w.ndim != 2 else int(w.shape[0]) - 1


def load_f5(
    checkpoint: str | os.PathLike[str] | Mapping[str, Any],
    config: str | F5Config | Mapping[str, Any] = "F5TTS_v1_Base",
    vocab: Vocab | str | os.PathLike[str] | None = None,
) -> F5Model:
    """Load an upstream F5-TTS checkpoint strictly into an :class:`F5Model` (eval mode, fp32, CPU).

    ``text_num_embeds`` comes from the config dict / object if it sets it, else from the vocab, else
    from the checkpoint's text embedding (named configs default to upstream's 2545 only as a fallback).
    """
    raw = _read_state_file(Path(checkpoint)) if isinstance(checkpoint, (str, os.PathLike)) else checkpoint
    sd = normalize_f5_state_dict(raw)
    voc = Vocab.coerce(vocab) if vocab is not None else None
    overrides: dict[str, Any] = {}
    explicit = isinstance(config, F5Config) or (isinstance(config, Mapping) and "text_num_embeds" in config)
    if not explicit:
        n = len(voc) if voc is not None else _infer_text_num_embeds(sd)
        if n is not None:
            overrides["text_num_embeds"] = n
    cfg = resolve_config(config, **overrides)
    with torch.device("meta"):  # shapes only: a mismatch fails before any allocation
        model = F5Model(cfg, vocab=voc)
    check_state_dict(model, sd, f"F5 config {cfg.name!r} ({_describe(cfg)})")
    _assign(model, sd, copy=not isinstance(checkpoint, (str, os.PathLike)))
    log.info(
        "f5 checkpoint loaded", extra=kv(config=cfg.name, tensors=len(sd), vocab=len(voc) if voc else None)
    )
    return model


def _describe(cfg: F5Config) -> str:
    return (
        f"dim={cfg.dim} depth={cfg.depth} heads={cfg.heads} text_dim={cfg.text_dim} conv_layers={cfg.conv_layers} "
        f"text_num_embeds={cfg.text_num_embeds}"
    )


def _vocos_config(config: VocosConfig | Mapping[str, Any] | str | os.PathLike[str] | None) -> VocosConfig:
    if config is None:
        return MEL_24KHZ
    if isinstance(config, VocosConfig):
        return config
    if isinstance(config, (str, os.PathLike)):
        with open(config, encoding="utf-8") as f:
            config = yaml.safe_load(f)
    if isinstance(config, Mapping):
        if "backbone" in config:
            return VocosConfig.from_yaml_dict(config)
        return VocosConfig(**config)
    raise TypeError(f"unsupported vocos config {type(config).__name__}")


def load_vocos(
    path_or_state_dict: str | os.PathLike[str] | Mapping[str, Tensor],
    config: VocosConfig | Mapping[str, Any] | str | os.PathLike[str] | None = None,
) -> VocosDecoder:
    """Load a Vocos decoder strictly: a directory with upstream's ``config.yaml`` + ``pytorch_model.bin``
    (or ``model.safetensors``), a weights file, or a state dict; ``feature_extractor.*`` keys are ignored."""
    if isinstance(path_or_state_dict, (str, os.PathLike)):
        path = Path(path_or_state_dict)
        if path.is_dir():
            if config is None:
                if not (path / "config.yaml").exists():
                    raise FileNotFoundError(f"{path} has no config.yaml")
                config = path / "config.yaml"
            weights = next(
                (path / n for n in ("pytorch_model.bin", "model.safetensors") if (path / n).exists()), None
            )
            if weights is None:
                raise FileNotFoundError(f"{path} has neither pytorch_model.bin nor model.safetensors")
            raw = _read_state_file(weights)
        else:
            raw = _read_state_file(path)
    else:
        raw = dict(path_or_state_dict)
    from_caller = not isinstance(path_or_state_dict, (str, os.PathLike))
    cfg = _vocos_config(config)
    sd = {k: v for k, v in raw.items() if not k.startswith("feature_extractor.")}
    with torch.device("meta"):
        decoder = VocosDecoder(cfg)
    check_state_dict(decoder, sd, f"Vocos config {cfg}")
    _assign(decoder, sd, copy=from_caller)
    log.info("vocos loaded", extra=kv(dim=cfg.dim, layers=cfg.num_layers, tensors=len(sd)))
    return decoder
