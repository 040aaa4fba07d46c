"""Text front end: turn text into the symbol sequence F5-TTS was trained on.

F5-TTS v1 uses a character vocabulary in which Chinese characters are replaced by tone-numbered pinyin
syllables (``ni3``, ``hao3``; the neutral tone carries no digit, e.g. ``de``). Chinese runs are segmented
with rjieba first so that pypinyin can pick readings (and tone sandhi) per word. Everything else passes
through one character per symbol. A space symbol is inserted before each pinyin syllable and between an
ASCII word and what precedes it, exactly as the upstream training data was prepared, because the model
only understands that exact layout.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import rjieba
from pypinyin import Style, lazy_pinyin

__all__ = ["is_chinese_char", "symbols_to_ids", "text_to_symbols", "texts_to_symbols"]

# Characters the vocabulary lacks, mapped to ones it has (upstream's out-of-vocabulary patch).
_TRANSLATE = str.maketrans({";": ",", "\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})

# An ASCII word is preceded by a space unless the previous symbol is one of these.
_NO_SPACE_AFTER = frozenset(" :'\"")


def is_chinese_char(ch: str) -> bool:
    """The range upstream treats as Chinese (bopomofo through CJK unified ideographs)."""
    return "\u3100" <= ch <= "\u9fff"


def _pinyin(text: str) -> list[str]:
    return lazy_pinyin(text, style=Style.TONE3, tone_sandhi=True)


def _append_ascii_segment(symbols: list[str], seg: str) -> None:
    if symbols and len(seg) > 1 and symbols[-1] not in _NO_SPACE_AFTER:
        symbols.append(" ")
    symbols.extend(seg)


def _append_wide_segment(symbols: list[str], seg: str) -> None:
    """A segment made only of 3-byte UTF-8 characters (Chinese, CJK punctuation, ...)."""
    readings = _pinyin(seg)
    if len(readings) != len(seg):
        # pypinyin groups runs of non-Chinese characters into one item, so readings no longer line up
        # with characters; convert character by character instead (upstream would misalign here).
        _append_mixed_segment(symbols, seg)
        return
    for ch, reading in zip(seg, readings, strict=True):
        if is_chinese_char(ch):
            symbols.append(" ")
        symbols.append(reading)


def _append_mixed_segment(symbols: list[str], seg: str) -> None:
    for ch in seg:
        if ord(ch) < 256:
            symbols.append(ch)
        elif is_chinese_char(ch):
            symbols.append(" ")
            symbols.extend(_pinyin(ch))
        else:
            symbols.append(ch)


def text_to_symbols(text: str) -> list[str]:
    """Convert one string into vocabulary symbols (characters and pinyin syllables).

    >>> text_to_symbols("Hi 你好")
    ['H', 'i', ' ', ' ', 'ni2', ' ', 'hao3']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    symbols: list[str] = []
    for seg in rjieba.cut(text.translate(_TRANSLATE)):
        n_bytes = len(seg.encode("utf-8"))
        if n_bytes == len(seg):
            _append_ascii_segment(symbols, seg)
        elif n_bytes == 3 * len(seg):
            _append_wide_segment(symbols, seg)
        else:
            _append_mixed_segment(symbols, seg)
    return symbols


def texts_to_symbols(texts: Iterable[str]) -> list[list[str]]:
    """Batch form of :func:`text_to_symbols` (upstream's ``convert_char_to_pinyin``)."""
    return [text_to_symbols(t) for t in texts]


def symbols_to_ids(symbols: Sequence[str], vocab: dict[str, int]) -> list[int]:
    """Map symbols through a ``{symbol: id}`` table; unknown symbols become 0 (the space), as upstream."""
    return [vocab.get(s, 0) for s in symbols]
