"""The normalised chat message every source (Twitch IRC, ``POST /api/danmaku/enqueue``) produces."""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class MessagePriority(IntEnum):
    """Lower value = read first."""

    PAID = 0  # bits, super chats, gifts
    MODERATOR = 1  # moderator or broadcaster
    MENTION = 2  # mentions the channel owner
    NORMAL = 3

    @classmethod
    def parse(cls, value: Any) -> MessagePriority:
        if isinstance(value, MessagePriority):
            return value
        if isinstance(value, str) and value.strip().upper() in cls.__members__:
            return cls[value.strip().upper()]
        if isinstance(value, int) and not isinstance(value, bool) and value in {p.value for p in cls}:
            return cls(value)
        names = ", ".join(p.name.lower() for p in cls)
        raise ValueError(f"priority: must be one of {names} (or 0..3), got {value!r}")


@dataclass
class ChatMessage:
    platform: str
    channel: str
    username: str
    text: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    user_id: str | None = None
    priority: MessagePriority | None = None  # None -> derived by the gateway from metadata
    metadata: dict[str, Any] = field(default_factory=dict)
    timestamp: float = field(default_factory=time.time)

    @property
    def display_name(self) -> str:
        return str(self.metadata.get("display_name") or self.username)

    @property
    def user_key(self) -> tuple[str, str]:
        return (self.platform, (self.user_id or self.username).casefold())

    @property
    def color(self) -> str:
        """The user's chat colour, or a stable colour derived from the user name."""
        c = self.metadata.get("color")
        if isinstance(c, str) and len(c) == 7 and c.startswith("#"):
            return c
        return user_color(self.username)


@dataclass(frozen=True)
class ChatEvent:
    """Something a chat source reports besides a message.

    ``clearmsg``  a moderator deleted the message ``target_id`` (Twitch ``CLEARMSG``);
    ``clearchat`` a user was timed out or banned (``user`` set), or the whole chat was cleared (``user``
      None) (Twitch ``CLEARCHAT``);
    ``problem``   the connection failed: ``code`` (auth | connect | channel | nick), ``message`` in plain
      words, ``detail`` the raw error;
    ``problem_clear`` the condition behind the last problem is gone (logged in, channel joined).
    """

    kind: str
    channel: str = ""
    user: str | None = None
    target_id: str | None = None
    code: str | None = None
    message: str | None = None
    detail: str | None = None


def user_color(username: str) -> str:
    """A readable colour that is always the same for one user (HSL hue from a hash)."""
    h = int.from_bytes(hashlib.blake2s(username.casefold().encode(), digest_size=2).digest(), "little")
    hue = h % 360
    return _hsl_to_hex(hue, 0.65, 0.55)


def _hsl_to_hex(h: float, s: float, lum: float) -> str:
    c = (1 - abs(2 * lum - 1)) * s
    x = c * (1 - abs((h / 60) % 2 - 1))
    m = lum - c / 2
    r, g, b = [
        (c, x, 0),
        (x, c, 0),
        (0, c, x),
        (0, x, c),
        (x, 0, c),
        (c, 0, x),
    ][int(h // 60) % 6]
    return "#{:02x}{:02x}{:02x}".format(*(round((v + m) * 255) for v in (r, g, b)))
