"""The danmaku service: chat sources -> gateway -> synthesis worker -> playback hub.

The server provides ``synthesize(text, voice_id) -> (audio, sample_rate)`` (its scheduler at danmaku
priority with the danmaku NFE) and ``encode_wav(audio, sample_rate) -> bytes``. When synthesis is refused
because the scheduler's queue is full (any exception carrying ``retry_after``, e.g. the scheduler's
``QueueFull``) the clip is retried after that delay: never dropped silently. Other synthesis errors are
logged and counted, and the worker goes on with the next message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from ishowtts.danmaku.gateway import Decision, Gateway, QueuedItem
from ishowtts.danmaku.irc import normalise_channel
from ishowtts.danmaku.message import ChatMessage
from ishowtts.danmaku.playback import Clip, PlaybackHub
from ishowtts.danmaku.settings import DanmakuSettings
from ishowtts.danmaku.twitch import TwitchIrcClient
from ishowtts.logging_setup import kv
from ishowtts.text.normalize import normalize

log = logging.getLogger(__name__)

SynthesizeFn = Callable[[str, "str | None"], Awaitable[tuple[np.ndarray, int]]]
EncodeFn = Callable[[np.ndarray, int], bytes]
SUPPORTED_PLATFORMS = ("twitch",)
_MAX_RETRY_S = 5.0


class DanmakuError(ValueError):
    """A bad start/stop/enqueue request (the routes answer 400 with this message)."""


class DanmakuService:
    def __init__(
        self,
        settings: DanmakuSettings,
        synthesize: SynthesizeFn,
        encode_wav: EncodeFn,
        *,
        voice_exists: Callable[[str], bool] | None = None,
        client_factory: Callable[..., TwitchIrcClient] = TwitchIrcClient,
    ) -> None:
        self.settings = settings
        self._synthesize = synthesize
        self._encode_wav = encode_wav
        self._voice_exists = voice_exists
        self._client_factory = client_factory
        self.gateway = Gateway(settings)
        self.hub = PlaybackHub(settings.playback_backlog)
        self.twitch: TwitchIrcClient | None = None
        self._channel_voice: dict[tuple[str, str], str | None] = {}
        self._worker: asyncio.Task[None] | None = None
        self.running = False
        self.synthesized = 0
        self.failed = 0
        self.retries = 0
        self.in_flight: dict[str, Any] | None = None
        self.last_error: str | None = None
        self.last_latency_s: float | None = None
        self.normalize_mapped = 0  # characters the model cannot read, mapped / dropped by the normalizer
        self.normalize_dropped = 0

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        if self.running:
            return
        self.running = True
        self._worker = asyncio.create_task(self._work(), name="danmaku-worker")
        if self.settings.enabled:
            for channel in self.settings.channels:
                try:
                    await self.start_channel("twitch", channel)
                except DanmakuError as exc:
                    log.error("danmaku auto-join failed", extra=kv(channel=channel, error=str(exc)))

    async def stop(self) -> None:
        self.running = False
        if self.twitch is not None:
            await self.twitch.stop()
            self.twitch = None
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        self.hub.close_all()

    # ---- sources ---------------------------------------------------------------------------
    async def start_channel(self, platform: str, channel: str, voice_id: str | None = None) -> dict[str, Any]:
        self._require_enabled()
        platform = (platform or "").strip().lower()
        if platform not in SUPPORTED_PLATFORMS:
            raise DanmakuError(
                f"platform: {platform!r} cannot be started here (supported: {', '.join(SUPPORTED_PLATFORMS)}); "
                "other platforms push messages to POST /api/danmaku/enqueue"
            )
        try:
            name = normalise_channel(channel)
        except ValueError as exc:
            raise DanmakuError(str(exc)) from None
        self._check_voice(voice_id)
        if self.twitch is None:
            self.twitch = self._client_factory(self.settings, self._on_chat)
        await self.twitch.join(name)
        await self.twitch.start()
        self._channel_voice[(platform, name)] = voice_id
        log.info("danmaku channel started", extra=kv(platform=platform, channel=name, voice=voice_id))
        return {"platform": platform, "channel": name, "voice_id": voice_id or self.settings.voice_id}

    async def stop_channel(
        self, platform: str | None = None, channel: str | None = None
    ) -> list[dict[str, str]]:
        """Stop one channel, or every channel when none is named."""
        stopped: list[dict[str, str]] = []
        if self.twitch is None:
            return stopped
        if channel:
            try:
                names = [normalise_channel(channel)]
            except ValueError as exc:
                raise DanmakuError(str(exc)) from None
        elif platform in (None, "", "twitch"):
            names = sorted(self.twitch.wanted)
        else:
            names = []
        for name in names:
            if name in self.twitch.wanted:
                await self.twitch.part(name)
                self._channel_voice.pop(("twitch", name), None)
                stopped.append({"platform": "twitch", "channel": name})
        if not self.twitch.wanted:
            await self.twitch.stop()
            self.twitch = None
        return stopped

    def _on_chat(self, msg: ChatMessage) -> None:
        self.enqueue(msg)

    def enqueue(self, msg: ChatMessage) -> Decision:
        """Run a message through the gateway (filters, priority, queue). Never blocks."""
        self._require_enabled()
        decision = self.gateway.submit(msg)
        if not decision.accepted:
            log.debug(
                "danmaku message filtered",
                extra=kv(reason=decision.reason, user=msg.username, channel=msg.channel),
            )
        return decision

    def _require_enabled(self) -> None:
        if not self.settings.enabled:
            raise DanmakuError("danmaku is disabled in the config ([danmaku] enabled = false)")

    def _check_voice(self, voice_id: str | None) -> None:
        if voice_id and self._voice_exists is not None and not self._voice_exists(voice_id):
            raise DanmakuError(f"voice_id: unknown voice {voice_id!r}")

    # ---- synthesis worker ------------------------------------------------------------------
    async def _work(self) -> None:
        while True:
            item = await self.gateway.get()
            try:
                await self._process(item)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the worker never dies
                self.failed += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("danmaku clip failed")
            finally:
                self.in_flight = None

    def voice_for(self, msg: ChatMessage) -> str | None:
        voice = msg.metadata.get("voice_id")
        if isinstance(voice, str) and voice:
            return voice
        return self._channel_voice.get((msg.platform, msg.channel)) or self.settings.voice_id

    async def _process(self, item: QueuedItem) -> None:
        msg = item.message
        spoken = normalize(self.gateway.render(item), self.settings.normalize)
        self.normalize_mapped += spoken.mapped
        self.normalize_dropped += spoken.dropped
        text = spoken.text
        if not text:  # only emoji or unreadable characters, under a template without the username
            log.info("danmaku line has nothing to speak once normalized", extra=kv(user=msg.username))
            return
        voice = self.voice_for(msg)
        self.in_flight = {"username": msg.display_name, "text": item.text, "voice_id": voice}
        while True:
            try:
                audio, sr = await self._synthesize(text, voice)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                retry_after = getattr(exc, "retry_after", None)
                if retry_after is None or not self.running:
                    self.failed += 1
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    log.error("danmaku synthesis failed", extra=kv(error=self.last_error, user=msg.username))
                    return
                self.retries += 1
                delay = min(_MAX_RETRY_S, max(0.05, float(retry_after)))
                log.info("danmaku synthesis refused (queue full); retrying", extra=kv(delay_s=delay))
                await asyncio.sleep(delay)
        audio = np.asarray(audio, dtype=np.float32)
        wav = (
            await asyncio.to_thread(self._encode_wav, audio, sr)
            if len(audio) > 240_000
            else self._encode_wav(audio, sr)
        )
        header: dict[str, object] = {
            "id": msg.id,
            "platform": msg.platform,
            "channel": msg.channel,
            "username": msg.display_name,
            "display_text": item.text,
            "spoken_text": text,
            "color": msg.color,
            "format": "audio/wav",
            "sample_rate": int(sr),
            "duration_s": round(len(audio) / float(sr), 3) if sr else 0.0,
            "priority": item.priority.name.lower(),
        }
        self.hub.publish(Clip(header, wav))
        self.synthesized += 1
        self.last_latency_s = round(time.monotonic() - item.accepted_at, 3)

    # ---- status ----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        g = self.gateway.stats()
        channels = [
            {
                "platform": p,
                "channel": c,
                "voice_id": v or self.settings.voice_id,
                "joined": bool(self.twitch and c in self.twitch.joined),
            }
            for (p, c), v in sorted(self._channel_voice.items())
        ]
        return {
            "enabled": self.settings.enabled,
            "running": self.running,
            "connected": bool(self.twitch and self.twitch.connected),
            "channels": channels,
            "sources": [self.twitch.status()] if self.twitch else [],
            "queue_depth": g["queue_depth"],
            "queue_capacity": g["queue_capacity"],
            "dropped": g["dropped"],
            "dropped_total": g["dropped_total"],
            "gateway": g,
            "synthesis": {
                "completed": self.synthesized,
                "failed": self.failed,
                "retries": self.retries,
                "in_flight": self.in_flight,
                "last_error": self.last_error,
                "last_latency_s": self.last_latency_s,
                "nfe": self.settings.nfe,
                "normalize_mapped": self.normalize_mapped,
                "normalize_dropped": self.normalize_dropped,
            },
            "playback": self.hub.stats(),
            "settings": self.settings.public_dict(),
        }
