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
from pathlib import Path
from typing import Any

import numpy as np

from ishowtts.danmaku import commands, filters
from ishowtts.danmaku.gateway import Decision, Gateway, QueuedItem
from ishowtts.danmaku.irc import normalise_channel
from ishowtts.danmaku.message import ChatEvent, ChatMessage
from ishowtts.danmaku.moderation import Moderation
from ishowtts.danmaku.playback import Clip, PlaybackHub
from ishowtts.danmaku.settings import EDITABLE, DanmakuSettings
from ishowtts.danmaku.store import StateStore
from ishowtts.danmaku.twitch import TwitchIrcClient
from ishowtts.danmaku.user_voices import VoiceBook, pool_choice
from ishowtts.logging_setup import kv
from ishowtts.text.normalize import normalize
from ishowtts.validators import ConfigError

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
        state_path: Path | None = None,
    ) -> None:
        self.store = StateStore(state_path)  # sticky voices, bans, page settings (survive a restart)
        self.settings = self._with_saved_overrides(settings)
        self._synthesize = synthesize
        self._encode_wav = encode_wav
        self._voice_exists = voice_exists
        self._client_factory = client_factory
        self.gateway = Gateway(self.settings)
        self.hub = PlaybackHub(self.settings.playback_backlog)
        self._current: QueuedItem | None = None
        self.moderation = Moderation(self.gateway, self.hub, self.store, lambda: self._current)
        self.voices = VoiceBook(self.store)
        self.commands: dict[str, int] = {}  # chat commands run / ignored (not a moderator)
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
        self.moderation.clear_problem()
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
            self.twitch = self._client_factory(self.settings, self._on_chat, on_event=self._on_event)
        await self.twitch.join(name)
        await self.twitch.start()
        self._channel_voice[(platform, name)] = voice_id
        log.info("danmaku channel started", extra=kv(platform=platform, channel=name, voice=voice_id))
        return {"platform": platform, "channel": name, "voice_id": voice_id or self.settings.voice_id}

    async def stop_channel(
        self, platform: str | None = None, channel: str | None = None
    ) -> list[dict[str, str]]:
        """Stop one channel, or every channel when none is named. Stopping the chat source clears its problem
        (``last_error``, the players' banner); so does stopping the channel a problem was about."""
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
            self.moderation.clear_problem()
        return stopped

    def _on_chat(self, msg: ChatMessage) -> None:
        self.enqueue(msg)

    def _on_event(self, ev: ChatEvent) -> None:
        self.moderation.on_event(ev)

    def enqueue(self, msg: ChatMessage) -> Decision:
        """Run a message through the commands, then the gateway (filters, priority, queue). Never blocks."""
        self._require_enabled()
        cmd = commands.parse(filters.normalise(msg.text), self.settings.command_prefix)
        if cmd is not None:
            self._run_command(msg, cmd)
            self.gateway.received += 1
            return self.gateway._reject("command")
        decision = self.gateway.submit(msg)
        if not decision.accepted:
            log.debug(
                "danmaku message filtered",
                extra=kv(reason=decision.reason, user=msg.username, channel=msg.channel),
            )
        else:
            self.moderation.sync_state()
        return decision

    def _run_command(self, msg: ChatMessage, cmd: commands.Command) -> None:
        if cmd.moderator_only and not commands.is_privileged(msg):
            self.commands["ignored"] = self.commands.get("ignored", 0) + 1
            log.info("danmaku command ignored: not a moderator", extra=kv(user=msg.username, cmd=cmd.action))
            return
        self.commands[cmd.action] = self.commands.get(cmd.action, 0) + 1
        log.info("danmaku chat command", extra=kv(user=msg.username, cmd=cmd.action, arg=cmd.arg))
        if cmd.action == "voice":
            self._viewer_voice(msg.username, cmd.arg)
        elif cmd.action == "cancel":
            self.moderation.cancel_user(msg.username)
        elif cmd.action in ("ban", "unban") and not cmd.arg:
            return
        else:
            self.control(cmd.action, cmd.arg)

    def _viewer_voice(self, login: str, name: str | None) -> None:
        allowed = {v.casefold(): v for v in self.settings.allowed_voices}
        if not allowed or not name:
            return
        if name.casefold() in ("reset", "default", "off"):
            self.voices.remove(login)
        elif name.casefold() in allowed:
            self.voices.assign(login, allowed[name.casefold()])

    def control(self, action: str, user: str | None = None) -> dict[str, Any]:
        """skip | pause | resume | clear | ban | unban (the API and moderators' chat commands)."""
        try:
            return self.moderation.control(action, user)
        except ValueError as exc:
            raise DanmakuError(str(exc)) from None

    # ---- settings and voices (the page) ----------------------------------------------------
    def _with_saved_overrides(self, settings: DanmakuSettings) -> DanmakuSettings:
        saved = self.store.data["settings"]
        try:
            return settings.replace(**{k: v for k, v in saved.items() if k in EDITABLE})
        except (ConfigError, TypeError) as exc:
            log.error("danmaku saved settings ignored", extra=kv(error=str(exc)))
            return settings

    def update_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        bad = sorted(set(changes) - set(EDITABLE))
        if bad:
            raise DanmakuError(f"{bad[0]}: not a setting the page can change (editable: {', '.join(EDITABLE)})")
        try:
            new = self.settings.replace(**changes)
        except ConfigError as exc:
            raise DanmakuError(str(exc)) from None
        self.settings = new
        self.gateway.settings = new
        values = new.editable_dict()
        self.store.data["settings"] = {**self.store.data["settings"], **{k: values[k] for k in changes}}
        self.store.save()
        return new.editable_dict()

    def assign_voice(self, login: str, voice: str) -> None:
        self._check_voice(voice)
        self.voices.assign(login.strip().lower(), voice)

    def voices_info(self) -> dict[str, Any]:
        return {
            "assignments": self.voices.assignments,
            "pool": list(self.settings.voice_pool),
            "default": self.settings.voice_id,
            "allowed": list(self.settings.allowed_voices),
        }

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
            self._current = item
            self.moderation.sync_state()
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
                self._current = None

    def voice_for(self, msg: ChatMessage) -> str | None:
        """Per-message voice > the viewer's sticky voice > the pool > the channel's > ``voice_id``."""
        voice = msg.metadata.get("voice_id")
        if isinstance(voice, str) and voice:
            return voice
        return (
            self.voices.get(msg.username)
            or pool_choice(msg.username, self.settings.voice_pool)
            or self._channel_voice.get((msg.platform, msg.channel))
            or self.settings.voice_id
        )

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
        if item.cancelled:  # removed by a moderator while it was synthesised: never published
            self.moderation.discarded += 1
            log.info("danmaku line discarded after synthesis", extra=kv(user=msg.username, id=msg.id))
            return
        audio = np.asarray(audio, dtype=np.float32)
        wav = (
            await asyncio.to_thread(self._encode_wav, audio, sr)
            if len(audio) > 240_000
            else self._encode_wav(audio, sr)
        )
        if item.cancelled:
            self.moderation.discarded += 1
            return
        msg_id = msg.metadata.get("msg_id")
        header: dict[str, object] = {
            "id": msg.id,
            "msg_id": msg_id if isinstance(msg_id, str) else None,
            "user": msg.username.lower(),
            "voice": voice,
            "kind": item.kind,
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
        self.moderation.published(msg.id, header["msg_id"], msg.username)  # type: ignore[arg-type]
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
            "paused": self.gateway.paused,
            "queued": g["queue_depth"],
            "last_error": self.moderation.problem,
            "triggers": list(self.settings.triggers),
            "banned": self.moderation.banned,
            "commands": dict(sorted(self.commands.items())),
            "moderation": {"removed": self.moderation.removed, "discarded": self.moderation.discarded},
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
