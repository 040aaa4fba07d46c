from __future__ import annotations

import re

import pytest

from ishowtts.voices.text_fields import clean_text_field


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  plain words  ", "plain words"),
        ("one\ttwo", "one two"),
        ("line one\r\nline two\n", "line one line two"),
        ("a \n\n b", "a b"),
        ("para\u2028graph\u2029end", "para graph end"),
        ("你好\n世界", "你好 世界"),
        ("zero\u200dwidth joiner stays", "zero\u200dwidth joiner stays"),
        ("", ""),
    ],
)
def test_breaks_become_spaces(raw: str, clean: str) -> None:
    assert clean_text_field(raw, "text") == clean


@pytest.mark.parametrize(
    ("raw", "code", "pos"),
    [
        ("nul\x00", "U+0000", 4),
        ("\x1b[31mred", "U+001B", 1),
        ("bell\x07", "U+0007", 5),
        ("del\x7f", "U+007F", 4),
        ("nel\x85", "U+0085", 4),
        ("vt\x0bff", "U+000B", 3),
        ("lone \ud800 surrogate", "U+D800", 6),
    ],
)
def test_other_control_characters_are_refused(raw: str, code: str, pos: int) -> None:
    with pytest.raises(
        ValueError,
        match=re.escape(f"reference_text: contains the control character {code} at position {pos};"),
    ):
        clean_text_field(raw, "reference_text")


def test_non_string_is_refused() -> None:
    with pytest.raises(ValueError, match="must be a string"):
        clean_text_field(5, "text")  # type: ignore[arg-type]
