"""F5-TTS DiT configurations, named like upstream's ``model.arch`` keys.

A config may be given as a name (``F5TTS_v1_Base``, ``F5TTS_Base``, ``small``, ``tiny``), an
:class:`F5Config`, or a dict of upstream ``model.arch`` keys plus ``text_num_embeds`` and ``mel_dim``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Lines in upstream's pinyin ``vocab.txt`` (= text_num_embeds of the released checkpoints).
UPSTREAM_VOCAB_SIZE = 2545

# upstream arch keys that only change training/back-end behaviour, never the inference function
_IGNORED_ARCH_KEYS = frozenset({"attn_backend", "checkpoint_activations", "dropout"})


@dataclass(frozen=True)
class F5Config:
    """Architecture of the F5-TTS DiT (upstream ``model.arch`` names)."""

    dim: int = 1024
    depth: int = 22
    heads: int = 16
    dim_head: int = 64
    ff_mult: float = 2
    text_dim: int = 512
    conv_layers: int = 4
    text_mask_padding: bool = True
    pe_attn_head: int | None = None
    qk_norm: str | None = None
    long_skip_connection: bool = False
    attn_mask_enabled: bool = False
    text_num_embeds: int = UPSTREAM_VOCAB_SIZE
    mel_dim: int = 100
    name: str = field(default="custom", compare=False)

    def __post_init__(self) -> None:
        for key in ("dim", "depth", "heads", "dim_head", "text_dim", "text_num_embeds", "mel_dim"):
            value = getattr(self, key)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"F5Config.{key} must be a positive int, got {value!r}")
        if self.conv_layers < 0:
            raise ValueError(f"F5Config.conv_layers must be >= 0, got {self.conv_layers}")
        if self.ff_mult <= 0:
            raise ValueError(f"F5Config.ff_mult must be > 0, got {self.ff_mult}")
        if self.dim_head % 2:
            raise ValueError(f"F5Config.dim_head must be even for rotary embeddings, got {self.dim_head}")
        if self.text_dim % 2:
            raise ValueError(f"F5Config.text_dim must be even, got {self.text_dim}")
        if self.dim % 16:
            raise ValueError(f"F5Config.dim must be a multiple of 16 (conv groups), got {self.dim}")
        if self.qk_norm not in (None, "rms_norm"):
            raise ValueError(f"F5Config.qk_norm must be None or 'rms_norm', got {self.qk_norm!r}")
        if self.pe_attn_head is not None and not 0 < self.pe_attn_head <= self.heads:
            raise ValueError(f"F5Config.pe_attn_head must be in 1..heads or None, got {self.pe_attn_head}")

    @property
    def inner_dim(self) -> int:
        return self.heads * self.dim_head

    @property
    def ff_inner_dim(self) -> int:
        return int(self.dim * self.ff_mult)

    def replace(self, **changes: Any) -> F5Config:
        return dataclasses.replace(self, **changes)

    def to_arch_dict(self) -> dict[str, Any]:
        """Upstream-style dict (``model.arch`` keys + text_num_embeds + mel_dim)."""
        d = dataclasses.asdict(self)
        d.pop("name")
        return d

    @classmethod
    def from_arch_dict(cls, arch: Mapping[str, Any], *, name: str = "custom", **defaults: Any) -> F5Config:
        known = {f.name for f in dataclasses.fields(cls)} - {"name"}
        missing = [k for k in ("dim", "depth", "heads") if k not in arch]
        if missing:
            raise ValueError(f"F5 config dict lacks required keys {missing}")
        # upstream DiT(**arch) constructor defaults for keys the dict leaves out
        values: dict[str, Any] = {"dim_head": 64, "ff_mult": 4, "conv_layers": 0, "text_mask_padding": True}
        values.update(defaults)
        unknown = []
        for key, value in arch.items():
            if key in known:
                values[key] = value
            elif key == "text_embedding_average_upsampling":
                if value:
                    raise ValueError("text_embedding_average_upsampling=True is not supported")
            elif key not in _IGNORED_ARCH_KEYS:
                unknown.append(key)
        if unknown:
            raise ValueError(f"unknown F5 config keys {sorted(unknown)}; known: {sorted(known)}")
        values.setdefault("text_dim", values.get("mel_dim", 100))
        if values["text_dim"] is None:
            values["text_dim"] = values.get("mel_dim", 100)
        return cls(name=name, **values)


F5TTS_V1_BASE = F5Config(name="F5TTS_v1_Base")
F5TTS_BASE = F5Config(name="F5TTS_Base", text_mask_padding=False, pe_attn_head=1)
# CI/benchmark sized configs with the v1 layout.
SMALL = F5Config(name="small", dim=256, depth=4, heads=4, dim_head=64, text_dim=128, conv_layers=2)
TINY = F5Config(name="tiny", dim=64, depth=2, heads=4, dim_head=16, text_dim=32, conv_layers=2)

NAMED_CONFIGS: dict[str, F5Config] = {c.name: c for c in (F5TTS_V1_BASE, F5TTS_BASE, SMALL, TINY)}


def resolve_config(config: str | F5Config | Mapping[str, Any], **overrides: Any) -> F5Config:
    """Turn a name / config object / upstream arch dict into an :class:`F5Config`.

    ``overrides`` (e.g. ``text_num_embeds``) apply only to keys the given config does not set itself
    when it is a dict, and replace the named config's value otherwise.
    """
    if isinstance(config, F5Config):
        return config.replace(**overrides) if overrides else config
    if isinstance(config, str):
        try:
            base = NAMED_CONFIGS[config]
        except KeyError:
            raise ValueError(f"unknown F5 config {config!r}; known: {sorted(NAMED_CONFIGS)}") from None
        return base.replace(**overrides) if overrides else base
    if isinstance(config, Mapping):
        return F5Config.from_arch_dict(config, **overrides)
    raise TypeError(f"config must be a name, F5Config or dict, got {type(config).__name__}")
