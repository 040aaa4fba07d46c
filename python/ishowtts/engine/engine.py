"""The F5-TTS engine: the :class:`~ishowtts.engine.backend.Backend` the scheduler and server run.

A request (text, voice, :class:`SynthesisParams`) is planned as text chunks (``engine.planning``), each
with a frame count and a seed derived from the request seed. The renderer chosen when the engine is
built (``engine.render``: eager, or the static bucketed one that also renders batches) turns chunks into
waves, and the engine joins them with a linear cross-fade. :meth:`Engine.stream` yields the joined audio
as it becomes final (each chunk's cross-fade tail is held back until the next chunk arrives);
:meth:`Engine.synthesize` is exactly the concatenation of it, and a request inside
:meth:`Engine.synthesize_batch` gets the same audio as alone.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ishowtts import defaults
from ishowtts.engine.backend import SAMPLE_RATE, CancelToken, SynthesisCancelled, SynthesisParams
from ishowtts.engine.options import EngineOptions, default_device, resolve
from ishowtts.engine.planning import ChunkPlan, CrossFader, check_params, plan_chunks
from ishowtts.engine.render import ChunkWork, EagerRenderer, Renderer
from ishowtts.logging_setup import kv
from ishowtts.text.duration import HOP_LENGTH
from ishowtts.voices.cache import VoiceCache, content_key
from ishowtts.voices.prepare import PreparedVoice, prepare_voice
from ishowtts.voices.reference import VoiceReference

__all__ = ["BatchJob", "Engine"]

log = logging.getLogger(__name__)

_LABELS = {"F5TTS_v1_Base": "F5-TTS v1 Base", "F5TTS_Base": "F5-TTS Base"}
#: one request of :meth:`Engine.synthesize_batch`
BatchJob = tuple[str, VoiceReference, SynthesisParams, CancelToken | None]


class Engine:
    """F5-TTS on one device. Keeps no per-request state (the voice cache is thread-safe and every chunk
    draws noise from its own generator), so concurrency is the scheduler's choice.

    ``voice`` arguments take a stored :class:`VoiceReference` (prepared and cached by content on first
    use) or a :class:`PreparedVoice` from :meth:`prepare_voice`.
    """

    name = "f5"
    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        model: Any,
        vocoder: Any,
        options: EngineOptions | None = None,
        *,
        model_name: str = "F5TTS_v1_Base",
        label: str | None = None,
    ) -> None:
        self.options = options = options or EngineOptions()
        self.device = torch.device(options.device) if options.device is not None else default_device()
        head_dim = model.transformer.cfg.dim_head  # the native attention kernel handles heads of 64 only
        self.resolved = resolve(options, self.device, head_dim=head_dim)  # "auto" decided for this machine
        self.dtype = self.resolved.dtype
        self.model = model.to(self.device).eval()
        self.vocoder = vocoder.to(self.device).eval()
        self.default_nfe = options.nfe_step
        self.model_name = model_name
        self.label = label or _LABELS.get(model_name, f"F5-TTS ({model_name})")
        self.voices: VoiceCache[PreparedVoice] = VoiceCache(options.voice_cache_size)
        self.renderer: Renderer = self._build_renderer()

    def _build_renderer(self) -> Renderer:
        if self.options.renderer == "eager":
            return EagerRenderer(self.model, self.vocoder, self.device, self.dtype)
        from ishowtts.engine.fastpath.static_render import StaticRenderer

        r = self.resolved
        options = dataclasses.replace(self.options, compile=r.compile, quantize=r.quantize, attention=r.attention)
        return StaticRenderer(self.model, self.vocoder, self.device, self.dtype, options)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_pretrained(
        cls,
        model: str = "F5TTS_v1_Base",
        ckpt: str | os.PathLike[str] | None = None,
        vocab: str | os.PathLike[str] | None = None,
        vocoder: str | os.PathLike[str] | None = None,
        options: EngineOptions | None = None,
        *,
        config: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        allow_download: bool | None = None,
    ) -> Engine:
        """Load official (or compatible) weights: explicit paths, then the HF cache, then a download."""
        from ishowtts.engine.weights import resolve_weights
        from ishowtts.model import load_f5, load_vocos

        w = resolve_weights(
            model, ckpt, vocab, vocoder, config=config, cache_dir=cache_dir, allow_download=allow_download
        )
        t0 = time.perf_counter()
        f5 = load_f5(str(w.ckpt), config=w.model, vocab=str(w.vocab))
        voc = load_vocos(str(w.vocoder))
        log.info("weights loaded", extra=kv(model=w.model, seconds=round(time.perf_counter() - t0, 2)))
        return cls(f5, voc, options, model_name=w.model)

    @classmethod
    def random(cls, config: str = "tiny", seed: int = 0, options: EngineOptions | None = None) -> Engine:
        """An engine with random weights (benchmarks/tests), using the generated vocab of random_weights."""
        from ishowtts.engine.random_weights import random_models

        f5, voc = random_models(config, seed)
        return cls(f5, voc, options, model_name=f"random-{config}")

    # ------------------------------------------------------------------ voices

    def prepare_voice(
        self,
        audio: str | os.PathLike[str] | np.ndarray,
        text: str,
        sample_rate: int | None = None,
        *,
        target_rms: float = defaults.TARGET_RMS,
    ) -> PreparedVoice:
        """Prepare (or fetch from the cache) a reference: a file path or a float array + its sample rate.

        Cached by content (samples, rate, text, target RMS): the same clip passed again is free."""
        if isinstance(audio, str | os.PathLike):
            import soundfile as sf

            path = Path(audio)
            if not path.is_file():
                raise FileNotFoundError(f"reference audio {path} does not exist")
            data, file_rate = sf.read(str(path), dtype="float32", always_2d=False)
            if sample_rate is not None and sample_rate != file_rate:
                raise ValueError(f"sample_rate={sample_rate} contradicts the file's {file_rate} Hz")
            audio, sample_rate = data, int(file_rate)
        if sample_rate is None:
            raise ValueError("sample_rate is required when audio is an array")
        audio = np.asarray(audio)
        key = content_key(audio, int(sample_rate), text, salt=f"rms={target_rms}")

        def build() -> PreparedVoice:
            v = prepare_voice(audio, int(sample_rate), text, target_rms=target_rms)
            return dataclasses.replace(v, mel=self._reference_mel(v.audio), key=key)

        return self.voices.get_or_create(key, build)

    def _prepared(self, voice: VoiceReference | PreparedVoice, params: SynthesisParams) -> PreparedVoice:
        if isinstance(voice, PreparedVoice):
            return voice
        if voice.audio is None:
            raise ValueError(f"voice {voice.id!r} has no reference audio; the F5 engine needs one")
        return self.prepare_voice(voice.audio, voice.text, voice.sample_rate, target_rms=params.target_rms)

    def _reference_mel(self, audio: np.ndarray) -> torch.Tensor:
        from ishowtts.model import log_mel_spectrogram

        wav = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None].to(self.device)
        with torch.inference_mode():
            mel = log_mel_spectrogram(wav)  # (1, 100, T)
        return mel.transpose(1, 2).contiguous()  # (1, T, 100)

    @property
    def vocab_symbols(self) -> frozenset[str]:
        """The model vocab's single-character symbols: the text normalizer lets these pass as they are."""
        vocab = getattr(self.model, "vocab", None)
        return frozenset(s for s in vocab.symbols if len(s) == 1) if vocab is not None else frozenset()

    # ------------------------------------------------------------------ planning

    def plan(
        self, text: str, voice: PreparedVoice, params: SynthesisParams | None = None
    ) -> tuple[SynthesisParams, list[ChunkPlan]]:
        """The checked parameters (nfe_step and seed filled in) and the chunks, deterministic given both."""
        checked = check_params(params or SynthesisParams(), self.default_nfe)
        return checked, plan_chunks(text, voice, checked, self.options.first_chunk_seconds)

    # ------------------------------------------------------------------ synthesis

    def synthesize(
        self,
        text: str,
        voice: VoiceReference | PreparedVoice,
        params: SynthesisParams | None = None,
        cancel: CancelToken | None = None,
    ) -> np.ndarray:
        """float32 mono audio at 24 kHz. Equals the concatenation of :meth:`stream` for the same arguments."""
        pieces = list(self.stream(text, voice, params, cancel))
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)

    def stream(
        self,
        text: str,
        voice: VoiceReference | PreparedVoice,
        params: SynthesisParams | None = None,
        cancel: CancelToken | None = None,
    ) -> Iterator[np.ndarray]:
        """Yield float32 audio pieces as they become final (the first after the short first chunk).

        ``params.seed=None`` picks a random seed, logged as ``seed=``. ``params.first_chunk`` cuts a short
        first text chunk for time-to-first-audio; :meth:`synthesize` honours it too, so both agree."""
        params = params or SynthesisParams()
        if cancel is not None:
            cancel.raise_if_cancelled()
        prepared = self._prepared(voice, params)
        checked, plan = self.plan(text, prepared, params)
        return self._join(plan, prepared, checked, cancel)

    def _join(
        self, plan: list[ChunkPlan], voice: PreparedVoice, params: SynthesisParams, cancel: CancelToken | None
    ) -> Iterator[np.ndarray]:
        t0 = time.perf_counter()
        log.info(
            "synthesis started",
            extra=kv(seed=params.seed, chunks=len(plan), frames=[c.frames for c in plan], nfe=params.nfe_step),
        )
        stop = (lambda: cancel.cancelled) if cancel is not None else None
        fader = CrossFader(int(params.cross_fade_duration * SAMPLE_RATE))
        total = 0
        try:
            for chunk in plan:
                if cancel is not None and cancel.cancelled:
                    raise SynthesisCancelled("cancelled between chunks")
                (wave,) = self.renderer.render([ChunkWork(0, chunk, voice, params, stop)])
                piece = fader.push(wave)
                if len(piece):
                    total += len(piece)
                    yield piece
        except SynthesisCancelled as exc:
            raise SynthesisCancelled(cancel.reason if cancel is not None and cancel.reason else str(exc)) from None
        tail = fader.flush()
        total += len(tail)
        if len(tail):
            yield tail
        elapsed = time.perf_counter() - t0
        log.info(
            "synthesised",
            extra=kv(
                seed=params.seed,
                chunks=len(plan),
                nfe=params.nfe_step,
                seconds=round(total / SAMPLE_RATE, 3),
                wall=round(elapsed, 3),
                rtf=round(elapsed / max(total / SAMPLE_RATE, 1e-9), 4),
            ),
        )

    def synthesize_batch(self, jobs: Sequence[BatchJob]) -> list[np.ndarray | BaseException]:
        """Synthesise several requests together; each entry is that request's audio (equal to its own
        ``synthesize``) or the exception it alone raised. A failure of the batched render falls back to
        rendering every request on its own, so one bad request fails only itself."""
        results: list[np.ndarray | BaseException | None] = [None] * len(jobs)
        work: list[ChunkWork] = []
        fades: dict[int, float] = {}
        for i, (text, voice, params, cancel) in enumerate(jobs):
            try:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                prepared = self._prepared(voice, params)
                checked, plan = self.plan(text, prepared, params)
                stop = (lambda c=cancel: c.cancelled) if cancel is not None else None
                fades[i] = checked.cross_fade_duration
                work.extend(ChunkWork(i, c, prepared, checked, stop) for c in plan)
            except Exception as exc:
                results[i] = exc
        if work:
            try:
                self._join_batch(work, self.renderer.render(work), fades, results)
            except Exception as exc:
                log.warning(
                    "batched render failed; rendering requests one by one", extra=kv(error=type(exc).__name__)
                )
                for i in sorted({w.owner for w in work}):
                    mine = [w for w in work if w.owner == i]
                    try:
                        self._join_batch(mine, self.renderer.render(mine), fades, results)
                    except Exception as exc_i:
                        results[i] = exc_i
        for i, (_, _, _, cancel) in enumerate(jobs):  # cancelled while in the batch: report it as cancelled
            if cancel is not None and cancel.cancelled and not isinstance(results[i], BaseException):
                results[i] = SynthesisCancelled(cancel.reason or "cancelled")
            elif isinstance(results[i], SynthesisCancelled) and cancel is not None and cancel.reason:
                results[i] = SynthesisCancelled(cancel.reason)
        return [r if r is not None else RuntimeError("request produced no audio") for r in results]

    @staticmethod
    def _join_batch(
        work: Sequence[ChunkWork], waves: Sequence[np.ndarray], fades: dict[int, float], results: list[Any]
    ) -> None:
        per: dict[int, list[np.ndarray]] = {}
        for w, wave in zip(work, waves, strict=True):
            per.setdefault(w.owner, []).append(wave)
        for owner, ws in per.items():
            fader = CrossFader(int(fades[owner] * SAMPLE_RATE))
            pieces = [fader.push(x) for x in ws] + [fader.flush()]
            results[owner] = np.concatenate(pieces).astype(np.float32, copy=False)

    def warmup(self, voices: list[VoiceReference]) -> None:
        """Prepare every voice (mel cached); on CUDA, run one short synthesis to load kernels and let the
        renderer capture what it captures ahead of time; when compiled, compile now (batch 1 and > 1,
        one graph each serves every bucket) rather than in a listener's first request."""
        params = SynthesisParams()
        t0 = time.perf_counter()
        prepared = [self._prepared(v, params) for v in voices if v.audio is not None]
        compiled = self.renderer.compiled
        if prepared and (self.device.type == "cuda" or compiled):
            self.synthesize("Warm up.", prepared[0], SynthesisParams(nfe_step=2, seed=0))
        if self.device.type == "cuda":
            self.renderer.warmup(nfe_step=2)
        elif compiled:
            sizes = tuple(b for b in (1, 2) if b <= self.max_batch)
            self.renderer.warmup(nfe_step=2, batch_sizes=sizes, frames=self.options.buckets[:1])
        log.info(
            "f5 warm",
            extra=kv(voices=len(prepared), device=str(self.device), compiled=compiled,
                     seconds=round(time.perf_counter() - t0, 1)),
        )  # fmt: skip

    # ------------------------------------------------------------------ info

    @property
    def max_batch(self) -> int:
        """How many requests :meth:`synthesize_batch` renders together (1 for the eager renderer)."""
        return self.renderer.max_batch

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "model": self.model_name,
            "device": str(self.device),
            "dtype": str(self.dtype).removeprefix("torch."),
            "compile": self.resolved.compile,
            "quantize": self.resolved.quantize,
            "attention": self.resolved.attention,
            "decided": dict(self.resolved.why),
            "nfe_default": self.default_nfe,
            "sample_rate": SAMPLE_RATE,
            "hop_length": HOP_LENGTH,
            "voice_cache": dataclasses.asdict(self.voices.stats()),
            "render": self.renderer.info(),
            "max_batch": self.max_batch,
        }
