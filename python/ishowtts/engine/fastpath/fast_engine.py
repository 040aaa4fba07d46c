"""``FastEngine``: the :class:`~ishowtts.engine.engine.Engine` with its chunk renderer replaced by the
fast path (bucketed static runner, graph replay on CUDA, optional compile/int8), plus batched rendering
of many requests at once (used by :class:`~ishowtts.engine.fastpath.batching.BatchingScheduler`).

Planning, seeds, cross-fading and streaming are the Engine's own, so ``FastEngine.synthesize`` equals
``Engine.synthesize`` (same seed) up to float rounding, and a request rendered inside a batch equals the
same request rendered alone.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ishowtts.engine.backend import SAMPLE_RATE, SynthesisCancelled
from ishowtts.engine.engine import ChunkPlan, CrossFader, Engine
from ishowtts.logging_setup import kv
from ishowtts.model.cfm import SamplingCancelled
from ishowtts.text.frontend import text_to_symbols
from ishowtts.voices.prepare import PreparedVoice, remove_long_silences

from . import memory
from .buckets import BucketSet
from .precision import precast_block_linears
from .static_runner import SampleRequest, StaticRunner
from .static_vocoder import StaticVocoder

__all__ = ["BatchItem", "FastEngine", "FastPathOptions"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FastPathOptions:
    """Switches of the fast path (mirrors ``[engine]`` config keys)."""

    buckets: tuple[int, ...] = ()  # () -> buckets.DEFAULT_BUCKETS
    max_batch: int = 8
    graphs: bool | None = None  # None -> on for CUDA
    compile: bool = False
    compile_backend: str = "inductor"
    quantize: str | None = None  # None | "int8"
    memory_cap: float | None = None  # fraction of the GPU (<= 1) or bytes
    # store the per-step block Linears in the compute dtype (bit-identical to autocast; not with int8)
    precast: bool = True


@dataclass
class BatchItem:
    """One request of :meth:`FastEngine.synthesize_batch` (the keyword arguments of ``synthesize``)."""

    text: str
    voice: PreparedVoice
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclass
class _Work:
    owner: int  # index of the request
    chunk: ChunkPlan
    voice: PreparedVoice
    req: Any  # engine._Request


def switch_dit(
    dit: Any, dtype: torch.dtype, *, quantize: str | None, precast: bool, compile_backend: str | None
) -> Any:
    """Put ``dit`` on the fast path's weight/code switches, in place and idempotently: int8 (``quantize``),
    else the block Linears precast to ``dtype`` (no-op for fp32), then the compiled step
    (``compile_backend``). Returns the step's compile stats (None when not compiled)."""
    if quantize and not getattr(dit, "_quantized", None):
        from .quantize import quantize_dit

        quantize_dit(dit, quantize)
    if precast and not getattr(dit, "_quantized", None):
        precast_block_linears(dit, dtype)
    if compile_backend is None:
        return None
    if "denoise" in vars(dit):  # already compiled
        return dit._compile_stats
    from .compile import compile_dit

    return compile_dit(dit, compile_backend)


