"""Vocos mel vocoder (ConvNeXt backbone + ISTFT head, "center" padding), upstream key layout.

Keys: ``backbone.embed``, ``backbone.norm``, ``backbone.convnext.{i}.{dwconv,norm,pwconv1,pwconv2,gamma}``,
``backbone.final_layer_norm``, ``head.out``, ``head.istft.window``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

MAG_CLIP = 1e2


@dataclass(frozen=True)
class VocosConfig:
    input_channels: int = 100
    dim: int = 512
    intermediate_dim: int = 1536
    num_layers: int = 8
    n_fft: int = 1024
    hop_length: int = 256
    padding: str = "center"
    layer_scale_init_value: float | None = None

    def __post_init__(self) -> None:
        if self.padding != "center":
            raise ValueError(f"only the ISTFT head's 'center' padding is supported, got {self.padding!r}")
        for key in ("input_channels", "dim", "intermediate_dim", "num_layers", "n_fft", "hop_length"):
            if int(getattr(self, key)) <= 0:
                raise ValueError(f"VocosConfig.{key} must be positive")

    @classmethod
    def from_yaml_dict(cls, cfg: Mapping[str, Any]) -> VocosConfig:
        """From upstream's ``config.yaml`` contents (feature_extractor/backbone/head class_path + init_args)."""
        try:
            backbone, head = cfg["backbone"], cfg["head"]
        except KeyError as e:
            raise ValueError(f"vocos config lacks the {e.args[0]!r} section") from None
        if not str(backbone.get("class_path", "")).endswith("VocosBackbone"):
            raise ValueError(
                f"unsupported vocos backbone {backbone.get('class_path')!r} (need VocosBackbone)"
            )
        if not str(head.get("class_path", "")).endswith("ISTFTHead"):
            raise ValueError(f"unsupported vocos head {head.get('class_path')!r} (need ISTFTHead)")
        b, h = backbone.get("init_args", {}), head.get("init_args", {})
        if b.get("adanorm_num_embeddings"):
            raise ValueError("conditional (adanorm) Vocos backbones are not supported")
        if int(h.get("dim", b["dim"])) != int(b["dim"]):
            raise ValueError(f"vocos head dim {h.get('dim')} != backbone dim {b['dim']}")
        return cls(
            input_channels=int(b["input_channels"]),
            dim=int(b["dim"]),
            intermediate_dim=int(b["intermediate_dim"]),
            num_layers=int(b["num_layers"]),
            layer_scale_init_value=b.get("layer_scale_init_value"),
            n_fft=int(h["n_fft"]),
            hop_length=int(h["hop_length"]),
            padding=str(h.get("padding", "same")),
        )


MEL_24KHZ = VocosConfig()


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int, intermediate_dim: int, layer_scale: float) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale)) if layer_scale > 0 else None

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, T) -> (B, C, T)."""
        h = self.dwconv(x).transpose(1, 2)
        h = self.pwconv2(self.act(self.pwconv1(self.norm(h))))
        if self.gamma is not None:
            h = h * self.gamma
        return x + h.transpose(1, 2)


class VocosBackbone(nn.Module):
    def __init__(self, cfg: VocosConfig) -> None:
        super().__init__()
        layer_scale = cfg.layer_scale_init_value or 1 / cfg.num_layers
        self.embed = nn.Conv1d(cfg.input_channels, cfg.dim, kernel_size=7, padding=3)
        self.norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.convnext = nn.ModuleList(
            [ConvNeXtBlock(cfg.dim, cfg.intermediate_dim, layer_scale) for _ in range(cfg.num_layers)]
        )
        self.final_layer_norm = nn.LayerNorm(cfg.dim, eps=1e-6)

    def forward(self, mel: Tensor) -> Tensor:
        """(B, C, T) -> (B, T, dim)."""
        x = self.norm(self.embed(mel).transpose(1, 2)).transpose(1, 2)
        for block in self.convnext:
            x = block(x)
        return self.final_layer_norm(x.transpose(1, 2))


class ISTFT(nn.Module):
    def __init__(self, n_fft: int, hop_length: int) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.register_buffer("window", torch.hann_window(n_fft))

    def forward(self, spec: Tensor) -> Tensor:
        window = self.window.to(spec.real.dtype)
        return torch.istft(spec, self.n_fft, self.hop_length, self.n_fft, window, center=True)


class ISTFTHead(nn.Module):
    def __init__(self, dim: int, n_fft: int, hop_length: int) -> None:
        super().__init__()
        self.out = nn.Linear(dim, n_fft + 2)
        self.istft = ISTFT(n_fft, hop_length)

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, dim) -> (B, (T - 1) * hop) audio. The spectrum is built and inverted in fp32."""
        y = self.out(x).transpose(1, 2).float()
        log_mag, phase = y.chunk(2, dim=1)
        mag = torch.clamp(torch.exp(log_mag), max=MAG_CLIP)
        spec = torch.polar(mag, phase)
        return self.istft(spec)


class VocosDecoder(nn.Module):
    """``decode(mel (B, 100, T)) -> (B, (T - 1) * 256)`` float audio at 24 kHz."""

    def __init__(self, cfg: VocosConfig = MEL_24KHZ) -> None:
        super().__init__()
        self.config = cfg
        self.backbone = VocosBackbone(cfg)
        self.head = ISTFTHead(cfg.dim, cfg.n_fft, cfg.hop_length)

    def forward(self, mel: Tensor) -> Tensor:
        return self.decode(mel)

    @torch.no_grad()
    def decode(self, mel: Tensor) -> Tensor:
        if mel.ndim != 3 or mel.shape[1] != self.config.input_channels:
            raise ValueError(f"mel must be (B, {self.config.input_channels}, T), got {tuple(mel.shape)}")
        if mel.shape[-1] < 2:
            raise ValueError("mel needs at least 2 frames to decode")
        w = self.backbone.embed.weight
        if not torch.is_autocast_enabled(mel.device.type):
            mel = mel.to(w.dtype)
        return self.head(self.backbone(mel))
