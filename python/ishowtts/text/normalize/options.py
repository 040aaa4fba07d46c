"""What the normalizer does, as one frozen options object (config ``[normalize]``, ``/api/tts``
``normalize``, ``/v1/audio/speech`` ``normalization_options``, the chat read-aloud's own defaults).

The defaults are written here once; the config, the HTTP schemas and the docs read them from here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["CHAT_DEFAULTS", "DEFAULTS", "EmojiMode", "Language", "LinkMode", "NormalizeOptions"]

Language = Literal["auto", "en", "zh"]
LinkMode = Literal["say", "read", "drop"]  # "say": the word "link" / "email"; "read": read it out
EmojiMode = Literal["name", "drop"]


@dataclass(frozen=True)
class NormalizeOptions:
    enabled: bool = True  # False: the text is spoken as written (only the vocabulary filter still runs)
    lang: Language = "auto"  # the language numbers are read in; "auto": the language around each number
    numbers: bool = True  # digits, money, percentages, times, dates, ordinals -> words
    units: bool = True  # "5km" -> "five kilometers"
    phone: bool = True  # phone-like digit strings read digit by digit
    urls: LinkMode = "say"
    emails: LinkMode = "say"
    emoji: EmojiMode = "name"
    acronyms: bool = True  # "GPU" -> "G P U" (known words such as "NASA" stay)
    abbreviations: bool = True  # "Dr." -> "Doctor", "vs" -> "versus", "etc" -> "et cetera"
    plurals: bool = True  # "friend(s)" -> "friends"
    symbols: bool = True  # leftover symbols read as words ("&" -> "and", "+" -> "plus")

    def replace(self, **changes: Any) -> NormalizeOptions:
        return dataclasses.replace(self, **changes)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_mapping(cls, data: dict[str, Any], base: NormalizeOptions | None = None) -> NormalizeOptions:
        """``base`` with the given fields changed; unknown fields or bad values raise ValueError."""
        base = base if base is not None else DEFAULTS
        unknown = set(data) - set(cls.field_names())
        if unknown:
            raise ValueError(
                f"unknown normalize option(s) {sorted(unknown)}; known: {list(cls.field_names())}"
            )
        out = dataclasses.replace(base, **data)
        out.validate()
        return out

    def validate(self) -> None:
        for name in (
            "enabled",
            "numbers",
            "units",
            "phone",
            "acronyms",
            "abbreviations",
            "plurals",
            "symbols",
        ):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"normalize.{name}: must be true or false, got {getattr(self, name)!r}")
        for name, allowed in (("lang", ("auto", "en", "zh")), ("urls", ("say", "read", "drop")),
                              ("emails", ("say", "read", "drop")), ("emoji", ("name", "drop"))):  # fmt: skip
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"normalize.{name}: must be one of {list(allowed)}, got {getattr(self, name)!r}"
                )


DEFAULTS = NormalizeOptions()
#: the chat read-aloud: emoji are dropped (chat is full of them), links are just "link"
CHAT_DEFAULTS = NormalizeOptions(emoji="drop")
