"""Live control of the read-aloud: moderators' chat commands, the control API and Twitch's own moderation
(``CLEARMSG`` / ``CLEARCHAT``), acting within one audio chunk:

- lines still queued (not yet synthesised) are taken out of the gateway's queue;
- a line being synthesised is marked cancelled, and its audio is discarded when synthesis returns
  (never published);
- clips already published get a control event (``remove`` for one clip, ``skip``, ``clear``), and the
  hub drops them from its own buffers.

The recently published clips are remembered (id, Twitch message id, user) so ``CLEARMSG`` and ``CLEARCHAT``
can reach a clip that is playing now.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable

from ishowtts.danmaku.gateway import Gateway, QueuedItem
from ishowtts.danmaku.message import ChatEvent
from ishowtts.danmaku.playback import PlaybackHub
from ishowtts.danmaku.store import StateStore
from ishowtts.logging_setup import kv

log = logging.getLogger(__name__)

_RECENT = 256  # published clips remembered for CLEARMSG / CLEARCHAT


class Moderation:
    def __init__(
        self,
        gateway: Gateway,
        hub: PlaybackHub,
        store: StateStore,
        in_flight: Callable[[], QueuedItem | None],
    ) -> None:
        self.gateway = gateway
        self.hub = hub
        self.store = store
        self._in_flight = in_flight
        self._recent: OrderedDict[str, tuple[str | None, str]] = OrderedDict()  # clip id -> (msg id, login)
        self.problem: dict[str, str] | None = None  # {code, message}: the chat source's last problem
        self.removed = 0  # queued lines removed by moderation
        self.discarded = 0  # syntheses discarded when they finished
        gateway.banned_users.update(store.data["banned"])

    # ---- bookkeeping -------------------------------------------------------------------------
    def published(self, clip_id: str, msg_id: str | None, login: str) -> None:
        self._recent[clip_id] = (msg_id, login.casefold())
        while len(self._recent) > _RECENT:
            self._recent.popitem(last=False)

    def sync_state(self) -> None:
        self.hub.set_state(paused=self.gateway.paused, queued=len(self.gateway))

    def _take(self, pred: Callable[[QueuedItem], bool], why: str) -> int:
        removed = self.gateway.remove_where(pred)
        current = self._in_flight()
        if current is not None and not current.cancelled and pred(current):
            current.cancelled = True
            removed.append(current)
        self.removed += len(removed)
        if removed:
            log.info("danmaku lines removed", extra=kv(why=why, lines=len(removed)))
        self.sync_state()
        return len(removed)

    def on_event(self, ev: ChatEvent) -> None:
        """Twitch moderation (``CLEARMSG``, ``CLEARCHAT``) and connection problems from the chat client."""
        if ev.kind == "clearmsg" and ev.target_id:
            self.remove_message(ev.target_id)
        elif ev.kind == "clearchat":
            if ev.user:
                self.drop_user(ev.user)
            else:
                self.clear()
        elif ev.kind == "problem" and ev.code and ev.message:
            self.problem = {"code": ev.code, "message": ev.message}
            log.error("danmaku source problem", extra=kv(code=ev.code, reason=ev.message, error=ev.detail))
            self.hub.set_error(ev.code, ev.message)
        elif ev.kind == "problem_clear":
            self.clear_problem()

    def clear_problem(self) -> None:
        """The chat source is well again, or stopped: forget its problem (``status.last_error``) and take the
        players' banner down (``error_clear``). The same problem later is announced afresh."""
        if self.problem is not None:
            log.info("danmaku source problem cleared", extra=kv(code=self.problem["code"]))
        self.problem = None
        self.hub.clear_error()

    def control(self, action: str, user: str | None = None) -> dict[str, object]:
        """One action of ``POST /api/danmaku/control`` (ValueError for a bad one)."""
        if action in ("ban", "unban"):
            login = (user or "").strip().lstrip("@").lower()
            if not login:
                raise ValueError(f"user: required for {action}")
            if action == "ban":
                return {"action": action, "user": login, "removed": self.ban(login)}
            return {"action": action, "user": login, "was_banned": self.unban(login)}
        if action == "clear":
            return {"action": action, "removed": self.clear()}
        simple = {"skip": self.skip, "pause": self.pause, "resume": self.resume}
        if action not in simple:
            raise ValueError(f"action: unknown {action!r} (skip, pause, resume, clear, ban, unban)")
        simple[action]()
        return {"action": action}

    # ---- actions -----------------------------------------------------------------------------
    def skip(self) -> None:
        self.hub.skip()

    def pause(self) -> None:
        self.gateway.set_paused(True)
        self.sync_state()

    def resume(self) -> None:
        self.gateway.set_paused(False)
        self.sync_state()

    def clear(self) -> int:
        n = self._take(lambda it: True, "clear")
        self.hub.clear()
        return n

    def cancel_user(self, login: str) -> int:
        """A viewer's own ``!tts cancel``: their queued lines (and the one being synthesised)."""
        key = login.casefold()
        return self._take(lambda it: it.message.username.casefold() == key, "cancel")

    def drop_user(self, login: str) -> int:
        """A timeout/ban (``CLEARCHAT`` with a user, ``!tts ban``): queued lines and published clips."""
        key = login.casefold()
        n = self._take(lambda it: it.message.username.casefold() == key, "user")
        for clip_id, (_, user) in list(self._recent.items()):
            if user == key:
                self._recent.pop(clip_id, None)
                self.hub.remove(clip_id)
        return n

    def remove_message(self, msg_id: str) -> bool:
        """A deleted message (``CLEARMSG``): out of the queue, discarded in flight, or stopped if playing."""
        n = self._take(lambda it: it.message.id == msg_id, "deleted")
        hit = n > 0
        for clip_id, (mid, _) in list(self._recent.items()):
            if mid == msg_id or clip_id == msg_id:
                self._recent.pop(clip_id, None)
                self.hub.remove(clip_id)
                hit = True
        return hit

    def ban(self, login: str) -> int:
        key = login.casefold().lstrip("@")
        self.gateway.banned_users.add(key)
        self.store.data["banned"] = sorted(self.gateway.banned_users)
        self.store.save()
        log.info("danmaku user banned", extra=kv(user=key))
        return self.drop_user(key)

    def unban(self, login: str) -> bool:
        key = login.casefold().lstrip("@")
        found = key in self.gateway.banned_users
        self.gateway.banned_users.discard(key)
        self.store.data["banned"] = sorted(self.gateway.banned_users)
        self.store.save()
        return found

    @property
    def banned(self) -> list[str]:
        return sorted(self.gateway.banned_users)
