"""IRC line parsing (RFC 1459 + IRCv3 message tags) and Twitch chat specifics: channel names, OAuth token
forms, and the tags of a ``PRIVMSG`` turned into a :class:`ChatMessage`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ishowtts.danmaku.message import ChatEvent, ChatMessage
from ishowtts.danmaku.spoken import parse_emotes

_TAG_UNESCAPE = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_CHANNEL_RE = re.compile(r"^[a-z0-9_]{1,25}$")


@dataclass
class IrcLine:
    command: str
    params: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    prefix: str | None = None

    @property
    def nick(self) -> str | None:
        if not self.prefix:
            return None
        return self.prefix.split("!", 1)[0]


def unescape_tag_value(value: str) -> str:
    """IRCv3 tag value unescaping: ``\\:`` ``\\s`` ``\\\\`` ``\\r`` ``\\n``; other ``\\x`` -> ``x``;
    a trailing lone backslash is dropped."""
    if "\\" not in value:
        return value
    out: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            if i + 1 < len(value):
                nxt = value[i + 1]
                out.append(_TAG_UNESCAPE.get(nxt, nxt))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def parse_line(line: str) -> IrcLine:
    """Parse one IRC line (without CR LF). Raises ValueError on a line with no command."""
    rest = line.rstrip("\r\n")
    tags: dict[str, str] = {}
    if rest.startswith("@"):
        raw_tags, _, rest = rest[1:].partition(" ")
        for part in raw_tags.split(";"):
            if not part:
                continue
            key, _, value = part.partition("=")
            tags[key] = unescape_tag_value(value)
        rest = rest.lstrip(" ")
    prefix = None
    if rest.startswith(":"):
        prefix, _, rest = rest[1:].partition(" ")
        rest = rest.lstrip(" ")
    trailing = None
    if " :" in rest:
        rest, trailing = rest.split(" :", 1)
    elif rest.startswith(":"):
        rest, trailing = "", rest[1:]
    parts = rest.split()
    if not parts:
        raise ValueError(f"IRC line without a command: {line!r}")
    params = parts[1:]
    if trailing is not None:
        params.append(trailing)
    return IrcLine(parts[0].upper(), params, tags, prefix)


def normalise_channel(channel: str) -> str:
    """A Twitch channel from ``name``, ``#name`` or a twitch.tv URL, lower-cased; ValueError otherwise."""
    raw = channel.strip()
    if "twitch.tv" in raw.lower() or raw.startswith(("http://", "https://")):
        url = raw if "://" in raw else "https://" + raw
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if host not in ("twitch.tv", "www.twitch.tv", "m.twitch.tv", "go.twitch.tv"):
            raise ValueError(f"channel: not a twitch.tv URL: {channel!r}")
        segs = [s for s in parts.path.split("/") if s]
        if not segs:
            raise ValueError(f"channel: the URL names no channel: {channel!r}")
        if segs[0] == "popout" and len(segs) > 1:
            segs = segs[1:]
        raw = segs[0]
    name = raw.lstrip("#").lower()
    if not _CHANNEL_RE.match(name):
        raise ValueError(f"channel: must be a Twitch channel name or twitch.tv URL, got {channel!r}")
    return name


def normalise_oauth_token(token: str) -> str:
    """``oauth:abc``, ``#access_token=abc&...`` (the redirect fragment), ``Bearer abc`` or ``abc`` ->
    ``oauth:abc``."""
    t = token.strip()
    if "access_token=" in t:
        frag = t.split("#", 1)[-1].lstrip("#?")
        for part in frag.split("&"):
            k, _, v = part.partition("=")
            if k == "access_token":
                t = v
                break
    elif t.lower().startswith("bearer "):
        t = t[7:].strip()
    elif t.lower().startswith("oauth:"):
        t = t[6:]
    if not t or any(c.isspace() for c in t):
        raise ValueError("oauth_token: empty or malformed token")
    return "oauth:" + t


def _badges(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in value.split(","):
        if part:
            name, _, version = part.partition("/")
            out[name] = version
    return out


def privmsg_to_message(line: IrcLine, platform: str = "twitch") -> ChatMessage | None:
    """A ``PRIVMSG #channel :text`` as a :class:`ChatMessage` with its tags as metadata; None for
    anything else (private messages to the bot, malformed lines)."""
    if line.command != "PRIVMSG" or len(line.params) < 2 or not line.params[0].startswith("#"):
        return None
    t = line.tags
    login = (line.nick or t.get("login") or "unknown").lower()
    md: dict[str, object] = {}
    if t.get("display-name"):
        md["display_name"] = t["display-name"]
    if t.get("color"):
        md["color"] = t["color"]
    badges = _badges(t.get("badges", ""))
    if badges:
        md["badges"] = badges
    bits = t.get("bits", "")
    if bits.isascii() and bits.isdigit() and len(bits) < 10:  # "abc", "-5", "１００": ignored, never raised
        md["bits"] = int(bits)
    if t.get("emotes"):
        spans = parse_emotes(t["emotes"])
        if spans:
            md["emotes"] = [list(sp) for sp in spans]
    if t.get("vip") == "1" or "vip" in badges:
        md["vip"] = True
    if t.get("first-msg") == "1":
        md["first_msg"] = True
    if t.get("mod") == "1":
        md["moderator"] = True
    if "broadcaster" in badges:
        md["broadcaster"] = True
    if t.get("subscriber") == "1" or "subscriber" in badges:
        md["subscriber"] = True
    if t.get("reply-parent-msg-id"):
        md["reply"] = {
            "parent_id": t["reply-parent-msg-id"],
            "parent_user": t.get("reply-parent-user-login", ""),
            "parent_display_name": t.get("reply-parent-display-name", ""),
            "parent_text": t.get("reply-parent-msg-body", ""),
        }
    if t.get("tmi-sent-ts", "").isdigit():
        md["sent_ts_ms"] = int(t["tmi-sent-ts"])
    if t.get("custom-reward-id"):
        md["reward_id"] = t["custom-reward-id"]
    kwargs: dict[str, object] = {}
    if t.get("id"):
        kwargs["id"] = t["id"]
        md["msg_id"] = t["id"]
    if "sent_ts_ms" in md:
        kwargs["timestamp"] = int(md["sent_ts_ms"]) / 1000.0  # type: ignore[arg-type]
    return ChatMessage(
        platform=platform,
        channel=line.params[0][1:].lower(),
        username=login,
        text=line.params[1],
        user_id=t.get("user-id") or None,
        metadata=md,
        **kwargs,  # type: ignore[arg-type]
    )


def moderation_event(line: IrcLine) -> ChatEvent | None:
    """Twitch ``CLEARMSG #chan`` (tag ``target-msg-id``) and ``CLEARCHAT #chan [:user]`` as a
    :class:`ChatEvent`; None for anything else or a malformed line."""
    if line.command not in ("CLEARMSG", "CLEARCHAT") or not line.params or not line.params[0].startswith("#"):
        return None
    channel = line.params[0][1:].lower()
    if line.command == "CLEARMSG":
        target = line.tags.get("target-msg-id")
        if not target:
            return None
        login = line.tags.get("login") or None
        return ChatEvent("clearmsg", channel, user=login.lower() if login else None, target_id=target)
    user = line.params[1].strip().lower() if len(line.params) > 1 and line.params[1].strip() else None
    return ChatEvent("clearchat", channel, user=user)
