"""Chat commands: who may use them and what they ask for. Parsing only; ``moderation.py`` acts.

Moderators and the broadcaster (badges ``moderator`` / ``broadcaster``, Twitch's ``mod=1``, or the channel
owner's login): ``!skip``, ``<prefix> skip|pause|resume|clear``, ``<prefix> ban <user>``,
``<prefix> unban <user>``. Everyone: ``<prefix> cancel`` (drops the viewer's own queued lines) and
``!voice <name>`` (``!voice reset`` forgets the choice). ``<prefix>`` is ``command_prefix`` (``!tts``).

A line that looks like one of these commands is never spoken, whoever sent it; from a viewer a moderator
command is ignored (and counted).
"""

from __future__ import annotations

from dataclasses import dataclass

from ishowtts.danmaku.message import ChatMessage
from ishowtts.danmaku.triggers import badges_of

MOD_ACTIONS = frozenset({"skip", "pause", "resume", "clear", "ban", "unban"})
_SUBCOMMANDS = MOD_ACTIONS | {"cancel"}
_NEEDS_USER = frozenset({"ban", "unban"})


@dataclass(frozen=True)
class Command:
    action: str  # skip | pause | resume | clear | ban | unban | cancel | voice
    arg: str | None = None

    @property
    def moderator_only(self) -> bool:
        return self.action in MOD_ACTIONS


def parse(text: str, prefix: str) -> Command | None:
    """The command in ``text`` (already normalised), or None when it is not one of ours."""
    words = text.split()
    if not words:
        return None
    head = words[0].casefold()
    arg = words[2] if len(words) > 2 else None
    if head == "!skip":
        return Command("skip")
    if head == "!voice":
        return Command("voice", words[1] if len(words) > 1 else None)
    if prefix and head == prefix.casefold() and len(words) > 1:
        sub = words[1].casefold()
        if sub in _SUBCOMMANDS:
            if sub in _NEEDS_USER:
                return Command(sub, arg.lstrip("@").lower() if arg else None)
            return Command(sub)
    return None


def is_privileged(msg: ChatMessage) -> bool:
    """A moderator, the broadcaster, or the channel owner (login == channel)."""
    if badges_of(msg) & {"moderator", "broadcaster"}:
        return True
    return bool(msg.channel) and msg.username.casefold() == msg.channel.casefold().lstrip("#")