class FastEngine(Engine):
    def __init__(
        self, model: Any, vocoder: Any, *, options: FastPathOptions | None = None, **engine_kwargs: Any
    ) -> None:
        super().__init__(model, vocoder, **engine_kwargs)
        self.options = options or FastPathOptions()
        self.compile_stats: dict[str, Any] = {}
        self.last_peak: memory.MemoryPeak | None = None
        memory.set_memory_cap(self.device, self.options.memory_cap)
        self._build()

    @classmethod
    def from_engine(cls, engine: Engine, options: FastPathOptions | None = None) -> FastEngine:
        """Wrap an existing engine's model/vocoder/settings (the voice cache is shared)."""
        fast = cls(
            engine.model,
            engine.vocoder,
            options=options,
            device=engine.device,
            dtype=engine.dtype,
            nfe=engine.default_nfe,
            name=engine.name,
            first_chunk_seconds=engine.first_chunk_seconds,
        )
        fast.voices = engine.voices
        return fast

    # ------------------------------------------------------------------------------------ configuration

    def _build(self) -> None:
        opts = self.options
        self.buckets = BucketSet.from_config(opts.buckets, opts.max_batch)
        dit = self.model.transformer
        if opts.quantize and self.device.type == "cpu" and not opts.compile:
            log.warning(
                "int8 on the CPU gains most with engine.compile = true (inductor fuses the quantisation)",
                extra=kv(quantize=opts.quantize),
            )
        dit_stats = switch_dit(
            dit, self.dtype, quantize=opts.quantize, precast=opts.precast,
            compile_backend=opts.compile_backend if opts.compile else None,
        )  # fmt: skip
        self.runner = StaticRunner(dit, self.buckets, dtype=self.dtype, graphs=opts.graphs)
        self.voc_runner = StaticVocoder(
            self.vocoder, self.buckets, dtype=self.dtype, graphs=opts.graphs, pool=self.runner.pool
        )
        if dit_stats is not None:
            from .compile import compile_vocoder

            self.compile_stats["dit"] = dit_stats
            self.compile_stats["vocos"] = compile_vocoder(self.voc_runner, opts.compile_backend)
        log.info(
            "fast path ready",
            extra=kv(
                buckets=list(self.buckets.frames), batch_sizes=list(self.buckets.batch_sizes), graphs=self.runner.graphs,
                dtype=str(self.dtype), compile=opts.compile, quantize=opts.quantize,
            ),
        )  # fmt: skip

    def reconfigure(self, **changes: Any) -> None:
        """Change buckets / max_batch / graphs (not quantize/compile, which change weights/code): drops
        every captured graph and its memory pool first."""
        bad = set(changes) - {"buckets", "max_batch", "graphs"}
        if bad:
            raise ValueError(f"cannot reconfigure {sorted(bad)} at run time")
        memory.release(self.runner, self.voc_runner)
        self.options = dataclasses.replace(self.options, **changes)
        self._build()

    def warmup_buckets(self, batch_sizes: Sequence[int] | None = None, *, nfe: int = 2) -> int:
        """Create (on CUDA: capture) the DiT slot of every (batch size, bucket) and the Vocos slots."""
        n = self.runner.warmup(batch_sizes or (1,), nfe_step=nfe)
        for b in batch_sizes or (1,):
            for frames in self.buckets.frames:
                self.voc_runner.decode(
                    [torch.zeros(self.vocoder.config.input_channels, frames, device=self.device)] * b
                )
        return n

    # ------------------------------------------------------------------------------------ rendering

    def _render(self, chunk: ChunkPlan, voice: PreparedVoice, req: Any) -> np.ndarray:
        return self._render_many([_Work(0, chunk, voice, req)])[0]

    def _render_many(self, work: Sequence[_Work]) -> list[np.ndarray]:
        """Render chunks as masked batches: grouped by (nfe, cfg, sway) and frame bucket, split at the
        largest batch size. Returns the waves in ``work`` order."""
        reqs = [self._sample_request(w) for w in work]
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, (w, r) in enumerate(zip(work, reqs, strict=True)):
            key = (w.req.nfe, w.req.cfg, w.req.sway, self.buckets.frames_for(r.needed_frames()))
            groups.setdefault(key, []).append(i)
        waves: list[np.ndarray | None] = [None] * len(work)
        started = time.perf_counter()
        with memory.peak_memory(self.device) as peak:
            for (nfe, cfg, sway, _bucket), idx in sorted(groups.items(), key=lambda kv_: kv_[0][3]):
                for lo in range(0, len(idx), self.buckets.max_batch):
                    part = idx[lo : lo + self.buckets.max_batch]
                    stop = _all_stopped([work[i].req.should_stop for i in part])
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
                        waves[i] = self._post(wave, work[i].voice, work[i].req)
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

    def _sample_request(self, w: _Work) -> SampleRequest:
        if w.voice.mel is None:
            raise ValueError("voice has no mel: prepare it with Engine.prepare_voice")
        symbols = text_to_symbols(w.voice.model_text + w.chunk.text)
        ids = self.model.tokenize([symbols], device=self.device)[0]
        return SampleRequest(w.voice.mel[0].to(self.device), ids, w.chunk.frames, w.chunk.seed)

    @staticmethod
    def _post(wave: torch.Tensor, voice: PreparedVoice, req: Any) -> np.ndarray:
        out = wave.float().cpu().numpy()
        if voice.rms_factor != 1.0:
            out = out * np.float32(voice.rms_factor)
        if req.remove_silence:
            out = remove_long_silences(out, SAMPLE_RATE)
        return out.astype(np.float32, copy=False)

    # ------------------------------------------------------------------------------------ batching

    def synthesize_batch(self, items: Sequence[BatchItem]) -> list[np.ndarray | BaseException]:
        """Synthesise several requests together; each entry is that request's audio (equal to its own
        ``synthesize``) or the exception it alone raised. A failure of the batched run falls back to
        rendering every request on its own, so one bad request fails only itself."""
        results: list[np.ndarray | BaseException | None] = [None] * len(items)
        work: list[_Work] = []
        fades: dict[int, float] = {}
        for i, item in enumerate(items):
            try:
                kw = dict(item.kwargs)
                stop = kw.pop("should_stop", None)
                plan, req = self._prepare(
                    item.text, item.voice, kw.get("nfe"), kw.get("cfg", 2.0), kw.get("sway", -1.0), kw.get("speed", 1.0),
                    kw.get("seed"), kw.get("fix_duration"), kw.get("cross_fade", 0.15), kw.get("remove_silence", False),
                    kw.get("first_chunk", True), stop,
                )  # fmt: skip
                fades[i] = req.cross_fade
                work.extend(_Work(i, c, item.voice, req) for c in plan)
            except Exception as exc:
                results[i] = exc
        if work:
            try:
                waves = self._render_many(work)
            except Exception as exc:
                log.warning(
                    "batched render failed; rendering requests one by one", extra=kv(error=type(exc).__name__)
                )
                waves = None
            if waves is not None:
                self._join_batch(work, waves, fades, results)
            else:
                for i in sorted({w.owner for w in work}):
                    mine = [w for w in work if w.owner == i]
                    try:
                        self._join_batch(mine, self._render_many(mine), fades, results)
                    except Exception as exc:
                        results[i] = exc
        stops = {w.owner: w.req.should_stop for w in work}
        for owner, stop in stops.items():  # cancelled while in the batch: report it as cancelled
            if stop is not None and stop() and not isinstance(results[owner], BaseException):
                results[owner] = SynthesisCancelled("cancelled")
        return [r if r is not None else RuntimeError("request produced no audio") for r in results]

    @staticmethod
    def _join_batch(
        work: Sequence[_Work], waves: Sequence[np.ndarray], fades: dict[int, float], results: list[Any]
    ) -> None:
        per: dict[int, list[np.ndarray]] = {}
        for w, wave in zip(work, waves, strict=True):
            per.setdefault(w.owner, []).append(wave)
        for owner, ws in per.items():
            fader = CrossFader(int(fades[owner] * SAMPLE_RATE))
            pieces = [fader.push(x) for x in ws] + [fader.flush()]
            results[owner] = np.concatenate(pieces).astype(np.float32, copy=False)

    # ------------------------------------------------------------------------------------ info

    def memory_report(self) -> dict[str, Any]:
        rep = memory.memory_report(self.runner, self.voc_runner, self.device)
        rep["last_request_peak"] = None if self.last_peak is None else self.last_peak.as_dict()
        return rep

    def info(self) -> dict[str, Any]:
        out = super().info()
        out["fastpath"] = {
            "buckets": list(self.buckets.frames),
            "batch_sizes": list(self.buckets.batch_sizes),
            "graphs": self.runner.graphs,
            "compile": {k: v.as_dict() for k, v in self.compile_stats.items()},
            "quantize": self.options.quantize,
            "slots": [list(s) for s in self.runner.slots()],
        }
        return out


def _all_stopped(hooks: Sequence[Callable[[], bool] | None]) -> Callable[[], bool] | None:
    """A batch stops only when every member asked to (members without a hook never do)."""
    if not hooks or any(h is None for h in hooks):
        return None
    return lambda: all(h() for h in hooks)  # type: ignore[misc]
