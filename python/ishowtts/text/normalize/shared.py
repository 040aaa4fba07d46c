"""Language-independent stages that run before the number stages: control characters, full-width forms,
links, emoji and punctuation runs.

Emoji names come from the ``emoji`` package (well kept, follows each Unicode release, and its
``replace_emoji`` is one linear scan); every other rule here is a single regular expression without
nested quantifiers, so the time is linear in the length of the text.
"""

from __future__ import annotations

import re
import unicodedata

import emoji

from ishowtts.text.normalize.options import NormalizeOptions

__all__ = ["collapse_punctuation", "replace_emoji", "replace_links", "strip_controls", "to_half_width"]

# --- control characters and full-width forms ----------------------------------------------------------

_KEEP_FORMAT = frozenset("\u200d\ufe0f\ufe0e")  # joiners/selectors that emoji sequences need


def strip_controls(text: str) -> str:
    """Line breaks and tabs become spaces; other control, surrogate, private-use and unassigned code
    points are removed (format characters too, except the ones emoji sequences are built from)."""
    if text.isprintable():  # the common case, checked in C: nothing to remove
        return text
    out: list[str] = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat[0] != "C":
            out.append(ch)
        elif ch in "\t\n\r\v\f\x85\u2028\u2029":
            out.append(" ")
        elif ch in _KEEP_FORMAT:
            out.append(ch)
    return "".join(out)


# Full-width ASCII forms (U+FF01..U+FF5E) become ASCII, except the Chinese sentence marks that the F5
# vocabulary has in their full-width form (，！？ carry Chinese prosody); U+3000 is a space.
_HALF = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
for _keep in "，！？":
    _HALF.pop(ord(_keep))
_HALF[0x3000] = 0x20
_HALF[0xFFE5] = ord("¥")  # full-width yen/yuan sign


def to_half_width(text: str) -> str:
    return text.translate(_HALF)


# --- links ----------------------------------------------------------------------------------------------

_TLDS = "com|org|net|io|tv|gg|dev|app|ai|co|me|uk|de|fr|jp|cn|edu|gov|info|xyz|ly|be|us|ca|au|ru|in|br"
# Every repetition is bounded (RFC lengths: local part <= 64, labels <= 63, a few labels), so the work at
# each start position is bounded and a whole scan stays linear even on "a.b.a.b..." or "aaaa...@".
_LABEL = r"[A-Za-z0-9-]{1,63}"
_EMAIL_RE = re.compile(rf"[A-Za-z0-9._%+-]{{1,64}}@{_LABEL}(?:\.{_LABEL}){{0,6}}\.[A-Za-z]{{2,24}}\b")
_URL_RE = re.compile(
    r"(?:https?://|www\.)[^\s<>\"'，。！？]+"
    rf"|\b{_LABEL}(?:\.{_LABEL}){{0,6}}\.(?:{_TLDS})\b(?:/[^\s<>\"'，。！？]*)?",
    re.IGNORECASE,
)
_SCHEME_RE = re.compile(r"^(?:https?://)?(?:www\.)?", re.IGNORECASE)
_READ_SYMBOLS = {".": " dot ", "/": " slash ", "@": " at ", "-": " dash ", "_": " underscore ",
                 ":": " colon ", "?": " question mark ", "=": " equals ", "&": " and ", "#": " hash ",
                 "%": " percent ", "+": " plus ", "~": " tilde "}  # fmt: skip


def _read_out(link: str) -> str:
    link = _SCHEME_RE.sub("", link).rstrip("/.")
    return " " + "".join(_READ_SYMBOLS.get(ch, ch) for ch in link) + " "


def replace_links(text: str, opts: NormalizeOptions) -> str:
    """Emails first (they contain a domain), then URLs: "say" -> "email" / "link", "read" -> spelled
    with dot / slash / at, "drop" -> removed."""
    if "@" in text:
        text = _EMAIL_RE.sub(lambda m: _link(m.group(0), opts.emails, "email"), text)
    if "." in text:
        text = _URL_RE.sub(lambda m: _link(m.group(0), opts.urls, "link"), text)
    return text


def _link(match: str, mode: str, word: str) -> str:
    if mode == "read":
        return _read_out(match)
    return f" {word} " if mode == "say" else " "


# --- emoji ----------------------------------------------------------------------------------------------

_SKIN_TONE_RE = re.compile(r"_(?:light|medium-light|medium|medium-dark|dark)_skin_tone|_skin_tone")


def _emoji_name(data: dict[str, object]) -> str:
    name = str(data.get("en", "")).strip(":")
    name = _SKIN_TONE_RE.sub("", name)
    name = "".join(ch if ch.isalnum() else " " for ch in name)
    return " ".join(name.split())


# Every non-ASCII character an emoji can start with, plus the keycap mark and the selectors (keycaps such
# as "1️⃣" start with an ASCII digit): texts without any (most) skip the emoji tokenizer. A set, not a
# regex class: the class would list astral code points one by one and cost a scan per character.
_EMOJI_STARTS = frozenset(
    {e[0] for e in emoji.EMOJI_DATA if not e[0].isascii()} | set("\u20e3") | _KEEP_FORMAT
)


def replace_emoji(text: str, opts: NormalizeOptions) -> str:
    """Each emoji (ZWJ sequences and flags included) becomes its English name, or a space when dropped;
    then the joiners/selectors left behind are removed."""
    if _EMOJI_STARTS.isdisjoint(text):
        return text
    if opts.emoji == "name":
        text = emoji.replace_emoji(text, replace=lambda _chars, data: f" {_emoji_name(data)} ")
    else:
        text = emoji.replace_emoji(text, replace=" ")
    return "".join(ch for ch in text if ch not in _KEEP_FORMAT)


# --- punctuation runs -----------------------------------------------------------------------------------

_SENTENCE_RUN_RE = re.compile(r"[!?！？]{2,}")
_SAME_RUN_RE = re.compile(r"([,，。、~～;；:：*#=_^|\\/<>$&@+-])\1+")
_DOTS_RE = re.compile(r"\.{4,}|…{2,}")


def _sentence_run(m: re.Match[str]) -> str:
    run = m.group(0)
    wide = run[0] in "！？"
    if "?" in run or "？" in run:
        return "？" if wide else "?"
    return "！" if wide else "!"


def collapse_punctuation(text: str) -> str:
    """ "!!!!!!" -> "!", "?!?!" -> "?", "....." -> "...", "~~~~" -> "~"; "C++" and "..." stay."""
    text = _SENTENCE_RUN_RE.sub(_sentence_run, text)
    text = _DOTS_RE.sub(lambda m: "..." if m.group(0)[0] == "." else "…", text)
    return _SAME_RUN_RE.sub(lambda m: m.group(1) * (2 if m.group(0) == "++" else 1), text)
