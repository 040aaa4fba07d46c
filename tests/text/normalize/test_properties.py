"""Properties of the whole normalizer over arbitrary text (hypothesis), and bounded bad input."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ishowtts.engine.random_weights import generated_vocab
from ishowtts.text.frontend import text_to_symbols
from ishowtts.text.normalize import CHAT_DEFAULTS, DEFAULTS, normalize

VOCAB = frozenset(generated_vocab())

# text that looks like what people send: digits, money, times, units, CJK, emoji, links, symbols
_PIECES = st.sampled_from(
    [
        "1", "22", "333", "2026", "3.14", "1,234.5", "-7", "$5.20", "€3", "£1.5k", "$1.5M", "15%", "3-5",
        "3:30pm", "10:30", "2026-12-02", "Dec 2", "5km", "20°C", "3.5GB", "555-123-4567", "Dr.", "St.",
        "vs", "etc", "GPU", "NASA", "1990s", "2nd", "v2.0", "24/7", "5'11\"", "1/2", "#1", "@user", "C++",
        "GPT-4o", "年", "元", "第", "个", "号", "月", "日", "点", "百分之", "你好", "，", "。", "！", "？",
        "🔥", "👍🏽", "🇧🇷", "https://example.com/a", "me@example.org", "!!!", "...", "&", "+", "=", " ",
        "x", "the", "(s)", "½", "é", "\u200b", "\n", "：", "（", "）", "—", "“", "”",
    ]
)  # fmt: skip
_CHATTY = st.lists(_PIECES, min_size=0, max_size=25).map("".join)
_ANY = st.text(max_size=200)
_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(st.one_of(_CHATTY, _ANY))
def test_no_digit_survives(text: str) -> None:
    assert not any("0" <= ch <= "9" for ch in normalize(text).text)


@_SETTINGS
@given(_CHATTY.filter(lambda t: "@" not in t and "https" not in t))
def test_digits_stay_when_number_reading_is_off(text: str) -> None:
    def digits(s: str) -> str:
        return "".join(ch for ch in s if "0" <= ch <= "9")

    out = normalize(text, DEFAULTS.replace(numbers=False, phone=False)).text
    assert digits(out) == digits(text)


@_SETTINGS
@given(st.one_of(_CHATTY, _ANY))
def test_every_symbol_is_in_the_vocab(text: str) -> None:
    out = normalize(text).text
    assert set(text_to_symbols(out)) <= VOCAB, set(text_to_symbols(out)) - VOCAB


@_SETTINGS
@given(st.one_of(_CHATTY, _ANY))
def test_normalizing_twice_equals_once(text: str) -> None:
    for options in (DEFAULTS, CHAT_DEFAULTS):
        once = normalize(text, options).text
        assert normalize(once, options).text == once


@_SETTINGS
@given(st.text(alphabet=st.characters(codec=None, categories=None), max_size=300))
def test_arbitrary_unicode_never_raises(text: str) -> None:
    out = normalize(text)
    assert isinstance(out.text, str) and out.mapped >= 0 and out.dropped >= 0


@pytest.mark.parametrize(
    "text",
    [
        "1" * 100_000,
        "$" * 100_000,
        "1-" * 50_000,
        "!?" * 50_000,
        "\x00\x01\x02" * 30_000,
        "\ud800\udfff" * 40_000,
        "🔥" * 50_000,
        "12:30 " * 15_000,
        "第3个" * 30_000,
        "a.b." * 25_000,
        ("https://x.io/" + "a" * 99) * 900,
    ],
    ids=lambda t: repr(t[:8]),
)
def test_large_and_hostile_inputs_give_a_bounded_result(text: str) -> None:
    out = normalize(text)
    assert len(out.text) <= 40 * len(text)  # bounded expansion; linear time is in benchmarks/
    assert not any("0" <= ch <= "9" for ch in out.text)
