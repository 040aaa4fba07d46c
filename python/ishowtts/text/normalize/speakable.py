"""The last stage: only characters the model can read reach it.

A character passes when it is a space, an ASCII letter, a digit (left only when number reading is off),
punctuation the F5 vocabulary has, a CJK punctuation mark it has, or a Chinese character pypinyin can
read (the front end turns those into pinyin syllables). A model's own vocabulary can add its
single-character symbols (the official F5 vocab has accented Latin, Greek, Cyrillic, ...). Anything else
is read through a mapping (typographic quotes and dashes, full-width marks, accented letters without
their accents) or dropped, and both are counted, never passed on silently.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Container
from dataclasses import dataclass
from functools import lru_cache

from pypinyin.pinyin_dict import pinyin_dict

from ishowtts.text.frontend import is_chinese_char

__all__ = ["STAGE_SYMBOLS", "Speakable", "filter_speakable"]

#: symbols the number stages read ("€3", "20°C", "5′11″"); the pass before them keeps these
STAGE_SYMBOLS = frozenset("€£¥￥₹₩¢°℃℉‰²³µ×−′″")

ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;=>?@[\\]_~")
CJK_PUNCT = frozenset("，。！？、《》…—·「」")
_MAP = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "«": '"', "»": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2015": "—", "\u2212": "-",
    "：": ":", "；": ";", "（": "(", "）": ")", "【": "(", "】": ")", "〈": "《", "〉": "》",
    "『": "「", "』": "」", "～": "~", "｡": "。", "､": "、", "｢": "「", "｣": "」", "・": "·",
    "{": "(", "}": ")", "`": "'", "|": ",",
}  # fmt: skip


@dataclass(frozen=True)
class Speakable:
    text: str
    mapped: int  # characters replaced by a readable equivalent
    dropped: int  # characters removed because nothing readable stands for them


@lru_cache(maxsize=4096)
def _readable_hanzi(ch: str) -> bool:
    return is_chinese_char(ch) and ord(ch) in pinyin_dict


def _passes(ch: str, vocab: Container[str] | None) -> bool:
    if ch == " " or ("a" <= ch <= "z") or ("A" <= ch <= "Z") or ("0" <= ch <= "9"):
        return True
    if ch in ASCII_PUNCT or ch in CJK_PUNCT:
        return True
    if vocab is not None and ch in vocab:
        return True
    return _readable_hanzi(ch)


def _fallback(ch: str) -> str:
    """Accented and compatibility letters without their marks ("é" -> "e", "ﬁ" -> "fi"); "" if none."""
    decomposed = unicodedata.normalize("NFKD", ch)
    return "".join(c for c in decomposed if ("a" <= c <= "z") or ("A" <= c <= "Z"))


# Characters that always pass: the loop below only visits the others (found in C by this pattern).
_OTHER_RE = re.compile(r"[^ A-Za-z0-9" + re.escape("".join(sorted(ASCII_PUNCT | CJK_PUNCT))) + "]")


def filter_speakable(
    text: str, vocab: Container[str] | None = None, *, keep: frozenset[str] = frozenset()
) -> Speakable:
    """Map or drop what the model cannot read (except ``keep``), then collapse whitespace."""
    mapped = dropped = 0

    def other(m: re.Match[str]) -> str:
        nonlocal mapped, dropped
        ch = m.group(0)
        if ch in keep or _passes(ch, vocab):
            return ch
        if ch.isspace():
            return " "
        repl = _MAP.get(ch)
        if repl is None:
            repl = _fallback(ch)
        if repl:
            mapped += 1
            return repl
        dropped += 1
        return " "

    out = _OTHER_RE.sub(other, text)
    return Speakable(" ".join(out.split()), mapped, dropped)
