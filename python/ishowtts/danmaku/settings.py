"""The ``[danmaku]`` config section, parsed and validated.

Every key is optional; unknown keys and wrong types raise :class:`ValueError` naming the key
(``danmaku.max_words: must be an int >= 1, got 'x'``). See ``docs/danmaku.md`` for the full list.
"""

from __future__ import annotations

import dataclasses
import string
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from ishowtts.text.normalize import CHAT_DEFAULTS, NormalizeOptions

#: Optional filters that can be switched off; the normalisation, empty check and truncation always run.
OPTIONAL_FILTERS = ("commands", "links", "keywords", "users", "cooldown", "dedupe")
TEMPLATE_FIELDS = frozenset({"username", "text", "channel", "platform"})


@dataclass(frozen=True)
class DanmakuSettings:
    enabled: bool = True
    filters: tuple[str, ...] = OPTIONAL_FILTERS
    banned_keywords: tuple[str, ...] = ()
    blocked_users: tuple[str, ...] = ()
    allow_links: bool = False
    max_words: int = 77
    max_chars: int = 280
    cooldown_s: float = 3.0
    dedupe_window_s: float = 30.0
    queue_capacity: int = 512
    rate_limit: float = 10.0  # messages/s handed to synthesis; 0 = unlimited
    template: str = "{username} says: {text}"
    voice_id: str | None = None
    nfe: int = 8
    playback_backlog: int = 32
    mention_names: tuple[str, ...] = ()
    twitch_host: str = "irc.chat.twitch.tv"
    twitch_port: int = 6667
    oauth_token: str | None = None
    nick: str | None = None
    socks5_proxy: str | None = None
    channels: tuple[str, ...] = ()
    reconnect_base_s: float = 1.0
    reconnect_max_s: float = 60.0
    idle_timeout_s: float = 360.0  # no traffic for this long -> PING; twice -> reconnect
    # what chat lines are spoken as (text.normalize); a table changes single options of the chat defaults
    normalize: NormalizeOptions = CHAT_DEFAULTS

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> DanmakuSettings:
        raw = dict(raw or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"danmaku.{unknown[0]}: unknown key (known: {', '.join(sorted(known))})")
        values: dict[str, Any] = {}
        for name, value in raw.items():
            values[name] = _PARSERS[name](f"danmaku.{name}", value)
        settings = cls(**values)
        settings._check_cross_fields()
        return settings

    def _check_cross_fields(self) -> None:
        if self.reconnect_max_s < self.reconnect_base_s:
            raise ValueError("danmaku.reconnect_max_s: must be >= danmaku.reconnect_base_s")
        if self.oauth_token and not self.nick:
            raise ValueError("danmaku.nick: required with danmaku.oauth_token (the account's login name)")

    def replace(self, **changes: Any) -> DanmakuSettings:
        merged = {f.name: getattr(self, f.name) for f in fields(self)}
        merged.update(changes)
        return DanmakuSettings.from_dict(merged)

    def public_dict(self) -> dict[str, Any]:
        """Settings for the status endpoint: secrets masked."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "oauth_token":
                v = "***" if v else None
            elif f.name == "socks5_proxy" and v:
                parts = urlsplit(v)
                v = f"{parts.scheme}://{parts.hostname}:{parts.port}"
            elif isinstance(v, NormalizeOptions):
                v = dataclasses.asdict(v)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out


def _normalize(key: str, v: Any) -> NormalizeOptions:
    """A table of normalize options over the chat defaults (emoji dropped), e.g. ``{emoji = "name"}``."""
    if isinstance(v, NormalizeOptions):
        return v
    if not isinstance(v, dict):
        raise ValueError(f"{key}: must be a table of normalize options, got {v!r}")
    try:
        return NormalizeOptions.from_mapping(v, base=CHAT_DEFAULTS)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{key}: {exc}") from None


def _bool(key: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"{key}: must be true or false, got {v!r}")
    return v


def _int(lo: int, hi: int | None = None):
    def parse(key: str, v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or v < lo or (hi is not None and v > hi):
            rng = f"in {lo}..{hi}" if hi is not None else f">= {lo}"
            raise ValueError(f"{key}: must be an int {rng}, got {v!r}")
        return v

    return parse


def _float(lo: float, *, positive: bool = False):
    def parse(key: str, v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < lo or (positive and v <= lo):
            op = ">" if positive else ">="
            raise ValueError(f"{key}: must be a number {op} {lo}, got {v!r}")
        return float(v)

    return parse


def _str_list(key: str, v: Any) -> tuple[str, ...]:
    if not isinstance(v, (list, tuple)) or not all(isinstance(s, str) for s in v):
        raise ValueError(f"{key}: must be a list of strings, got {v!r}")
    return tuple(s.strip() for s in v if s.strip())


def _filters(key: str, v: Any) -> tuple[str, ...]:
    items = _str_list(key, v)
    bad = [s for s in items if s not in OPTIONAL_FILTERS]
    if bad:
        raise ValueError(f"{key}: unknown filter {bad[0]!r} (known: {', '.join(OPTIONAL_FILTERS)})")
    return items


def _opt_str(key: str, v: Any) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str):
        raise ValueError(f"{key}: must be a string, got {v!r}")
    return v.strip() or None


def _host(key: str, v: Any) -> str:
    if not isinstance(v, str) or not v.strip() or any(c.isspace() for c in v.strip()):
        raise ValueError(f"{key}: must be a host name, got {v!r}")
    return v.strip()


def _template(key: str, v: Any) -> str:
    if not isinstance(v, str) or "{text}" not in v:
        raise ValueError(f"{key}: must be a string containing {{text}}, got {v!r}")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(v) if name is not None}
    except ValueError as exc:
        raise ValueError(f"{key}: malformed template {v!r}: {exc}") from None
    bad = sorted(names - TEMPLATE_FIELDS)
    if bad:
        raise ValueError(f"{key}: unknown field {{{bad[0]}}} (allowed: {', '.join(sorted(TEMPLATE_FIELDS))})")
    return v


def _proxy(key: str, v: Any) -> str | None:
    s = _opt_str(key, v)
    if s is None:
        return None
    parts = urlsplit(s)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("socks5", "socks5h") or not parts.hostname or port is None:
        raise ValueError(f"{key}: must look like socks5://[user:pass@]host:port, got {s!r}")
    return s


_PARSERS = {
    "enabled": _bool,
    "filters": _filters,
    "banned_keywords": _str_list,
    "blocked_users": _str_list,
    "allow_links": _bool,
    "max_words": _int(1),
    "max_chars": _int(1),
    "cooldown_s": _float(0.0),
    "dedupe_window_s": _float(0.0),
    "queue_capacity": _int(1),
    "rate_limit": _float(0.0),
    "template": _template,
    "voice_id": _opt_str,
    "nfe": _int(1, 64),
    "playback_backlog": _int(1),
    "mention_names": _str_list,
    "twitch_host": _host,
    "twitch_port": _int(1, 65535),
    "oauth_token": _opt_str,
    "nick": _opt_str,
    "socks5_proxy": _proxy,
    "channels": _str_list,
    "reconnect_base_s": _float(0.0, positive=True),
    "reconnect_max_s": _float(0.0, positive=True),
    "idle_timeout_s": _float(0.0, positive=True),
    "normalize": _normalize,
}

# Every field has a parser (checked at import so a new field cannot be forgotten).
if set(_PARSERS) != {f.name for f in fields(DanmakuSettings)}:
    raise RuntimeError("danmaku settings parser table out of sync with DanmakuSettings")
