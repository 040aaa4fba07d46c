"""``F5Backend``: the :class:`~ishowtts.engine.backend.Backend` protocol on top of :class:`Engine`."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np

from ishowtts.engine.backend import (
    SAMPLE_RATE,
    CancelToken,
    SynthesisCancelled,
    SynthesisParams,
    VoiceReference,
)
from ishowtts.engine.engine import Engine, random_seed
from ishowtts.logging_setup import kv
from ishowtts.voices.prepare import PreparedVoice

__all__ = ["F5Backend"]

log = logging.getLogger(__name__)

_LABELS = {"F5TTS_v1_Base": "F5-TTS v1 Base", "F5TTS_Base": "F5-TTS Base"}


class F5Backend:
    """F5-TTS behind the shared engine interface.

    ``params.extra`` may hold ``first_chunk`` (bool, default True): a short first text chunk for
    time-to-first-audio. It applies to ``synthesize`` too, so streamed and whole outputs stay identical.
    """

    name = "f5"
    sample_rate = SAMPLE_RATE

    def __init__(self, engine: Engine, label: str | None = None) -> None:
        self.engine = engine
        self.label = label or _LABELS.get(engine.name, f"F5-TTS ({engine.name})")

    @classmethod
    def from_pretrained(cls, *args: Any, **kwargs: Any) -> F5Backend:
        return cls(Engine.from_pretrained(*args, **kwargs))

    def info(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, **self.engine.info()}

    @property
    def vocab_symbols(self) -> frozenset[str]:
        """The model vocab's single-character symbols: the text normalizer lets these pass as they are."""
        vocab = getattr(self.engine.model, "vocab", None)
        return frozenset(s for s in vocab.symbols if len(s) == 1) if vocab is not None else frozenset()

    def _voice(self, voice: VoiceReference, params: SynthesisParams) -> PreparedVoice:
        if voice.audio is None:
            raise ValueError(f"voice {voice.id!r} has no reference audio; the F5 engine needs one")
        return self.engine.prepare_voice(
            voice.audio, voice.text, voice.sample_rate, target_rms=params.target_rms
        )

    def _kwargs(self, params: SynthesisParams, cancel: CancelToken | None) -> dict[str, Any]:
        seed = params.seed if params.seed is not None else random_seed()
        return {
            "nfe": params.nfe,
            "cfg": params.cfg_strength,
            "sway": params.sway_sampling_coef,
            "speed": params.speed,
            "seed": seed,
            "fix_duration": params.fix_duration,
            "cross_fade": params.cross_fade_duration,
            "remove_silence": params.remove_silence,
            "first_chunk": bool(params.extra.get("first_chunk", True)),
            "should_stop": (lambda: cancel.cancelled) if cancel is not None else None,
        }

    def synthesize(
        self, text: str, voice: VoiceReference, params: SynthesisParams, cancel: CancelToken | None = None
    ) -> np.ndarray:
        if cancel is not None:
            cancel.raise_if_cancelled()
        prepared = self._voice(voice, params)
        kw = self._kwargs(params, cancel)
        log.debug("f5 synthesize", extra=kv(voice=voice.id, seed=kw["seed"], chars=len(text)))
        try:
            return self.engine.synthesize(text, prepared, **kw)
        except SynthesisCancelled as exc:
            raise SynthesisCancelled(
                cancel.reason if cancel is not None and cancel.reason else str(exc)
            ) from None

    def stream(
        self, text: str, voice: VoiceReference, params: SynthesisParams, cancel: CancelToken | None = None
    ) -> Iterator[np.ndarray]:
        if cancel is not None:
            cancel.raise_if_cancelled()
        prepared = self._voice(voice, params)
        kw = self._kwargs(params, cancel)
        log.debug("f5 stream", extra=kv(voice=voice.id, seed=kw["seed"], chars=len(text)))
        try:
            yield from self.engine.stream(text, prepared, **kw)
        except SynthesisCancelled as exc:
            raise SynthesisCancelled(
                cancel.reason if cancel is not None and cancel.reason else str(exc)
            ) from None

    def warmup(self, voices: list[VoiceReference]) -> None:
        """Prepare every voice (mel cached) and, on CUDA, run one short synthesis to load kernels."""
        params = SynthesisParams()
        prepared = [self._voice(v, params) for v in voices if v.audio is not None]
        if prepared and self.engine.device.type == "cuda":
            self.engine.synthesize("Warm up.", prepared[0], nfe=2, seed=0)
        log.info("f5 warm", extra=kv(voices=len(prepared), device=str(self.engine.device)))
