"""What a chat line sounds like: Twitch emotes and cheermotes removed, links as a word, spam collapsed,
banned words found (word boundaries, Unicode case folding) and masked. Pure functions, no state.

Twitch's ``emotes`` tag positions count Unicode code points of the message text (not UTF-16 units, not
bytes), inclusive at both ends: ``emotesv2_1:0-4,6-10/25:12-16``. Python strings index code points, so
the positions apply to ``str`` directly; a position outside the text, reversed or malformed is ignored.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_LINK_RE = re.compile(
    r"(?i)(?:\bhttps?://\S+|\bwww\.\S+"
    r"|\b[a-z0-9][a-z0-9-]*\.(?:com|net|org|tv|gg|io|ly|me|co|be|xyz|link|app)(?:/\S*|\b))"
)
_ACTION_RE = re.compile(r"^\x01ACTION (.*?)\x01?$", re.DOTALL)
# a run of 4+ of one character (not a digit: "1000000" is a number, not spam) -> 3
_RUN_RE = re.compile(r"([^\d\s])\1{3,}")
# Twitch's global cheermotes: a prefix and an amount ("Cheer100", "BibleThump50"), in a message with bits
CHEERMOTE_PREFIXES = (
    "Cheer", "DoodleCheer", "BibleThump", "cheerwhal", "Corgo", "Scoops", "uni", "ShowLove", "Party",
    "SeemsGood", "Pride", "Kappa", "FrankerZ", "HeyGuys", "DansGame", "EleGiggle", "TriHard", "Kreygasm",
    "4Head", "SwiftRage", "NotLikeThis", "FailFish", "VoHiYo", "PJSalt", "MrDestructoid", "bday",
    "RIPCheer", "Shamrock", "BitBoss", "Streamlabs", "Muxy", "HolidayCheer", "Goal", "Anon", "Charity",
)  # fmt: skip
_CHEER_RE = re.compile(
    r"(?i)(?<!\S)(?:" + "|".join(re.escape(p) for p in CHEERMOTE_PREFIXES) + r")\d+(?!\S)"
)
_MAX_EMOTE_SPANS = 1000  # a longer emotes tag is malformed or hostile: the rest is ignored


def parse_emotes(tag: str) -> list[tuple[int, int]]:
    """``id:a-b,c-d/id2:e-f`` -> sorted, non-overlapping ``(start, end_exclusive)`` spans. Malformed parts
    are skipped (never raises)."""
    spans: list[tuple[int, int]] = []
    for part in tag.split("/"):
        _, _, positions = part.partition(":")
        for pos in positions.split(","):
            a, sep, b = pos.partition("-")
            if not sep or not (a.isascii() and a.isdigit() and b.isascii() and b.isdigit()):
                continue
            start, end = int(a), int(b)
            if start <= end:
                spans.append((start, end + 1))
            if len(spans) >= _MAX_EMOTE_SPANS:
                break
    spans.sort(key=lambda sp: (sp[0], -sp[1]))  # an inconsistent (overlapping) tag: the longest wins
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s < merged[-1][1]:
            continue  # overlapping: the tag is inconsistent, keep the first
        merged.append((s, e))
    return merged


def unwrap_action(text: str) -> str:
    """``\\x01ACTION waves\\x01`` (``/me waves``) -> ``waves``; Twitch's emote positions count in this."""
    m = _ACTION_RE.match(text)
    return m.group(1) if m else text


def strip_emotes(text: str, spans: Iterable[tuple[int, int]], keep: Iterable[str] = ()) -> tuple[str, int]:
    """Remove the emotes at ``spans`` (code points) except names in ``keep`` (read as words).
    Returns (text, number of emotes removed); spans outside the text are ignored."""
    keep_set = {k.casefold() for k in keep}
    out: list[str] = []
    pos = 0
    removed = 0
    n = len(text)
    for start, end in spans:
        if start < pos or end > n:
            continue  # outside the text (or a stale tag): ignore, never raise
        name = text[start:end]
        out.append(text[pos:start])
        if name.casefold() in keep_set:
            out.append(name)
        else:
            out.append(" ")
            removed += 1
        pos = end
    out.append(text[pos:])
    return " ".join("".join(out).split()), removed


