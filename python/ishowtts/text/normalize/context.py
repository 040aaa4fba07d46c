"""Which language surrounds a span of text: numbers are read in the language around them."""

from __future__ import annotations

from ishowtts.text.frontend import is_chinese_char

__all__ = ["is_latin_letter", "surrounding_language"]

_WINDOW = 12  # characters looked at on each side


def is_latin_letter(ch: str) -> bool:
    return ch.isalpha() and ord(ch) < 0x250


def surrounding_language(text: str, start: int, end: int) -> str:
    """``"zh"`` or ``"en"`` for ``text[start:end]``.

    A CJK character right after the span (``2026年``, ``3个``) or right before it (``第3``, ``有3``) makes
    it Chinese; a Latin letter right after it (``5km``, ``3rd``) makes it English. Otherwise the letters
    within a few characters on both sides vote (nearer ones weigh more); a tie, or no letters at all, is
    English.
    """
    after = text[end] if end < len(text) else ""
    before = text[start - 1] if start > 0 else ""
    if after and is_chinese_char(after):
        return "zh"
    if after and is_latin_letter(after):
        return "en"
    if before and is_chinese_char(before):
        return "zh"
    zh = en = 0.0
    for i in range(max(0, start - _WINDOW), start):
        w = 1.0 / (start - i)
        zh += w * is_chinese_char(text[i])
        en += w * is_latin_letter(text[i])
    for i in range(end, min(len(text), end + _WINDOW)):
        w = 1.0 / (i - end + 1)
        zh += w * is_chinese_char(text[i])
        en += w * is_latin_letter(text[i])
    return "zh" if zh > en else "en"
