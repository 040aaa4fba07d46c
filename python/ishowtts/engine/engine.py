"""The F5-TTS engine: (text, prepared voice) -> 24 kHz float32 audio.

One request is planned as text chunks (``text.chunking``), each with a frame count (``text.duration``)
and a seed derived from the request seed. Each chunk runs the CFM sampler on ``reference mel + chunk``
and the Vocos decoder on the generated frames; chunks are joined with a linear cross-fade.
:meth:`Engine.stream` yields the joined audio as it becomes final (each chunk's cross-fade tail is held
back until the next chunk arrives), and :meth:`Engine.synthesize` is exactly the concatenation of it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ishowtts.engine.backend import SAMPLE_RATE, SynthesisCancelled
from ishowtts.engine.fastpath.precision import precast_dtype
from ishowtts.logging_setup import kv
from ishowtts.text.chunking import chunk_text, first_chunk_budget, max_chunk_bytes, utf8_len
from ishowtts.text.duration import (
    HOP_LENGTH,
    allocate_fix_duration,
    estimate_frames,
    fixed_frames,
)
from ishowtts.text.frontend import text_to_symbols
from ishowtts.voices.cache import VoiceCache, content_key
from ishowtts.voices.prepare import TARGET_RMS, PreparedVoice, prepare_voice, remove_long_silences

__all__ = ["ChunkPlan", "CrossFader", "Engine", "chunk_seed", "resolve_dtype"]

log = logging.getLogger(__name__)

DEFAULT_NFE = 16
MAX_SEED = 2**63 - 1
_DTYPES = {
    "fp32": torch.float32,
    "float32": torch.float32,
    "fp16": torch.float16,
    "float16": torch.float16,
    "half": torch.float16,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
}


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """None -> fp16 on CUDA, fp32 elsewhere. fp16 is CUDA-only."""
    if dtype is None:
        return torch.float16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, str):
        try:
            dtype = _DTYPES[dtype.lower()]
        except KeyError:
            raise ValueError(f"unknown dtype {dtype!r}; use one of {sorted(_DTYPES)}") from None
    if dtype not in (torch.float32, torch.float16, torch.bfloat16):
        raise ValueError(f"dtype must be fp32, fp16 or bf16, got {dtype}")
    if dtype == torch.float16 and device.type != "cuda":
        raise ValueError("fp16 needs a CUDA device; use fp32 or bf16 on the CPU")
    return dtype


def chunk_seed(seed: int, index: int) -> int:
    """Seed of chunk ``index``: the request seed itself for the first chunk, a hash of both after."""
    if index == 0:
        return seed
    digest = hashlib.sha256(f"ishowtts-chunk:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def random_seed() -> int:
    return secrets.randbelow(2**31)


@dataclass(frozen=True)
class ChunkPlan:
    index: int
    text: str
    frames: int  # total frames including the reference
    seed: int


class CrossFader:
    """Joins waves with a linear cross-fade; emits only samples no later wave can change.

    The joined result is identical to cross-fading whole waves one after another (upstream's rule: the
    overlap is ``min(samples, len(joined so far), len(next))``; no overlap means plain concatenation).
    """

    def __init__(self, samples: int) -> None:
        if samples < 0:
            raise ValueError(f"cross-fade samples must be >= 0, got {samples}")
        self.samples = samples
        self._tail: np.ndarray | None = None
        self._emitted = 0

    def push(self, wave: np.ndarray) -> np.ndarray:
        wave = np.asarray(wave)
        if self._tail is None:
            joined = wave
        else:
            cf = min(len(self._tail), len(wave))
            if cf <= 0:
                joined = np.concatenate([self._tail, wave])
            else:
                fade_out = np.linspace(1.0, 0.0, cf)
                fade_in = np.linspace(0.0, 1.0, cf)
                overlap = self._tail[len(self._tail) - cf :] * fade_out + wave[:cf] * fade_in
                joined = np.concatenate([self._tail[: len(self._tail) - cf], overlap, wave[cf:]])
        hold = min(self.samples, self._emitted + len(joined))
        hold = min(hold, len(joined))
        out, self._tail = joined[: len(joined) - hold], joined[len(joined) - hold :]
        self._emitted += len(out)
        return out.astype(np.float32, copy=False)

    def flush(self) -> np.ndarray:
        tail = (
            np.zeros(0, dtype=np.float32) if self._tail is None else self._tail.astype(np.float32, copy=False)
        )
        self._emitted += len(tail)
        self._tail = None
        return tail


@dataclass(frozen=True)
class _Request:
    nfe: int
    cfg: float
    sway: float
    speed: float
    seed: int
    fix_duration: float | None
    cross_fade: float
    remove_silence: bool
    first_chunk: bool
    should_stop: Callable[[], bool] | None


class Engine:
    """F5-TTS synthesis on one device.

    Keeps no per-request state (the voice cache is thread-safe and the sampler draws noise from private
    generators), so concurrency is the scheduler's choice; one request at a time per device is fastest.
    """

    def __init__(
        self,
        model: Any,
        vocoder: Any,
        *,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        nfe: int = DEFAULT_NFE,
        name: str = "F5TTS_v1_Base",
        voice_cache_size: int = 64,
        first_chunk_seconds: float | None = 1.5,
    ) -> None:
        self.device = torch.device(device) if device is not None else _default_device()
        self.dtype = resolve_dtype(dtype, self.device)
        if nfe < 1:
            raise ValueError(f"nfe must be >= 1, got {nfe}")
        self.model = model.to(self.device).eval()
        self.vocoder = vocoder.to(self.device).eval()
        self.default_nfe = int(nfe)
        self.name = name
        self.first_chunk_seconds = first_chunk_seconds
        self.voices: VoiceCache[PreparedVoice] = VoiceCache(voice_cache_size)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_pretrained(
        cls,
        model: str = "F5TTS_v1_Base",
        ckpt: str | os.PathLike[str] | None = None,
        vocab: str | os.PathLike[str] | None = None,
        vocoder: str | os.PathLike[str] | None = None,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        *,
        config: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        allow_download: bool | None = None,
        **engine_kwargs: Any,
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
        return cls(f5, voc, device=device, dtype=dtype, name=w.model, **engine_kwargs)

    @classmethod
    def random(
        cls,
        config: str = "tiny",
        seed: int = 0,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        **engine_kwargs: Any,
    ) -> Engine:
        """An engine with random weights (benchmarks/tests), using the generated vocab of random_weights."""
        from ishowtts.engine.random_weights import random_models

        f5, voc = random_models(config, seed)
        return cls(f5, voc, device=device, dtype=dtype, name=f"random-{config}", **engine_kwargs)

    # ------------------------------------------------------------------ voices

    def prepare_voice(
        self,
        audio: str | os.PathLike[str] | np.ndarray,
        text: str,
        sample_rate: int | None = None,
        *,
        target_rms: float = TARGET_RMS,
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

    def _reference_mel(self, audio: np.ndarray) -> torch.Tensor:
        from ishowtts.model import log_mel_spectrogram

        wav = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None].to(self.device)
        with torch.inference_mode():
            mel = log_mel_spectrogram(wav)  # (1, 100, T)
        return mel.transpose(1, 2).contiguous()  # (1, T, 100)

    # ------------------------------------------------------------------ planning

    def plan(
        self,
        text: str,
        voice: PreparedVoice,
        *,
        speed: float = 1.0,
        seed: int = 0,
        fix_duration: float | None = None,
        cross_fade: float = 0.15,
        first_chunk: bool = True,
    ) -> list[ChunkPlan]:
        """Chunks with their frame counts and seeds (deterministic given the arguments)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be str, got {type(text).__name__}")
        budget = max_chunk_bytes(voice.text_bytes, voice.seconds, speed)
        first = None
        if first_chunk and self.first_chunk_seconds:
            first = first_chunk_budget(voice.text_bytes, voice.seconds, speed, self.first_chunk_seconds)
        chunks = chunk_text(text, budget, first_chunk_bytes=first)
        if not chunks:
            raise ValueError("text is empty: nothing to synthesise")
        if fix_duration is not None:
            secs = allocate_fix_duration(fix_duration, [utf8_len(c) for c in chunks], cross_fade)
            frames = [fixed_frames(voice.ref_frames, s) for s in secs]
        else:
            frames = [
                estimate_frames(voice.ref_frames, voice.model_text_bytes, utf8_len(c), speed) for c in chunks
            ]
        return [
            ChunkPlan(i, c, f, chunk_seed(seed, i))
            for i, (c, f) in enumerate(zip(chunks, frames, strict=True))
        ]

    # ------------------------------------------------------------------ synthesis

    def synthesize(
        self,
        text: str,
        voice: PreparedVoice,
        *,
        nfe: int | None = None,
        cfg: float = 2.0,
        sway: float = -1.0,
        speed: float = 1.0,
        seed: int | None = None,
        fix_duration: float | None = None,
        cross_fade: float = 0.15,
        remove_silence: bool = False,
        first_chunk: bool = True,
        should_stop: Callable[[], bool] | None = None,
    ) -> np.ndarray:
        """float32 mono audio at 24 kHz. Equals the concatenation of :meth:`stream` for the same arguments."""
        pieces = list(
            self.stream(
                text,
                voice,
                nfe=nfe,
                cfg=cfg,
                sway=sway,
                speed=speed,
                seed=seed,
                fix_duration=fix_duration,
                cross_fade=cross_fade,
                remove_silence=remove_silence,
                first_chunk=first_chunk,
                should_stop=should_stop,
            )
        )
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)

    def stream(
        self,
        text: str,
        voice: PreparedVoice,
        *,
        nfe: int | None = None,
        cfg: float = 2.0,
        sway: float = -1.0,
        speed: float = 1.0,
        seed: int | None = None,
        fix_duration: float | None = None,
        cross_fade: float = 0.15,
        remove_silence: bool = False,
        first_chunk: bool = True,
        should_stop: Callable[[], bool] | None = None,
    ) -> Iterator[np.ndarray]:
        """Yield float32 audio pieces as they become final (first one after the short first chunk).

        ``seed=None`` picks a random seed, logged as ``seed=`` (use :func:`random_seed` and pass it to
        know it in advance). ``first_chunk`` cuts a short first text chunk for time-to-first-audio;
        pass the same value to :meth:`synthesize` to get the same audio.
        """
        plan, req = self._prepare(
            text, voice, nfe, cfg, sway, speed, seed, fix_duration, cross_fade, remove_silence, first_chunk,
            should_stop,
        )  # fmt: skip
        return self._join(plan, voice, req)

    def render_chunks(
        self,
        text: str,
        voice: PreparedVoice,
        *,
        nfe: int | None = None,
        cfg: float = 2.0,
        sway: float = -1.0,
        speed: float = 1.0,
        seed: int | None = None,
        fix_duration: float | None = None,
        cross_fade: float = 0.15,
        remove_silence: bool = False,
        first_chunk: bool = True,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[np.ndarray]:
        """The per-chunk waves :meth:`stream` cross-fades, before joining (for inspection and tests)."""
        plan, req = self._prepare(
            text, voice, nfe, cfg, sway, speed, seed, fix_duration, cross_fade, remove_silence, first_chunk,
            should_stop,
        )  # fmt: skip
        return list(self._waves(plan, voice, req))

    def _prepare(
        self,
        text: str,
        voice: PreparedVoice,
        nfe: int | None,
        cfg: float,
        sway: float,
        speed: float,
        seed: int | None,
        fix_duration: float | None,
        cross_fade: float,
        remove_silence: bool,
        first_chunk: bool,
        should_stop: Callable[[], bool] | None,
    ) -> tuple[list[ChunkPlan], _Request]:
        req = self._request(
            nfe, cfg, sway, speed, seed, fix_duration, cross_fade, remove_silence, first_chunk
        )
        req = dataclasses.replace(req, should_stop=should_stop)
        plan = self.plan(
            text,
            voice,
            speed=req.speed,
            seed=req.seed,
            fix_duration=req.fix_duration,
            cross_fade=req.cross_fade,
            first_chunk=req.first_chunk,
        )
        return plan, req

    def _waves(self, plan: list[ChunkPlan], voice: PreparedVoice, req: _Request) -> Iterator[np.ndarray]:
        for chunk in plan:
            if req.should_stop is not None and req.should_stop():
                raise SynthesisCancelled("cancelled between chunks")
            yield self._render(chunk, voice, req)

    def _join(self, plan: list[ChunkPlan], voice: PreparedVoice, req: _Request) -> Iterator[np.ndarray]:
        t0 = time.perf_counter()
        log.info(
            "synthesis started",
            extra=kv(seed=req.seed, chunks=len(plan), frames=[c.frames for c in plan], nfe=req.nfe),
        )
        fader = CrossFader(int(req.cross_fade * SAMPLE_RATE))
        total = 0
        for wave in self._waves(plan, voice, req):
            piece = fader.push(wave)
            if len(piece):
                total += len(piece)
                yield piece
        tail = fader.flush()
        total += len(tail)
        if len(tail):
            yield tail
        elapsed = time.perf_counter() - t0
        log.info(
            "synthesised",
            extra=kv(
                seed=req.seed,
                chunks=len(plan),
                nfe=req.nfe,
                seconds=round(total / SAMPLE_RATE, 3),
                wall=round(elapsed, 3),
                rtf=round(elapsed / max(total / SAMPLE_RATE, 1e-9), 4),
            ),
        )

    def _request(
        self,
        nfe: int | None,
        cfg: float,
        sway: float,
        speed: float,
        seed: int | None,
        fix_duration: float | None,
        cross_fade: float,
        remove_silence: bool,
        first_chunk: bool,
    ) -> _Request:
        nfe = self.default_nfe if nfe is None else int(nfe)
        if nfe < 1:
            raise ValueError(f"nfe must be >= 1, got {nfe}")
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        if cross_fade < 0:
            raise ValueError(f"cross_fade must be >= 0, got {cross_fade}")
        if fix_duration is not None and fix_duration <= 0:
            raise ValueError(f"fix_duration must be > 0 seconds, got {fix_duration}")
        if seed is None:
            seed = random_seed()
        elif not isinstance(seed, int | np.integer) or not 0 <= int(seed) <= MAX_SEED:
            raise ValueError(f"seed must be an int in [0, 2**63), got {seed!r}")
        return _Request(
            nfe, float(cfg), float(sway), float(speed), int(seed), fix_duration, float(cross_fade),
            bool(remove_silence), bool(first_chunk), None,
        )  # fmt: skip

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        precast = precast_dtype(self.model.transformer)
        if precast is not None and precast != self.dtype:
            raise RuntimeError(
                f"this engine computes in {self.dtype} but its model's block Linears are stored in "
                f"{precast} (precast by a fast-path engine sharing the model); give each dtype its own model"
            )
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def _render(self, chunk: ChunkPlan, voice: PreparedVoice, req: _Request) -> np.ndarray:
        if voice.mel is None:
            raise ValueError("voice has no mel: prepare it with Engine.prepare_voice")
        cond = voice.mel.to(self.device)
        symbols = text_to_symbols(voice.model_text + chunk.text)
        from ishowtts.model.cfm import SamplingCancelled

        with torch.inference_mode(), self._autocast():
            try:
                mel = self.model.sample(
                    cond,
                    [symbols],
                    chunk.frames,
                    nfe_step=req.nfe,
                    cfg_strength=req.cfg,
                    sway_sampling_coef=req.sway,
                    seed=chunk.seed,
                    should_stop=req.should_stop,
                )
            except SamplingCancelled as exc:
                raise SynthesisCancelled(str(exc)) from None
            generated = mel[:, voice.ref_frames :, :].transpose(1, 2)  # (1, 100, T), autocast dtype
            wave = self.vocoder.decode(generated)
        out = wave[0].float().cpu().numpy()
        if voice.rms_factor != 1.0:
            out = out * np.float32(voice.rms_factor)
        if req.remove_silence:
            out = remove_long_silences(out, SAMPLE_RATE)
        return out.astype(np.float32, copy=False)

    # ------------------------------------------------------------------ info

    def info(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "device": str(self.device),
            "dtype": str(self.dtype).removeprefix("torch."),
            "nfe_default": self.default_nfe,
            "sample_rate": SAMPLE_RATE,
            "hop_length": HOP_LENGTH,
            "voice_cache": dataclasses.asdict(self.voices.stats()),
        }


def _default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
