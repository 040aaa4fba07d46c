"""``StaticRenderer``: chunks rendered as masked batches at bucketed static shapes.

Chunks are grouped by their sampler settings (nfe_step, cfg_strength, sway_sampling_coef) and frame
bucket, and each group runs through :class:`StaticRunner` (the DiT steps; replayed CUDA graphs when
``graphs`` is on) and :class:`StaticVocoder`. Padding is masked and every chunk draws its noise from its
own seed, so a chunk rendered inside a batch equals the same chunk rendered alone (and the eager
renderer's output up to float rounding).

The model's precision switches are applied here, once, when the renderer is built for the engine that
owns the model: int8 weights (``quantize``), else the per-step Linears stored in the compute dtype
(``precast``), then the compiled step (``compile``).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ishowtts import defaults
from ishowtts.engine.backend import SynthesisCancelled
from ishowtts.engine.options import EngineOptions
from ishowtts.engine.render import ChunkWork, finish_wave
from ishowtts.logging_setup import kv
from ishowtts.model.cfm import SamplingCancelled
from ishowtts.model.precast import precast_block_linears
from ishowtts.text.frontend import text_to_symbols

from . import memory
from .buckets import BucketSet
from .static_runner import SampleRequest, StaticRunner, graphs_default
from .static_vocoder import StaticVocoder

__all__ = ["StaticRenderer"]

log = logging.getLogger(__name__)


class StaticRenderer:
    def __init__(
        self, model: Any, vocoder: Any, device: torch.device, dtype: torch.dtype, options: EngineOptions
    ) -> None:
        self.model, self.vocoder, self.device, self.dtype = model, vocoder, device, dtype
        self.options = options
        self.compile_stats: dict[str, Any] = {}
        self.last_peak: memory.MemoryPeak | None = None
        memory.set_memory_cap(device, options.memory_cap)
        self._prepare_model()
        self._build()

    @property
    def max_batch(self) -> int:
        return self.buckets.max_batch

    # ------------------------------------------------------------------------------------ configuration

    def _prepare_model(self) -> None:
        opts, dit = self.options, self.model.transformer
        if opts.quantize:
            from .quantize import quantize_dit

            if self.device.type == "cpu" and not opts.compile:
                log.warning(
                    "int8 on the CPU gains most with engine.compile = true (inductor fuses the quantisation)",
                    extra=kv(quantize=opts.quantize),
                )
            quantize_dit(dit, opts.quantize)
        elif opts.precast:
            precast_block_linears(dit, self.dtype)
        if opts.attention == "native":
            from ishowtts.model.cpu_attention import use_native_attention

            use_native_attention(dit)
        if opts.compile:
            from .compile import compile_dit

            self.compile_stats["dit"] = compile_dit(dit, opts.compile_backend)

    def _build(self) -> None:
        opts = self.options
        graphs = graphs_default(self.device) if opts.graphs is None else opts.graphs
        multiple = 0 if graphs else defaults.FRAME_MULTIPLE  # a captured graph needs the bucket's shape
        self.buckets = BucketSet.from_config(opts.buckets, opts.max_batch, multiple=multiple)
        dit = self.model.transformer
        self.runner = StaticRunner(dit, self.buckets, dtype=self.dtype, graphs=graphs)
        self.runner.compiled = "dit" in self.compile_stats
        self.voc_runner = StaticVocoder(
            self.vocoder, self.buckets, dtype=self.dtype, graphs=graphs, pool=self.runner.pool
        )
        if opts.compile:
            from .compile import compile_vocoder

            self.compile_stats["vocos"] = compile_vocoder(self.voc_runner, opts.compile_backend)
        log.info(
            "static renderer ready",
            extra=kv(
                buckets=list(self.buckets.frames), batch_sizes=list(self.buckets.batch_sizes), graphs=self.runner.graphs,
                dtype=str(self.dtype), compile=opts.compile, quantize=opts.quantize, attention=opts.attention,
            ),
        )  # fmt: skip

    def reconfigure(self, **changes: Any) -> None:
        """Change buckets / max_batch / graphs (not quantize/compile/attention, which change weights/code): drops
        every captured graph and its memory pool first."""
        bad = set(changes) - {"buckets", "max_batch", "graphs"}
        if bad:
            raise ValueError(f"cannot reconfigure {sorted(bad)} at run time")
        memory.release(self.runner, self.voc_runner)
        self.options = dataclasses.replace(self.options, **changes)
        self._build()

    def warmup(
        self, nfe_step: int = 2, batch_sizes: Sequence[int] | None = None, frames: Sequence[int] | None = None
    ) -> int:
        """Create (on CUDA: capture; compiled: compile) the DiT slot of every (batch size, bucket) and the
        Vocos slots. ``frames`` limits the buckets (a compiled step serves every bucket from one graph)."""
        sizes = tuple(batch_sizes or self.buckets.batch_sizes)
        buckets = tuple(frames or self.buckets.frames)
        n = self.runner.warmup(sizes, nfe_step=nfe_step, frames=buckets)
        for b in sizes:
            for n_frames in buckets:
                self.voc_runner.decode(
                    [torch.zeros(self.vocoder.config.input_channels, n_frames, device=self.device)] * b
                )
        return n

    @property
    def compiled(self) -> bool:
        return bool(self.compile_stats)

    # ------------------------------------------------------------------------------------ rendering

    def render(self, work: Sequence[ChunkWork]) -> list[np.ndarray]:
        """Render chunks as masked batches: grouped by sampler settings and frame bucket, split at the
        largest batch size. Returns the waves in ``work`` order."""
        reqs = [self._sample_request(w) for w in work]
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, (w, r) in enumerate(zip(work, reqs, strict=True)):
            p = w.params
            key = (p.nfe_step, p.cfg_strength, p.sway_sampling_coef, self.buckets.frames_for(r.needed_frames()))
            groups.setdefault(key, []).append(i)
        waves: list[np.ndarray | None] = [None] * len(work)
        started = time.perf_counter()
        with memory.peak_memory(self.device) as peak:
            for (nfe, cfg, sway, _bucket), idx in sorted(groups.items(), key=lambda kv_: kv_[0][3]):
                for lo in range(0, len(idx), self.buckets.max_batch):
                    part = idx[lo : lo + self.buckets.max_batch]
                    stop = _all_stopped([work[i].should_stop for i in part])
                    try:
                        mels = self.runner.sample(
                            [reqs[i] for i in part],
                            nfe_step=nfe,
                            cfg_strength=cfg,
                            sway_sampling_coef=sway,
                            should_stop=stop,
                        )
                    except SamplingCancelled as exc:
                        raise SynthesisCancelled(str(exc)) from None
                    gen = [
                        m[work[i].voice.ref_frames :].transpose(0, 1) for m, i in zip(mels, part, strict=True)
                    ]
                    for i, wave in zip(part, self.voc_runner.decode(gen), strict=True):
                        waves[i] = finish_wave(wave, work[i].voice, work[i].params)
        self.last_peak = peak
        log.debug(
            "rendered",
            extra=kv(
                chunks=len(work),
                groups=len(groups),
                s=round(time.perf_counter() - started, 4),
                peak=peak.peak_bytes,
            ),
        )
        return [w for w in waves if w is not None]

    def _sample_request(self, w: ChunkWork) -> SampleRequest:
        if w.voice.mel is None:
            raise ValueError("voice has no mel: prepare it with Engine.prepare_voice")
        symbols = text_to_symbols(w.voice.model_text + w.chunk.text)
        ids = self.model.tokenize([symbols], device=self.device)[0]
        return SampleRequest(w.voice.mel[0].to(self.device), ids, w.chunk.frames, w.chunk.seed)

    # ------------------------------------------------------------------------------------ info

    def memory_report(self) -> dict[str, Any]:
        rep = memory.memory_report(self.runner, self.voc_runner, self.device)
        rep["last_request_peak"] = None if self.last_peak is None else self.last_peak.as_dict()
        return rep

    def info(self) -> dict[str, Any]:
        return {
            "renderer": "static",
            "buckets": list(self.buckets.frames),
            "frame_multiple": self.buckets.multiple,
            "batch_sizes": list(self.buckets.batch_sizes),
            "graphs": self.runner.graphs,
            "compile": {k: v.as_dict() for k, v in self.compile_stats.items()},
            "quantize": self.options.quantize,
            "attention": self.options.attention,
            "slots": [list(s) for s in self.runner.slots()],
        }


def _all_stopped(hooks: Sequence[Callable[[], bool] | None]) -> Callable[[], bool] | None:
    """A batch stops only when every member asked to (members without a hook never do)."""
    if not hooks or any(h is None for h in hooks):
        return None
    return lambda: all(h() for h in hooks)  # type: ignore[misc]
