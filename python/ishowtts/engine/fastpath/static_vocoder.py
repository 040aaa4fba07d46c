"""Bucketed Vocos decode, the vocoder half of the fast path (see :mod:`.static_runner`).

The ConvNeXt backbone and the head's Linear run at the bucket length with the padding zeroed before
every convolution (exactly what zero-padded convolution at the true length sees), captured as a CUDA
graph per (batch, bucket) on CUDA and run eagerly elsewhere; the ISTFT then runs on each request's exact
frames, so a padded/batched decode equals the plain ``VocosDecoder.decode``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from ishowtts.logging_setup import kv
from ishowtts.model.vocos import MAG_CLIP, VocosDecoder

from . import graph_capture
from .buckets import BucketSet
from .compile import vary
from .precision import autocast
from .static_runner import cached_slot, graphs_default

__all__ = ["StaticVocoder", "istft_from_features", "masked_vocos_features"]

log = logging.getLogger(__name__)


def masked_vocos_features(decoder: VocosDecoder, mel: Tensor, keep: Tensor) -> Tensor:
    """Backbone + head Linear of ``decoder`` on a padded batch: ``mel`` (B, C, T), ``keep`` (B, 1, T)
    bool -> (B, n_fft + 2, T). Valid frames equal the unpadded computation: padding is zeroed before
    every convolution, so each conv sees the zeros it would pad with at the true length."""
    bb = decoder.backbone
    x = bb.embed(mel.masked_fill(~keep, 0.0))
    x = bb.norm(x.transpose(1, 2)).transpose(1, 2)
    for block in bb.convnext:
        x = block(x.masked_fill(~keep, 0.0))
    x = bb.final_layer_norm(x.transpose(1, 2))
    return decoder.head.out(x).transpose(1, 2)


def istft_from_features(decoder: VocosDecoder, y: Tensor) -> Tensor:
    """The ISTFT head after its Linear: (B, n_fft + 2, T) -> (B, (T - 1) * hop), fp32."""
    log_mag, phase = y.float().chunk(2, dim=1)
    spec = torch.polar(torch.clamp(torch.exp(log_mag), max=MAG_CLIP), phase)
    return decoder.head.istft(spec)


class _VocSlot:
    def __init__(self, owner: StaticVocoder, batch: int, frames: int) -> None:
        dec = owner.decoder
        dev = owner.device
        self.owner = owner
        self.batch, self.frames = batch, frames
        self.mel = torch.zeros(batch, dec.config.input_channels, frames, device=dev, dtype=owner.input_dtype)
        self.keep = torch.zeros(batch, 1, frames, dtype=torch.bool, device=dev)
        self.out: Tensor | None = None
        self.graph: Any = None

    def step(self) -> None:
        if self.owner.compiled:  # one compiled graph for every (batch > 1, bucket): see compile.vary
            vary(self.mel, 0, 2)
            vary(self.keep, 0, 2)
        y = self.owner.features_fn(self.mel, self.keep)
        if self.out is None:
            self.out = torch.empty_like(y)
        self.out.copy_(y)

    def run(self) -> Tensor:
        if self.graph is not None:
            self.graph.replay()
        else:
            self.step()
        assert self.out is not None
        return self.out

    def capture(self) -> None:
        self.graph = graph_capture.capture_graph(
            self.step, self.mel.device, self.owner.pool(), self.owner.dtype
        )
        log.info("vocos captured", extra=kv(batch=self.batch, frames=self.frames))


class StaticVocoder:
    """Bucketed Vocos decode: ``decode([mel (100, T_i), ...]) -> [audio ((T_i - 1) * 256,), ...]``."""

    def __init__(
        self,
        decoder: VocosDecoder,
        buckets: BucketSet | None = None,
        *,
        dtype: torch.dtype = torch.float32,
        graphs: bool | None = None,
        pool: Callable[[], Any] | None = None,
    ) -> None:
        self.decoder = decoder
        self.buckets = buckets or BucketSet()
        self.device = decoder.backbone.embed.weight.device
        self.dtype = dtype
        self.graphs = graphs_default(self.device) if graphs is None else bool(graphs)
        self._slots: dict[tuple[int, int], _VocSlot] = {}
        self._pool_fn = pool
        self._pool: Any = None
        self._lock = threading.Lock()
        #: (mel, keep) -> features; replaced by its compiled version in ``compile.compile_vocoder``
        self.features_fn: Callable[[Tensor, Tensor], Tensor] = self.eager_features
        self.compiled = False  # set by compile.compile_vocoder

    def eager_features(self, mel: Tensor, keep: Tensor) -> Tensor:
        return masked_vocos_features(self.decoder, mel, keep)

    @property
    def input_dtype(self) -> torch.dtype:
        # like VocosDecoder.decode: the weights' dtype; under autocast the convs cast it themselves
        return self.decoder.backbone.embed.weight.dtype

    def pool(self) -> Any:
        if self._pool_fn is not None:
            return self._pool_fn()
        if self._pool is None:
            self._pool = torch.cuda.graph_pool_handle()
        return self._pool

    def slots(self) -> list[tuple[int, int]]:
        return sorted(self._slots)

    def release(self) -> int:
        with self._lock:
            n = len(self._slots)
            self._slots.clear()
            self._pool = None
        return n

    @torch.no_grad()
    def decode(self, mels: Sequence[Tensor]) -> list[Tensor]:
        if not mels:
            raise ValueError("no mels to decode")
        channels = self.decoder.config.input_channels
        for m in mels:
            if m.ndim != 2 or m.shape[0] != channels:
                raise ValueError(f"each mel must be ({channels}, T), got {tuple(m.shape)}")
            if m.shape[1] < 2:
                raise ValueError("mel needs at least 2 frames to decode")
        lengths = [int(m.shape[1]) for m in mels]
        batch = self.buckets.batch_for(len(mels))
        frames = self.buckets.run_frames(max(lengths))
        with self._lock, torch.inference_mode(False), torch.no_grad():
            slot = cached_slot(self._slots, (batch, frames), lambda: _VocSlot(self, batch, frames), self.graphs)
            slot.mel.zero_()
            slot.keep.zero_()
            for j, m in enumerate(mels):
                slot.mel[j, :, : lengths[j]].copy_(m)
                slot.keep[j, :, : lengths[j]] = True
            if self.graphs and slot.graph is None:
                slot.capture()
            with autocast(self.device, self.dtype):
                y = slot.run()
                return [
                    istft_from_features(self.decoder, y[j : j + 1, :, : lengths[j]])[0]
                    for j in range(len(mels))
                ]
