"""The one interface every synthesis engine implements (``f5`` and ``espeak``), used by the scheduler/server.

Engines take a :class:`VoiceReference` (raw reference audio + transcript, as the server stores it) and
:class:`SynthesisParams`, and return float32 mono audio at ``sample_rate`` (24 kHz for both engines).
Engines cache whatever they derive from a voice (the F5 engine keys its cache by a content hash of audio
and text), so passing the same reference again is cheap.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ishowtts import defaults
from ishowtts.voices.reference import VoiceReference

__all__ = ["SAMPLE_RATE", "Backend", "CancelToken", "SynthesisCancelled", "SynthesisParams", "VoiceReference"]

SAMPLE_RATE = 24_000


class SynthesisCancelled(Exception):
    """Raised inside an engine when the request's cancel token is set (client went away, timeout)."""


class CancelToken:
    """Set by the scheduler; checked by engines between chunks and between sampler steps (no GPU sync)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def cancel(self, reason: str = "cancelled") -> None:
        self.reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise SynthesisCancelled(self.reason)


@dataclass(frozen=True)
class SynthesisParams:
    """One request's synthesis settings: the same names from the HTTP schema to the sampler."""

    nfe_step: int | None = None  # None -> the engine's configured default ([engine] nfe)
    cfg_strength: float = defaults.CFG_STRENGTH
    sway_sampling_coef: float = defaults.SWAY_SAMPLING_COEF
    speed: float = defaults.SPEED
    seed: int | None = None  # None -> a random seed, logged
    cross_fade_duration: float = defaults.CROSS_FADE_DURATION
    target_rms: float = defaults.TARGET_RMS
    fix_duration: float | None = None  # seconds of generated audio (reference excluded) when set
    remove_silence: bool = False
    first_chunk: bool = defaults.FIRST_CHUNK  # a short first text chunk (also for whole outputs)


@runtime_checkable
class Backend(Protocol):
    name: str  # "f5" | "espeak"
    label: str  # human-readable, e.g. "F5-TTS v1 Base" / "espeak-ng (fallback)"
    sample_rate: int

    def info(self) -> dict[str, Any]:
        """model, device, dtype and anything else /api/health should show."""
        ...

    def synthesize(
        self, text: str, voice: VoiceReference, params: SynthesisParams, cancel: CancelToken | None = None
    ) -> np.ndarray: ...

    def stream(
        self, text: str, voice: VoiceReference, params: SynthesisParams, cancel: CancelToken | None = None
    ) -> Iterator[np.ndarray]:
        """Yield audio chunk by chunk; the concatenation equals ``synthesize`` for the same seed."""
        ...

    def warmup(self, voices: list[VoiceReference]) -> None: ...
