"""Text that users give the voice store (reference transcripts, voice names).

Tabs and line breaks (``\\t``, ``\\n``, ``\\r``, U+2028, U+2029) become one space each run: a transcript
pasted from a file keeps its words. Any other control character (NUL, ESC, DEL, the C1 range ...) or a lone
surrogate is refused with a :class:`ValueError` naming it and where it is; nothing is stored.
"""

from __future__ import annotations

import re
import unicodedata

_BREAKS_RE = re.compile(r"[ ]*[\t\n\r\u2028\u2029]+[ ]*")
_ALLOWED = frozenset("\t\n\r")
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs"})  # control characters, lone surrogates


def clean_text_field(value: str, field: str) -> str:
    """``value`` with line breaks and tabs as spaces, stripped; ValueError on other control characters."""
    if not isinstance(value, str):
        raise ValueError(f"{field}: must be a string, got {type(value).__name__}")
    for i, ch in enumerate(value):
        if ch not in _ALLOWED and unicodedata.category(ch) in _REFUSED_CATEGORIES:
            raise ValueError(
                f"{field}: contains the control character U+{ord(ch):04X} at position {i + 1}; "
                "send plain text (tabs and line breaks are allowed)"
            )
    return _BREAKS_RE.sub(" ", value).strip()
