"""Pure text filters of the gateway (no state): normalisation, links, commands, keywords, truncation.

Lengths are counted in characters (Unicode code points), never bytes, so CJK text is cut safely.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_LINK_RE = re.compile(
    r"(?i)(?:\bhttps?://|\bwww\.|\b[a-z0-9][a-z0-9-]*\.(?:com|net|org|tv|gg|io|ly|me|co|be|xyz|link|app)(?:/|\b))"
)
_ACTION_RE = re.compile(r"^\x01ACTION (.*?)\x01?$", re.DOTALL)


def normalise(text: str) -> str:
    """Unwrap ``/me`` actions; control characters and line breaks become spaces; format characters
    (zero-width, bidi overrides) are removed; runs of whitespace collapse to one space; trimmed."""
    m = _ACTION_RE.match(text)
    if m:
        text = m.group(1)
    if text.isprintable():  # fast path: no C* / Z* characters other than the ASCII space
        return " ".join(text.split())
    out: list[str] = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Zl", "Zp"):
            out.append(" ")
        elif cat in ("Cf", "Cs", "Co", "Cn"):
            continue
        else:
            out.append(ch)
    return " ".join("".join(out).split())


def has_link(text: str) -> bool:
    return _LINK_RE.search(text) is not None


def is_command(text: str) -> bool:
    return text.startswith("!")


def banned_keyword(text: str, keywords: Iterable[str]) -> str | None:
    """The first banned keyword contained in ``text`` (case-insensitive), else None."""
    folded = text.casefold()
    for kw in keywords:
        if kw and kw.casefold() in folded:
            return kw
    return None


def truncate_words(text: str, max_words: int) -> str:
    words = text.split(" ")
    return text if len(words) <= max_words else " ".join(words[:max_words])


def truncate_chars(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    return text[:max_chars].rstrip()


def dedupe_key(text: str) -> str:
    return " ".join(text.casefold().split())
