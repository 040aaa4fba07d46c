"""The playback hub: finished danmaku clips fanned out to the browser pages that play them.

A clip published while no page is connected waits in a bounded *pending* backlog (oldest dropped and
counted when it overflows); the next page to connect receives the pending clips first, then live ones.
Each connected page has its own bounded queue (a stalled page loses its oldest clips, counted, and never
slows the others). When the last page disconnects, clips it had not yet received go back to pending.

Wire format of a WebSocket frame: ``u32 little-endian header length | JSON header | audio bytes`` with the
header ``{id, msg_id, user, voice, kind, platform, channel, username, display_text, color, format,
sample_rate, duration_s}``.

Control events (WebSocket text frames, SSE ``event: control``; ``/work/danmaku_protocol.md``) go to every
connected page and are never dropped for a slow page: ``skip``, ``remove`` (``id``), ``clear``, ``state``
(``paused``, ``queued``; sent on connect and on every change, coalesced while a page lags), ``error``
(``code``, ``message``; sent on connect while it holds) and ``error_clear``. ``remove`` and ``clear`` also
drop the clips concerned from the pending backlog and from every page's buffer on the server side.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import struct
from collections import deque
from dataclasses import dataclass, field
from typing import Any

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


Control = dict[str, Any]


@dataclass
class Subscriber:
    queue: deque[Clip | Control]
    limit: int  # clips buffered; control events do not count and are never dropped
    event: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: int = 0
    closed: bool = False
    clips: int = 0

    async def get(self) -> Clip | Control:
        while not self.queue:
            if self.closed:
                raise ConnectionError("subscription closed")
            self.event.clear()
            await self.event.wait()
        item = self.queue.popleft()
        if isinstance(item, Clip):
            self.clips -= 1
        return item

    def put(self, clip: Clip) -> int:
        dropped = 0
        while self.clips >= self.limit:
            for i, old in enumerate(self.queue):
                if isinstance(old, Clip):
                    del self.queue[i]
                    break
            self.clips -= 1
            dropped += 1
        self.queue.append(clip)
        self.clips += 1
        self.dropped += dropped
        self.event.set()
        return dropped

    def put_control(self, ev: Control) -> None:
        if ev.get("type") == "state" and self.queue and isinstance(self.queue[-1], dict):
            if self.queue[-1].get("type") == "state":  # a lagging page only needs the latest state
                self.queue[-1] = ev
                return
        self.queue.append(ev)
        self.event.set()

    def drop_clips(self, pred: Any) -> int:
        keep = deque(x for x in self.queue if not (isinstance(x, Clip) and pred(x)))
        n = len(self.queue) - len(keep)
        self.queue = keep
        self.clips -= n
        return n


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
        self.controls = 0
        self._state: Control = {"type": "state", "paused": False, "queued": 0}
        self._error: Control | None = None

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

    # ---- control events ----------------------------------------------------------------------
    def control(self, ev: Control) -> None:
        """Send a control event to every connected page."""
        self.controls += 1
        for sub in self._subs:
            sub.put_control(dict(ev))

    def skip(self) -> None:
        self.control({"type": "skip"})

    def remove(self, clip_id: str) -> None:
        """Drop the clip wherever it still waits on the server, and tell the pages (stop it if playing)."""
        self._drop(lambda c: c.header.get("id") == clip_id)
        self.control({"type": "remove", "id": clip_id})

    def clear(self) -> None:
        self._drop(lambda c: True)
        self.control({"type": "clear"})

    def _drop(self, pred: Any) -> None:
        self._pending = deque(c for c in self._pending if not pred(c))
        for sub in self._subs:
            sub.drop_clips(pred)

    def set_state(self, *, paused: bool, queued: int) -> None:
        state = {"type": "state", "paused": paused, "queued": queued}
        if state != self._state:
            self._state = state
            self.control(state)

    def set_error(self, code: str, message: str) -> None:
        ev = {"type": "error", "code": code, "message": message}
        if ev != self._error:
            self._error = ev
            self.control(ev)

    def clear_error(self) -> None:
        if self._error is not None:
            self._error = None
            self.control({"type": "error_clear"})

    @property
    def error(self) -> Control | None:
        return self._error

    def subscribe(self) -> Subscriber:
        """A new page: the current state (and error), the pending clips (then cleared), then live ones."""
        sub = Subscriber(deque(), self.backlog)
        sub.put_control(dict(self._state))
        if self._error is not None:
            sub.put_control(dict(self._error))
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
                if isinstance(clip, Clip):
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
            "controls": self.controls,
        }
