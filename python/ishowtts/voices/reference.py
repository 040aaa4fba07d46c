"""``VoiceReference``: a stored voice as the engines receive it (raw reference audio and its transcript)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["VoiceReference"]


@dataclass(frozen=True)
class VoiceReference:
    id: str
    audio: np.ndarray | None  # float32 mono reference clip (None for engines that need none, e.g. espeak)
    sample_rate: int
    text: str  # transcript of ``audio``
    language: str = "en"
    version: str = ""  # changes whenever audio or text changes (cache keys use it)
