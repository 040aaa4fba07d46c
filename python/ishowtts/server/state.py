"""What the routes share: config, backend, voice store, scheduler, metrics, readiness. One per app,
stored on ``app.state.ishowtts`` and reached through the :func:`get_state` dependency."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from ishowtts import __version__
from ishowtts.config import Config
from ishowtts.engine.backend import Backend
from ishowtts.engine.scheduler import Scheduler
from ishowtts.server.metrics import Metrics
from ishowtts.text.normalize import DEFAULTS as NORMALIZE_DEFAULTS
from ishowtts.text.normalize import NormalizeOptions
from ishowtts.voices.reference import VoiceReference
from ishowtts.voices.store import VoiceStore

log = logging.getLogger(__name__)


@dataclass
class AppState:
    config: Config
    backend: Backend
    store: VoiceStore
    scheduler: Scheduler
    metrics: Metrics
    fallback_reason: str | None = None
    warmup: bool = False
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    warmup_error: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. the danmaku service
    resolved_voices: set[str] = field(default_factory=set)
    version: str = __version__
    normalize: NormalizeOptions = NORMALIZE_DEFAULTS  # the config's [normalize]; requests change it
    speakable_symbols: frozenset[str] | None = None  # the model's single-character vocab symbols, if any

    @property
    def sample_rate(self) -> int:
        return int(self.backend.sample_rate)

    async def voice(self, voice_id: str | None) -> tuple[str, VoiceReference]:
        """The active reference for ``voice_id`` (None -> the default voice); raises VoiceNotFound.

        The first lookup of a voice may read and decode its reference file, so it runs in a thread; later
        ones are in-memory (the store keeps decoded audio, also across override changes) and run inline.
        """
        vid = voice_id if voice_id else self.store.default_voice_id()
        if vid in self.resolved_voices:
            return vid, self.store.get(vid)
        ref = await asyncio.to_thread(self.store.get, vid)
        self.resolved_voices.add(vid)
        return vid, ref

    def engine_info(self) -> dict[str, Any]:
        try:
            info = dict(self.backend.info())
        except Exception as exc:  # health must answer even if the engine is unwell
            log.warning("backend.info() failed", exc_info=exc)
            info = {}
        return info


def get_state(request: Request) -> AppState:
    return request.app.state.ishowtts


StateDep = Annotated[AppState, Depends(get_state)]