def strip_cheermotes(text: str) -> str:
    """Remove cheermote words (``Cheer100``, ``Kappa50``) from a message that carries bits."""
    return " ".join(_CHEER_RE.sub(" ", text).split())


def has_link(text: str) -> bool:
    return _LINK_RE.search(text) is not None


def replace_links(text: str, word: str) -> str:
    """Every link becomes ``word`` (a blank word removes it)."""
    return " ".join(_LINK_RE.sub(f" {word} ", text).split())


def collapse_spam(text: str) -> str:
    """A run of one character collapses to 3 (``loooooool`` -> ``looool``); the same word (or emote name)
    more than twice in a row collapses to 2 (``lol lol lol lol`` -> ``lol lol``)."""
    text = _RUN_RE.sub(r"\1\1\1", text)
    words = text.split(" ")
    if len(words) < 3:
        return text
    out: list[str] = []
    run = 0
    prev = None
    for w in words:
        key = w.casefold()
        run = run + 1 if key == prev else 1
        prev = key
        if run <= 2:
            out.append(w)
    return " ".join(out)


def _is_emoji(ch: str) -> bool:
    o = ord(ch)
    return o >= 0x1F000 or 0x2600 <= o <= 0x27BF or 0x2B00 <= o <= 0x2BFF or o in (0x200D, 0xFE0F)


def symbol_ratio(text: str) -> float:
    """The share of punctuation and symbols among the non-space characters (0 for empty). Emoji count
    neither way: the normalizer names or drops them (``normalize.emoji``)."""
    total = sym = 0
    for ch in text:
        if ch.isspace() or _is_emoji(ch):
            continue
        total += 1
        if unicodedata.category(ch)[0] not in "LMN":
            sym += 1
    return sym / total if total else 0.0


def _is_spaceless_script(ch: str) -> bool:
    """CJK, kana, Hangul, Thai: scripts written without spaces, where word boundaries say nothing."""
    o = ord(ch)
    return (
        0x2E80 <= o <= 0x9FFF or 0xAC00 <= o <= 0xD7AF or 0xF900 <= o <= 0xFAFF or 0x0E00 <= o <= 0x0E7F
    ) or 0x20000 <= o <= 0x3134F


class BannedWords:
    """Banned words and phrases matched on the case-folded text (``ß`` == ``SS``) at word boundaries
    (``ass`` does not match ``class``); a word in a script written without spaces (CJK) matches anywhere."""

    def __init__(self, words: Iterable[str]) -> None:
        parts = []
        for w in words:
            f = " ".join(w.casefold().split())
            if not f:
                continue
            body = re.escape(f).replace(r"\ ", r"\s+")
            if any(_is_spaceless_script(c) for c in f):
                parts.append(body)
            else:
                parts.append(rf"(?<!\w){body}(?!\w)")
        self._re = re.compile("|".join(parts)) if parts else None

    def __bool__(self) -> bool:
        return self._re is not None

    def _spans(self, text: str) -> list[tuple[int, int]]:
        if self._re is None:
            return []
        folded: list[str] = []
        origin: list[int] = []  # folded index -> original index
        for i, ch in enumerate(text):
            f = ch.casefold()
            folded.append(f)
            origin.extend([i] * len(f))
        origin.append(len(text))
        joined = "".join(folded)
        spans = []
        for m in self._re.finditer(joined):
            start = origin[m.start()]
            end = origin[m.end() - 1] + 1 if m.end() > m.start() else start
            spans.append((start, end))
        return spans

    def search(self, text: str) -> str | None:
        spans = self._spans(text)
        return text[spans[0][0] : spans[0][1]] if spans else None

    def mask(self, text: str, mask: str) -> tuple[str, int]:
        """Each banned word replaced by ``mask``; returns (text, count)."""
        spans = self._spans(text)
        if not spans:
            return text, 0
        out: list[str] = []
        pos = 0
        for s, e in spans:
            out.append(text[pos:s])
            out.append(f" {mask} " if mask else " ")
            pos = e
        out.append(text[pos:])
        return " ".join("".join(out).split()), len(spans)
