from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ishowtts.text.chunking import (
    MIN_CHUNK_BYTES,
    chunk_text,
    first_chunk_budget,
    max_chunk_bytes,
    split_pieces,
    utf8_len,
)


def _words(s: str) -> str:
    return "".join(s.split())


def test_split_at_ascii_and_cjk_punctuation() -> None:
    text = "Hello, world. How are you? 你好，世界。我很好！OK"
    assert split_pieces(text) == ["Hello,", "world.", "How are you?", "你好，", "世界。", "我很好！", "OK"]
    # ASCII punctuation only splits when followed by whitespace (3.14, e.g.)
    assert split_pieces("Pi is 3.14, right.") == ["Pi is 3.14,", "right."]


def test_packs_by_utf8_bytes_not_characters() -> None:
    text = "你好，世界。我们今天去公园玩。"  # 3 bytes per character
    chunks = chunk_text(text, max_bytes=27)
    assert chunks == ["你好，世界。", "我们今天去公园玩。"]
    assert chunk_text(text, max_bytes=100) == [text]


def test_upstream_packing_rule() -> None:
    # expected values produced by upstream's chunk_text (f5-tts 1.1.22)
    text = "One two. Three four. Five six. Seven eight."
    assert chunk_text(text, max_bytes=20) == ["One two. Three four.", "Five six.", "Seven eight."]
    assert chunk_text(text, max_bytes=22) == ["One two. Three four.", "Five six. Seven eight."]
    mixed = "Hello, world. How are you? 你好，世界。我很好！OK and more text here, yes."
    assert chunk_text(mixed, max_bytes=30) == [
        "Hello, world. How are you?",
        "你好，世界。我很好！",
        "OK and more text here, yes.",
    ]


def test_long_piece_is_split_at_spaces() -> None:
    text = "this sentence has no punctuation at all and keeps going for a long while"
    chunks = chunk_text(text, max_bytes=25)
    assert all(utf8_len(c) <= 25 for c in chunks)
    assert " ".join(chunks) == text


def test_long_cjk_piece_is_split_between_characters() -> None:
    text = "我们今天去公园玩" * 4
    chunks = chunk_text(text, max_bytes=30)
    assert all(utf8_len(c) <= 30 for c in chunks)
    assert "".join(chunks) == text


def test_single_long_word_kept_whole() -> None:
    assert chunk_text("Supercalifragilisticexpialidocious!", max_bytes=10) == [
        "Supercalifragilisticexpialidocious!"
    ]


def test_empty_and_whitespace() -> None:
    assert chunk_text("", 100) == []
    assert chunk_text("   \n ", 100) == []
    assert chunk_text("。。", 100) == ["。。"]


def test_first_chunk_is_short() -> None:
    text = "Hi there, friend. This is the second sentence. And a third one. Finally the fourth sentence."
    chunks = chunk_text(text, max_bytes=200, first_chunk_bytes=20)
    assert chunks[0] == "Hi there, friend."
    assert chunks[1:] == ["This is the second sentence. And a third one. Finally the fourth sentence."]
    assert chunk_text(text, max_bytes=200) == [text]


def test_first_chunk_cuts_a_long_first_sentence_at_a_space() -> None:
    text = "A very long first sentence without any punctuation at all in it"
    chunks = chunk_text(text, max_bytes=200, first_chunk_bytes=20)
    assert chunks == ["A very long first", "sentence without any punctuation at all in it"]


def test_first_chunk_keeps_a_clause_up_to_twice_the_budget() -> None:
    text = "Welcome back to the stream, everyone. Today we try the new route."
    assert chunk_text(text, max_bytes=200, first_chunk_bytes=20) == [
        "Welcome back to the stream,",
        "everyone. Today we try the new route.",
    ]
    assert chunk_text(text, max_bytes=200, first_chunk_bytes=12)[0] == "Welcome back"


def test_first_chunk_not_split_off_when_rest_is_tiny() -> None:
    assert chunk_text("Hello there my friend, ok.", max_bytes=200, first_chunk_bytes=22) == [
        "Hello there my friend, ok."
    ]


def test_budgets() -> None:
    # 100 bytes in 10 s of reference: 10 bytes/s, 12 s left in the pass
    assert max_chunk_bytes(100, 10.0) == 120
    assert max_chunk_bytes(100, 10.0, speed=0.5) == 60
    assert max_chunk_bytes(1, 21.9) == MIN_CHUNK_BYTES
    assert first_chunk_budget(100, 10.0, seconds=3.0) == 30
    assert first_chunk_budget(10, 10.0) == 2 * MIN_CHUNK_BYTES
    with pytest.raises(ValueError):
        max_chunk_bytes(0, 5.0)
    with pytest.raises(ValueError):
        max_chunk_bytes(10, 5.0, speed=0)
    with pytest.raises(ValueError):
        chunk_text("x", 0)


_alphabet = st.sampled_from([*"abc xyz,.!?;:", "你", "好", "，", "。", "！", " ", "é"])


@settings(max_examples=150, deadline=None)
@given(
    st.text(alphabet=_alphabet, max_size=200), st.integers(5, 80), st.one_of(st.none(), st.integers(1, 40))
)
def test_properties(text: str, max_bytes: int, first: int | None) -> None:
    chunks = chunk_text(text, max_bytes, first_chunk_bytes=first)
    assert all(c and c == c.strip() for c in chunks)  # no empty chunks, trimmed
    assert _words("".join(chunks)) == _words(text)  # nothing lost, nothing reordered
    for c in chunks[1:] if first is not None else chunks:
        # over budget only when one space-free ASCII word alone is longer
        if utf8_len(c) > max_bytes:
            assert len(c.split()) >= 1 and any(utf8_len(w) > max_bytes // 2 for w in c.split())
