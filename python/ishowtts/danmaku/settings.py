"""The ``[danmaku]`` config section, parsed and validated.

Every key is optional; unknown keys and wrong types raise :class:`~ishowtts.validators.ConfigError` (a
``ValueError``) naming the key (``danmaku.max_words: must be an int >= 1, got 'x'``), checked with the same
validators as the rest of the config (``ishowtts.validators``). See ``docs/danmaku.md`` for the full list.
"""

from __future__ import annotations

import dataclasses
import string
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from ishowtts import validators
from ishowtts.text.normalize import CHAT_DEFAULTS, NormalizeOptions
from ishowtts.validators import ConfigError

#: Optional filters that can be switched off; the normalisation, empty check and truncation always run.
OPTIONAL_FILTERS = ("commands", "links", "keywords", "users", "cooldown", "dedupe", "emotes", "spam", "limits")
TEMPLATE_FIELDS = frozenset({"username", "text", "channel", "platform"})
#: What makes a message spoken (any one of the configured triggers is enough).
TRIGGERS = ("all", "bits", "reward", "badges", "first_msg", "command")
TRIGGER_BADGES = ("subscriber", "vip", "moderator", "broadcaster")
#: Keys the page may change at run time (``GET/PUT /api/danmaku/settings``); the rest need a restart.
EDITABLE = (
    "triggers", "min_bits", "reward_ids", "trigger_badges", "command_prefix",
    "allowed_voices", "voice_pool", "voice_id",
    "filters", "banned_keywords", "banned_action", "banned_mask", "blocked_users",
    "allow_links", "link_action", "link_word", "emote_words", "max_symbol_ratio",
    "user_messages_per_minute", "user_max_queued",
    "template", "template_on_change", "max_words", "max_chars", "cooldown_s", "dedupe_window_s", "rate_limit",
)  # fmt: skip


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
    # ---- triggers: a message is spoken when any one matches (triggers.py) ----
    triggers: tuple[str, ...] = ("all",)
    min_bits: int = 100  # "bits": cheers of at least this many bits
    reward_ids: tuple[str, ...] = ()  # "reward": channel-point reward ids (custom-reward-id); empty: any
    trigger_badges: tuple[str, ...] = TRIGGER_BADGES  # "badges": any of these
    command_prefix: str = "!tts"  # "command": "!tts <text>" (also the prefix of the moderator commands)
    # ---- per-user voices (user_voices.py) ----
    allowed_voices: tuple[str, ...] = ()  # what "!voice <name>" may pick; empty: "!voice" is off
    voice_pool: tuple[str, ...] = ()  # unassigned users: a stable choice from these; empty: voice_id
    # ---- what is spoken (spoken.py) ----
    banned_action: str = "drop"  # "drop" the message, or "mask" the word with banned_mask
    banned_mask: str = "bleep"
    link_action: str = "word"  # "word": a link is spoken as link_word; "drop": the message is dropped
    link_word: str = "link"
    emote_words: tuple[str, ...] = ()  # emote names read as words (the rest are removed)
    max_symbol_ratio: float = 0.5  # a line with a larger share of symbols is dropped ("spam")
    user_messages_per_minute: int = 0  # per user, 0 = no limit ("limits")
    user_max_queued: int = 3  # queued lines per user, 0 = no limit ("limits")
    template_on_change: bool = False  # the template only when the speaker changes; else just {text}

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> DanmakuSettings:
        raw = dict(raw or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"danmaku.{unknown[0]}: unknown key (known: {', '.join(sorted(known))})")
        values: dict[str, Any] = {}
        for name, value in raw.items():
            values[name] = _PARSERS[name](f"danmaku.{name}", value)
        settings = cls(**values)
        settings._check_cross_fields()
        return settings

    def _check_cross_fields(self) -> None:
        if self.reconnect_max_s < self.reconnect_base_s:
            raise ConfigError("danmaku.reconnect_max_s: must be >= danmaku.reconnect_base_s")
        if "command" in self.triggers and not self.command_prefix:
            raise ConfigError("danmaku.command_prefix: required with the \"command\" trigger")
        if self.oauth_token and not self.nick:
            raise ConfigError("danmaku.nick: required with danmaku.oauth_token (the account's login name)")

    def replace(self, **changes: Any) -> DanmakuSettings:
        merged = {f.name: getattr(self, f.name) for f in fields(self)}
        merged.update(changes)
        return DanmakuSettings.from_dict(merged)

    def editable_dict(self) -> dict[str, Any]:
        """The keys of :data:`EDITABLE` (``GET /api/danmaku/settings``)."""
        full = self.public_dict()
        return {k: full[k] for k in EDITABLE}

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


def _triggers(key: str, v: Any) -> tuple[str, ...]:
    items = tuple(dict.fromkeys(t.lower() for t in validators.str_tuple(key, v)))
    bad = [t for t in items if t not in TRIGGERS]
    if bad or not items:
        what = f"unknown trigger {bad[0]!r}" if bad else "at least one trigger is needed"
        raise ConfigError(f"{key}: {what} (known: {', '.join(TRIGGERS)})")
    return items


