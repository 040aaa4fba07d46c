"""The playback hub: finished danmaku clips fanned out to the browser pages that play them.

A clip published while no page is connected waits in a bounded *pending* backlog (oldest dropped and
counted when it overflows); the next page to connect receives the pending clips first, then live ones.
Each connected page has its own bounded queue (a stalled page loses its oldest clips, counted, and never
slows the others). When the last page disconnects, clips it had not yet received go back to pending.

Wire format of a WebSocket frame: ``u32 little-endian header length | JSON header | audio bytes`` with the
header ``{id, platform, channel, username, display_text, color, format, sample_rate, duration_s}``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import struct
from collections import deque
from dataclasses import dataclass, field

from ishowtts.logging_setup import kv

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Clip:
    header: dict[str, object]
    audio: bytes

    def frame(self) -> bytes:
        hb = json.dumps(self.header, ensure_ascii=False, separators=(",", ":")).encode()
        return struct.pack("<I", len(hb)) + hb + self.audio

    def sse_data(self) -> str:
        return json.dumps({**self.header, "audio_base64": base64.b64encode(self.audio).decode()})


def parse_frame(frame: bytes) -> tuple[dict[str, object], bytes]:
    """Inverse of :meth:`Clip.frame` (used by tests and Python clients)."""
    if len(frame) < 4:
        raise ValueError("frame shorter than its length prefix")
    (n,) = struct.unpack_from("<I", frame)
    if 4 + n > len(frame):
        raise ValueError("frame header length exceeds the frame")
    return json.loads(frame[4 : 4 + n].decode()), frame[4 + n :]


@dataclass
class Subscriber:
    queue: deque[Clip]
    limit: int
    event: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: int = 0
    closed: bool = False

    async def get(self) -> Clip:
        while not self.queue:
            if self.closed:
                raise ConnectionError("subscription closed")
            self.event.clear()
            await self.event.wait()
        return self.queue.popleft()

    def put(self, clip: Clip) -> int:
        dropped = 0
        while len(self.queue) >= self.limit:
            self.queue.popleft()
            dropped += 1
        self.queue.append(clip)
        self.dropped += dropped
        self.event.set()
        return dropped


class PlaybackHub:
    def __init__(self, backlog: int) -> None:
        if backlog < 1:
            raise ValueError("playback_backlog: must be >= 1")
        self.backlog = backlog
        self._pending: deque[Clip] = deque()
        self._subs: list[Subscriber] = []
        self.published = 0
        self.dropped_pending = 0
        self.dropped_slow_client = 0

    def publish(self, clip: Clip) -> None:
        self.published += 1
        if not self._subs:
            self._add_pending(clip)
            return
        for sub in self._subs:
            lost = sub.put(clip)
            if lost:
                self.dropped_slow_client += lost
                log.warning("danmaku playback client too slow: dropped clips", extra=kv(dropped=lost))

    def _add_pending(self, clip: Clip) -> None:
        self._pending.append(clip)
        while len(self._pending) > self.backlog:
            self._pending.popleft()
            self.dropped_pending += 1
            log.warning("danmaku playback backlog full: dropped oldest clip", extra=kv(backlog=self.backlog))

    def subscribe(self) -> Subscriber:
        """A new page: it receives the pending clips (then cleared), then live ones."""
        sub = Subscriber(deque(), self.backlog)
        for clip in self._pending:
            sub.put(clip)
        self._pending.clear()
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
        sub.closed = True
        sub.event.set()
        if not self._subs:
            for clip in sub.queue:  # not yet received by anyone: keep it for the next page
                self._add_pending(clip)
        sub.queue.clear()

    def close_all(self) -> None:
        for sub in list(self._subs):
            sub.closed = True
            sub.event.set()

    @property
    def clients(self) -> int:
        return len(self._subs)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def stats(self) -> dict[str, object]:
        return {
            "clients": len(self._subs),
            "pending": len(self._pending),
            "backlog": self.backlog,
            "published": self.published,
            "dropped_pending": self.dropped_pending,
            "dropped_slow_client": self.dropped_slow_client,
        }
