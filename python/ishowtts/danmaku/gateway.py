"""The danmaku gateway: filters, priority, a bounded queue and a rate limit in front of synthesis.

Every message passes these steps in this fixed order; the first that rejects it names the reason
(returned to ``POST /api/danmaku/enqueue`` in ``X-Danmaku-Filtered`` and counted in ``status()``):

 1. ``system``         drop system messages (``metadata.system`` true: subs, raids, notices)
 2. ``duplicate_id``   drop a message id already seen (reconnects, retried pushes)
 3. ``blocked_user``   drop users in ``blocked_users``                          [filter ``users``]
    ``banned_user``    drop users banned with ``!tts ban`` / the control API (always)
 4. emotes             Twitch emotes removed by the ``emotes`` tag's code-point positions, except names in
                       ``emote_words``; ``emote_only`` when nothing else is left   [filter ``emotes``]
 5. ``trigger``        no configured trigger matches (``triggers.py``); ``!tts <text>`` -> ``<text>``
 6. cheermotes         ``Cheer100`` and the like removed from a message with bits
 7. normalise          ``/me`` unwrapped, control chars/newlines -> spaces, zero-width chars removed,
                       whitespace collapsed, trimmed; ``empty`` when nothing is left
 8. ``command``        drop other ``!commands``                                 [filter ``commands``]
 9. ``link``           a link becomes ``link_word``, or the message is dropped (``link_action = "drop"``);
                       ``allow_links`` keeps links as they are                  [filter ``links``]
10. ``banned_keyword`` banned words (word boundaries, Unicode case folding): drop, or masked with
                       ``banned_mask`` (``banned_action = "mask"``)             [filter ``keywords``]
11. ``symbols``        character runs collapse to 3, a repeated word to 2; a line whose share of symbols
                       is above ``max_symbol_ratio`` is dropped                 [filter ``spam``]
12. truncate           to ``max_words`` words, then to ``max_chars`` characters (code points, never
                       bytes: CJK safe)
13. ``cooldown``       drop a user's message within ``cooldown_s`` of their last accepted one;
                       paid and moderator messages are exempt                   [filter ``cooldown``]
14. ``user_rate`` / ``user_queue``  more than ``user_messages_per_minute`` accepted in 60 s, or
                       ``user_max_queued`` lines already waiting; paid/moderator exempt [filter ``limits``]
15. ``duplicate``      drop the same text (case/space-insensitive) in the same channel within
                       ``dedupe_window_s`` of its last acceptance               [filter ``dedupe``]

Accepted messages get a priority (explicit, else from metadata: bits/paid > moderator/broadcaster >
mention of the channel or ``mention_names`` > normal) and enter a bounded queue (``queue_capacity``).
When it is full the oldest message of the lowest priority class goes first (normal before mention before
moderator before paid); an incoming message that is itself of a lower class than everything queued is the
one dropped. Every drop is counted per priority. ``get()`` hands items out highest priority first, FIFO
within a class, at most ``rate_limit`` per second; ``render()`` applies the template.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ishowtts.danmaku import filters, spoken, triggers
from ishowtts.danmaku.limits import UserLimits
from ishowtts.danmaku.message import ChatMessage, MessagePriority
from ishowtts.danmaku.settings import DanmakuSettings
from ishowtts.logging_setup import kv

log = logging.getLogger(__name__)

_SEEN_IDS = 4096  # message ids remembered for duplicate_id


@dataclass
class QueuedItem:
    message: ChatMessage
    text: str  # filtered text (display_text)
    priority: MessagePriority
    accepted_at: float
    seq: int = 0
    kind: str = "chat"  # chat | bits | reward | command | manual
    cancelled: bool = False  # removed by a moderator while in flight: never published


@dataclass
class Decision:
    accepted: bool
    reason: str | None = None
    item: QueuedItem | None = None
    dropped: list[QueuedItem] = field(default_factory=list)  # evicted to make room (or the item itself)


class Gateway:
    def __init__(self, settings: DanmakuSettings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._banned_words = spoken.BannedWords(settings.banned_keywords)
        self.banned_users: set[str] = set()  # case-folded logins (``!tts ban``), kept by the service
        self.limits = UserLimits()
        self.paused = False
        self._last_speaker: tuple[str, str] | None = None
        self._clock = clock
        self._queues: dict[MessagePriority, deque[QueuedItem]] = {p: deque() for p in MessagePriority}
        self._size = 0
        self._seq = 0
        self._seen_ids: OrderedDict[str, None] = OrderedDict()
        self._last_by_user: dict[tuple[str, str], float] = {}
        self._last_by_text: dict[tuple[str, str], float] = {}
        self._available: asyncio.Event | None = None
        self._tokens = 1.0
        self._token_time = clock()
        self.received = 0
        self.accepted = 0
        self.filtered: dict[str, int] = {}
        self.dropped: dict[str, int] = {p.name.lower(): 0 for p in MessagePriority}
        self.dispatched = 0

    @property
    def settings(self) -> DanmakuSettings:
        return self._settings

    @settings.setter
    def settings(self, value: DanmakuSettings) -> None:
        self._settings = value
        self._banned_words = spoken.BannedWords(value.banned_keywords)

    # ---- ingestion -------------------------------------------------------------------------
    def submit(self, msg: ChatMessage) -> Decision:
        """Filter ``msg`` and queue it; never blocks. Must be called from one thread (the event loop)."""
        self.received += 1
        reason, text, kind = self._filter(msg)
        if reason is not None:
            self.filtered[reason] = self.filtered.get(reason, 0) + 1
            return Decision(False, reason)
        now = self._clock()
        prio = msg.priority if msg.priority is not None else self.classify(msg)
        s = self.settings
        if "cooldown" in s.filters and s.cooldown_s > 0:
            if prio > MessagePriority.MODERATOR:
                last = self._last_by_user.get(msg.user_key)
                if last is not None and now - last < s.cooldown_s:
                    return self._reject("cooldown")
        if "limits" in s.filters and prio > MessagePriority.MODERATOR:
            why = self.limits.check(msg.user_key, now, s.user_messages_per_minute, s.user_max_queued)
            if why is not None:
                return self._reject(why)
        key = (msg.channel.casefold(), filters.dedupe_key(text))
        if "dedupe" in self.settings.filters and self.settings.dedupe_window_s > 0:
            last = self._last_by_text.get(key)
            if last is not None and now - last < self.settings.dedupe_window_s:
                return self._reject("duplicate")
        self._remember_id(msg.id)
        if prio > MessagePriority.MODERATOR:  # exempt messages neither wait for nor restart a cooldown
            self._last_by_user[msg.user_key] = now
        self._last_by_text[key] = now
        self._prune(now)
        self._seq += 1
        item = QueuedItem(msg, text, prio, now, self._seq, kind)
        dropped = self._make_room(item)
        if dropped and dropped[0] is item:
            return Decision(False, "queue_full", None, dropped)
        self._queues[prio].append(item)
        self._size += 1
        self.limits.accepted(msg.user_key, now)
        self.accepted += 1
        if self._available is not None:
            self._available.set()
        return Decision(True, None, item, dropped)

    def _reject(self, reason: str) -> Decision:
        self.filtered[reason] = self.filtered.get(reason, 0) + 1
        return Decision(False, reason)

    def _filter(self, msg: ChatMessage) -> tuple[str | None, str, str]:
        """(reason or None, the text to speak, the kind of line)."""
        s = self.settings
        if msg.metadata.get("system"):
            return "system", "", ""
        if msg.id in self._seen_ids:
            return "duplicate_id", "", ""
        names = {msg.username.casefold(), msg.display_name.casefold()}
        if "users" in s.filters and s.blocked_users:
            if any(u.casefold() in names for u in s.blocked_users):
                return "blocked_user", "", ""
        if self.banned_users and names & self.banned_users:
            return "banned_user", "", ""
        raw = spoken.unwrap_action(msg.text)
        removed = 0
        spans = msg.metadata.get("emotes")
        if "emotes" in s.filters and isinstance(spans, list) and spans:
            raw, removed = spoken.strip_emotes(raw, _spans(spans), s.emote_words)
        kind, raw = triggers.match(msg, s, raw)
        if kind is None:
            return "trigger", "", ""
        if msg.metadata.get("manual"):
            kind = "manual"
        if triggers.bits_of(msg):
            raw = spoken.strip_cheermotes(raw)
        text = filters.normalise(raw)
        if not text:
            return ("emote_only" if removed else "empty"), "", ""
        if "commands" in s.filters and kind != "command" and filters.is_command(text):
            return "command", "", ""
        if "links" in s.filters and not s.allow_links and spoken.has_link(text):
            if s.link_action == "drop":
                return "link", "", ""
            text = spoken.replace_links(text, s.link_word)
        if "keywords" in s.filters and self._banned_words:
            if s.banned_action == "drop":
                if self._banned_words.search(text) is not None:
                    return "banned_keyword", "", ""
            else:
                text, _ = self._banned_words.mask(text, s.banned_mask)
        if "spam" in s.filters:
            text = spoken.collapse_spam(text)
            if spoken.symbol_ratio(text) > s.max_symbol_ratio:
                return "symbols", "", ""
        text = filters.truncate_chars(filters.truncate_words(text, s.max_words), s.max_chars)
        if not text:
            return "empty", "", ""
        return None, text, kind

    def classify(self, msg: ChatMessage) -> MessagePriority:
        md = msg.metadata
        bits = md.get("bits")
        if md.get("paid") or (isinstance(bits, int) and not isinstance(bits, bool) and bits > 0):
            return MessagePriority.PAID
        badges = md.get("badges") or {}
        if md.get("moderator") or md.get("broadcaster") or "moderator" in badges or "broadcaster" in badges:
            return MessagePriority.MODERATOR
        folded = msg.text.casefold()
        names = [msg.channel, *self.settings.mention_names]
        if any(n and f"@{n.casefold().lstrip('#')}" in folded for n in names):
            return MessagePriority.MENTION
        return MessagePriority.NORMAL

    def _remember_id(self, msg_id: str) -> None:
        self._seen_ids[msg_id] = None
        if len(self._seen_ids) > _SEEN_IDS:
            self._seen_ids.popitem(last=False)

    def _prune(self, now: float) -> None:
        """Forget cooldown/dedupe entries that can no longer match (bounded memory)."""
        if len(self._last_by_user) > 4 * _SEEN_IDS:
            cut = now - self.settings.cooldown_s
            self._last_by_user = {k: t for k, t in self._last_by_user.items() if t >= cut}
        if len(self._last_by_text) > 4 * _SEEN_IDS:
            cut = now - self.settings.dedupe_window_s
            self._last_by_text = {k: t for k, t in self._last_by_text.items() if t >= cut}

    def _make_room(self, incoming: QueuedItem) -> list[QueuedItem]:
        if self._size < self.settings.queue_capacity:
            return []
        lowest = max((p for p, q in self._queues.items() if q), default=None)
        if lowest is None or incoming.priority > lowest:
            victim = incoming
        else:
            victim = self._queues[lowest].popleft()
            self._size -= 1
            self.limits.left_queue(victim.message.user_key)
        self.dropped[victim.priority.name.lower()] += 1
        log.warning(
            "danmaku queue full: dropped message",
            extra=kv(
                priority=victim.priority.name.lower(),
                user=victim.message.username,
                channel=victim.message.channel,
                incoming=victim is incoming,
            ),
        )
        return [victim]

    # ---- dispatch --------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._size

    def pop_nowait(self) -> QueuedItem | None:
        """The next item (highest priority, oldest first), ignoring the rate limit."""
        for p in MessagePriority:
            q = self._queues[p]
            if q:
                self._size -= 1
                self.dispatched += 1
                item = q.popleft()
                self.limits.left_queue(item.message.user_key)
                return item
        return None

    def remove_where(self, pred: Callable[[QueuedItem], bool]) -> list[QueuedItem]:
        """Take every queued item matching ``pred`` out of the queue (moderation, cancel, clear)."""
        removed: list[QueuedItem] = []
        for p, q in self._queues.items():
            if not q:
                continue
            keep: deque[QueuedItem] = deque()
            for it in q:
                if pred(it):
                    removed.append(it)
                    self.limits.left_queue(it.message.user_key)
                else:
                    keep.append(it)
            self._queues[p] = keep
        self._size -= len(removed)
        return removed

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        if not paused and self._available is not None:
            self._available.set()

    def requeue_front(self, item: QueuedItem) -> None:
        """Put an item back at the head of its class (synthesis was refused; it is retried, not lost)."""
        self._queues[item.priority].appendleft(item)
        self._size += 1
        self.limits.accepted(item.message.user_key, self._clock())
        self.dispatched -= 1
        if self._available is not None:
            self._available.set()

    async def get(self) -> QueuedItem:
        """Wait for the next item, honouring ``rate_limit`` (token bucket, burst 1)."""
        if self._available is None:
            self._available = asyncio.Event()
        while True:
            if self.paused:
                self._available.clear()
                await self._available.wait()
                continue
            await self._wait_token()
            item = None if self.paused else self.pop_nowait()
            if item is not None:
                self._tokens -= 1.0
                return item
            self._available.clear()
            await self._available.wait()

    async def _wait_token(self) -> None:
        rate = self.settings.rate_limit
        if rate <= 0:
            self._tokens = 1.0
            return
        while True:
            now = self._clock()
            self._tokens = min(1.0, self._tokens + (now - self._token_time) * rate)
            self._token_time = now
            if self._tokens >= 1.0:
                return
            await asyncio.sleep((1.0 - self._tokens) / rate)

    def render(self, item: QueuedItem) -> str:
        m = item.message
        speaker = m.user_key
        same = self._last_speaker == speaker
        self._last_speaker = speaker
        if same and self.settings.template_on_change:
            return item.text
        return self.settings.template.format_map(
            {"username": m.display_name, "text": item.text, "channel": m.channel, "platform": m.platform}
        )

    def stats(self) -> dict[str, object]:
        return {
            "queue_depth": self._size,
            "queue_capacity": self.settings.queue_capacity,
            "queue_by_priority": {p.name.lower(): len(q) for p, q in self._queues.items()},
            "received": self.received,
            "accepted": self.accepted,
            "dispatched": self.dispatched,
            "filtered": dict(sorted(self.filtered.items())),
            "dropped": dict(self.dropped),
            "dropped_total": sum(self.dropped.values()),
            "paused": self.paused,
        }


def _spans(raw: list[object]) -> list[tuple[int, int]]:
    """``metadata.emotes`` ([[start, end_exclusive], ...], from the IRC tags or a pushing bot) as checked
    spans; anything malformed is skipped."""
    out = []
    for sp in raw[:1000]:
        if isinstance(sp, (list, tuple)) and len(sp) == 2 and all(type(v) is int and v >= 0 for v in sp):
            if sp[0] < sp[1]:
                out.append((int(sp[0]), int(sp[1])))
    out.sort()
    return out
