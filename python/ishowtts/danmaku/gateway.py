"""The danmaku gateway: filters, priority, a bounded queue and a rate limit in front of synthesis.

Every message passes these steps in this fixed order; the first that rejects it names the reason
(returned to ``POST /api/danmaku/enqueue`` in ``X-Danmaku-Filtered`` and counted in ``status()``):

 1. ``system``         drop system messages (``metadata.system`` true: subs, raids, notices)
 2. ``duplicate_id``   drop a message id already seen (reconnects, retried pushes)
 3. ``blocked_user``   drop users in ``blocked_users``                          [filter ``users``]
 4. normalise          ``/me`` unwrapped, control chars/newlines -> spaces, zero-width chars removed,
                       whitespace collapsed, trimmed
 5. ``empty``          drop what is left empty
 6. ``command``        drop ``!commands``                                       [filter ``commands``]
 7. ``link``           drop links (``http(s)://``, ``www.``, bare domains) unless ``allow_links``
                                                                                 [filter ``links``]
 8. ``banned_keyword`` drop banned keywords (case-insensitive substring)        [filter ``keywords``]
 9. truncate           to ``max_words`` words, then to ``max_chars`` characters (code points, never
                       bytes: CJK safe)
10. ``cooldown``       drop a user's message within ``cooldown_s`` of their last accepted one;
                       paid and moderator messages are exempt                   [filter ``cooldown``]
11. ``duplicate``      drop the same text (case/space-insensitive) in the same channel within
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

from ishowtts.danmaku import filters
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


@dataclass
class Decision:
    accepted: bool
    reason: str | None = None
    item: QueuedItem | None = None
    dropped: list[QueuedItem] = field(default_factory=list)  # evicted to make room (or the item itself)


class Gateway:
    def __init__(self, settings: DanmakuSettings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
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

    # ---- ingestion -------------------------------------------------------------------------
    def submit(self, msg: ChatMessage) -> Decision:
        """Filter ``msg`` and queue it; never blocks. Must be called from one thread (the event loop)."""
        self.received += 1
        reason, text = self._filter(msg)
        if reason is not None:
            self.filtered[reason] = self.filtered.get(reason, 0) + 1
            return Decision(False, reason)
        now = self._clock()
        prio = msg.priority if msg.priority is not None else self.classify(msg)
        if "cooldown" in self.settings.filters and self.settings.cooldown_s > 0:
            if prio > MessagePriority.MODERATOR:
                last = self._last_by_user.get(msg.user_key)
                if last is not None and now - last < self.settings.cooldown_s:
                    return self._reject("cooldown")
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
        item = QueuedItem(msg, text, prio, now, self._seq)
        dropped = self._make_room(item)
        if dropped and dropped[0] is item:
            return Decision(False, "queue_full", None, dropped)
        self._queues[prio].append(item)
        self._size += 1
        self.accepted += 1
        if self._available is not None:
            self._available.set()
        return Decision(True, None, item, dropped)

    def _reject(self, reason: str) -> Decision:
        self.filtered[reason] = self.filtered.get(reason, 0) + 1
        return Decision(False, reason)

    def _filter(self, msg: ChatMessage) -> tuple[str | None, str]:
        s = self.settings
        if msg.metadata.get("system"):
            return "system", ""
        if msg.id in self._seen_ids:
            return "duplicate_id", ""
        if "users" in s.filters and s.blocked_users:
            names = {msg.username.casefold(), msg.display_name.casefold()}
            if any(u.casefold() in names for u in s.blocked_users):
                return "blocked_user", ""
        text = filters.normalise(msg.text)
        if not text:
            return "empty", ""
        if "commands" in s.filters and filters.is_command(text):
            return "command", ""
        if "links" in s.filters and not s.allow_links and filters.has_link(text):
            return "link", ""
        if "keywords" in s.filters and filters.banned_keyword(text, s.banned_keywords) is not None:
            return "banned_keyword", ""
        text = filters.truncate_chars(filters.truncate_words(text, s.max_words), s.max_chars)
        return None, text

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
                return q.popleft()
        return None

    def requeue_front(self, item: QueuedItem) -> None:
        """Put an item back at the head of its class (synthesis was refused; it is retried, not lost)."""
        self._queues[item.priority].appendleft(item)
        self._size += 1
        self.dispatched -= 1
        if self._available is not None:
            self._available.set()

    async def get(self) -> QueuedItem:
        """Wait for the next item, honouring ``rate_limit`` (token bucket, burst 1)."""
        if self._available is None:
            self._available = asyncio.Event()
        while True:
            await self._wait_token()
            item = self.pop_nowait()
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
        }