def _badges(key: str, v: Any) -> tuple[str, ...]:
    items = tuple(b.lower() for b in validators.str_tuple(key, v))
    bad = [b for b in items if b not in TRIGGER_BADGES]
    if bad:
        raise ConfigError(f"{key}: unknown badge {bad[0]!r} (known: {', '.join(TRIGGER_BADGES)})")
    return items


def _prefix(key: str, v: Any) -> str:
    if not isinstance(v, str) or any(c.isspace() for c in v.strip()):
        raise ConfigError(f"{key}: must be one word such as \"!tts\", got {v!r}")
    return v.strip()


def _normalize(key: str, v: Any) -> NormalizeOptions:
    """A table of normalize options over the chat defaults (emoji dropped), e.g. ``{emoji = "name"}``."""
    if isinstance(v, NormalizeOptions):
        return v
    if not isinstance(v, dict):
        raise ConfigError(f"{key}: must be a table of normalize options, got {v!r}")
    try:
        return NormalizeOptions.from_mapping(v, base=CHAT_DEFAULTS)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key}: {exc}") from None


def _filters(key: str, v: Any) -> tuple[str, ...]:
    items = validators.str_tuple(key, v)
    bad = [s for s in items if s not in OPTIONAL_FILTERS]
    if bad:
        raise ConfigError(f"{key}: unknown filter {bad[0]!r} (known: {', '.join(OPTIONAL_FILTERS)})")
    return items


def _host(key: str, v: Any) -> str:
    if not isinstance(v, str) or not v.strip() or any(c.isspace() for c in v.strip()):
        raise ConfigError(f"{key}: must be a host name, got {v!r}")
    return v.strip()


def _template(key: str, v: Any) -> str:
    if not isinstance(v, str) or "{text}" not in v:
        raise ConfigError(f"{key}: must be a string containing {{text}}, got {v!r}")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(v) if name is not None}
    except ValueError as exc:
        raise ConfigError(f"{key}: malformed template {v!r}: {exc}") from None
    bad = sorted(names - TEMPLATE_FIELDS)
    if bad:
        raise ConfigError(
            f"{key}: unknown field {{{bad[0]}}} (allowed: {', '.join(sorted(TEMPLATE_FIELDS))})"
        )
    return v


def _proxy(key: str, v: Any) -> str | None:
    s = validators.opt_str(key, v)
    if s is None:
        return None
    parts = urlsplit(s)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("socks5", "socks5h") or not parts.hostname or port is None:
        raise ConfigError(f"{key}: must look like socks5://[user:pass@]host:port, got {s!r}")
    return s


_PARSERS: dict[str, validators.Validator] = {
    "enabled": validators.boolean,
    "filters": _filters,
    "banned_keywords": validators.str_tuple,
    "blocked_users": validators.str_tuple,
    "allow_links": validators.boolean,
    "max_words": validators.integer(1),
    "max_chars": validators.integer(1),
    "cooldown_s": validators.number(0.0),
    "dedupe_window_s": validators.number(0.0),
    "queue_capacity": validators.integer(1),
    "rate_limit": validators.number(0.0),
    "template": _template,
    "voice_id": validators.opt_str,
    "nfe": validators.integer(1, 64),
    "playback_backlog": validators.integer(1),
    "mention_names": validators.str_tuple,
    "twitch_host": _host,
    "twitch_port": validators.integer(1, 65535),
    "oauth_token": validators.opt_str,
    "nick": validators.opt_str,
    "socks5_proxy": _proxy,
    "channels": validators.str_tuple,
    "reconnect_base_s": validators.number(0.0, lo_open=True),
    "reconnect_max_s": validators.number(0.0, lo_open=True),
    "idle_timeout_s": validators.number(0.0, lo_open=True),
    "normalize": _normalize,
    "triggers": _triggers,
    "min_bits": validators.integer(1),
    "reward_ids": validators.str_tuple,
    "trigger_badges": _badges,
    "command_prefix": _prefix,
    "allowed_voices": validators.str_tuple,
    "voice_pool": validators.str_tuple,
    "banned_action": validators.choice("drop", "mask"),
    "banned_mask": validators.text,
    "link_action": validators.choice("word", "drop"),
    "link_word": validators.text,
    "emote_words": validators.str_tuple,
    "max_symbol_ratio": validators.number(0.0, 1.0),
    "user_messages_per_minute": validators.integer(0),
    "user_max_queued": validators.integer(0),
    "template_on_change": validators.boolean,
}

# Every field has a parser (checked at import so a new field cannot be forgotten).
if set(_PARSERS) != {f.name for f in fields(DanmakuSettings)}:
    raise RuntimeError("danmaku settings parser table out of sync with DanmakuSettings")
