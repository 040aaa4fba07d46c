"""Which chat messages are spoken: the ``triggers`` of ``[danmaku]``, combinable (any one is enough).

- ``all``        every message;
- ``bits``       a cheer of at least ``min_bits`` (the ``bits`` tag);
- ``reward``     a channel-point redemption with text (``custom-reward-id``), one of ``reward_ids`` (any
                 reward when the list is empty);
- ``badges``     the user wears one of ``trigger_badges`` (subscriber, vip, moderator, broadcaster);
- ``first_msg``  the user's first message in the channel (``first-msg=1``);
- ``command``    the message starts with ``command_prefix`` (``!tts <text>``): the text after it is spoken.

The *kind* of a spoken line (in the clip header) is the most specific match: bits, reward, command, chat.
"""

from __future__ import annotations

from ishowtts.danmaku.message import ChatMessage
from ishowtts.danmaku.settings import DanmakuSettings


def bits_of(msg: ChatMessage) -> int:
    b = msg.metadata.get("bits")
    return b if isinstance(b, int) and not isinstance(b, bool) and b > 0 else 0


def badges_of(msg: ChatMessage) -> set[str]:
    md = msg.metadata
    badges = md.get("badges")
    out = {str(k) for k in badges} if isinstance(badges, dict) else set()
    for flag in ("moderator", "broadcaster", "subscriber", "vip"):
        if md.get(flag):
            out.add(flag)
    return out


def command_text(text: str, prefix: str) -> str | None:
    """The text after ``prefix`` (``!tts hello`` -> ``hello``), or None when ``text`` does not start with
    it as a whole word (``!ttsx`` is not ``!tts``)."""
    if not prefix:
        return None
    stripped = text.lstrip()
    if stripped[: len(prefix)].casefold() != prefix.casefold():
        return None
    rest = stripped[len(prefix) :]
    if rest and not rest[0].isspace():
        return None
    return rest.strip()


def match(msg: ChatMessage, s: DanmakuSettings, text: str) -> tuple[str | None, str]:
    """(kind, text to speak) when a trigger matches ``msg`` (whose cleaned text is ``text``), else
    (None, text)."""
    triggers = s.triggers
    kind: str | None = None
    if "command" in triggers:
        rest = command_text(text, s.command_prefix)
        if rest is not None:
            return "command", rest
    bits = bits_of(msg)
    if bits and "bits" in triggers and bits >= s.min_bits:
        kind = "bits"
    reward = msg.metadata.get("reward_id")
    if kind is None and reward and "reward" in triggers and (not s.reward_ids or reward in s.reward_ids):
        kind = "reward"
    if kind is None and "badges" in triggers and badges_of(msg) & set(s.trigger_badges):
        kind = "chat"
    if kind is None and "first_msg" in triggers and msg.metadata.get("first_msg"):
        kind = "chat"
    if kind is None and "all" in triggers:
        kind = "bits" if bits else "reward" if reward else "chat"
    return kind, text
