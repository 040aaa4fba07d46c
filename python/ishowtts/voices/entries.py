"""The voice store's public types: what a voice looks like to callers, and the errors a lookup or a
deletion raises (re-exported by :mod:`ishowtts.voices.store`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["VoiceEntry", "VoiceNotDeletable", "VoiceNotFound"]


class VoiceNotFound(KeyError):
    """Unknown voice id (or requested reference audio that does not exist)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "voice not found"


class VoiceNotDeletable(Exception):
    """The voice exists but cannot be deleted (it comes from the config, or it is the default voice)."""


@dataclass(frozen=True)
class VoiceEntry:
    id: str
    engine: str
    engine_label: str
    language: str
    reference_text: str  # the active transcript
    has_override: bool
    name: str = ""  # display name (= id for configured voices)
    created_at: str | None = None  # ISO-8601 for voices created through the API
    preload: bool = True
