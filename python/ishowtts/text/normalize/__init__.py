"""Text normalization for speech: what people write -> what a person would say.

``normalize(text, options)`` runs before chunking, for F5 and espeak-ng alike (the duration estimate and
the cache key both see the spoken text). The stages, in order:

1. control characters out, full-width letters and digits to ASCII (:mod:`.shared`);
2. links and emails -> "link" / "email", read out, or dropped; emoji -> their names or dropped;
   unreadable characters mapped or dropped (:mod:`.speakable`, keeping the symbols steps 3 and 4 read);
   punctuation runs collapsed (:mod:`.shared`);
3. numbers in Chinese context -> Chinese readings (:mod:`.chinese`, cn2an);
4. numbers, money, times, dates, units, abbreviations, acronyms and symbols left -> English words
   (:mod:`.english`, num2words);
5. what the model cannot read is mapped or dropped and counted; whitespace collapsed (:mod:`.speakable`).

Each stage is linear in the length of the text, and the whole is idempotent:
``normalize(normalize(x).text).text == normalize(x).text``.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

from ishowtts.text.normalize.options import CHAT_DEFAULTS, DEFAULTS, NormalizeOptions
from ishowtts.text.normalize.shared import (
    collapse_punctuation,
    replace_emoji,
    replace_links,
    strip_controls,
    to_half_width,
)
from ishowtts.text.normalize.speakable import STAGE_SYMBOLS, filter_speakable

__all__ = ["CHAT_DEFAULTS", "DEFAULTS", "NormalizeOptions", "Normalized", "normalize"]


@dataclass(frozen=True)
class Normalized:
    text: str  # what will be spoken
    mapped: int  # characters the model cannot read, replaced by readable ones
    dropped: int  # characters the model cannot read, removed


def normalize(
    text: str, options: NormalizeOptions = DEFAULTS, *, vocab: Container[str] | None = None
) -> Normalized:
    """The spoken form of ``text``. ``vocab``: the model's single-character symbols, when known (they
    pass the last stage as they are). With ``options.enabled`` false only the last stage runs: nothing
    the model cannot read is passed to it either way."""
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    from ishowtts.text.normalize.chinese import expand_chinese
    from ishowtts.text.normalize.english import expand_english

    text = strip_controls(text)
    mapped = dropped = 0
    if options.enabled:
        text = to_half_width(text)
        text = replace_links(text, options)
        text = replace_emoji(text, options)
        # map/drop unreadable characters before the language stages, so that what they read is what a
        # second pass would read (idempotence); the symbols they turn into words are kept for them
        early = filter_speakable(text, vocab, keep=STAGE_SYMBOLS)
        text, mapped, dropped = early.text, early.mapped, early.dropped
        text = collapse_punctuation(text)  # after the mapping, which can make runs ("，," -> ",,")
        text = expand_chinese(text, options)
        text = expand_english(text, options)
        text = replace_links(text, options)  # a domain the stages uncovered ("me@x.orgme@x.org"): once more
    out = filter_speakable(text, vocab)
    return Normalized(out.text, mapped + out.mapped, dropped + out.dropped)
