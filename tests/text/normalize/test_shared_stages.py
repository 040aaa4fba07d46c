"""The language-independent stages (text.normalize.shared) and the last, vocabulary stage (speakable)."""

from __future__ import annotations

import pytest

from ishowtts.engine.random_weights import generated_vocab
from ishowtts.text.normalize.options import CHAT_DEFAULTS, DEFAULTS, NormalizeOptions
from ishowtts.text.normalize.shared import (
    collapse_punctuation,
    replace_emoji,
    replace_links,
    strip_controls,
    to_half_width,
)
from ishowtts.text.normalize.speakable import filter_speakable


def _squash(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a\nb\tc", "a b c"),
        ("a\x00b\x07c", "abc"),
        ("x\ud800y", "xy"),  # a lone surrogate
        ("zero\u200bwidth", "zerowidth"),
        ("rtl\u202emark", "rtlmark"),
        ("keep 👨\u200d👩\u200d👧 joined", "keep 👨\u200d👩\u200d👧 joined"),
    ],
)
def test_strip_controls(raw: str, expected: str) -> None:
    assert strip_controls(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＡＢＣ１２３", "ABC123"),
        ("２０２６年", "2026年"),
        ("１０：３０", "10:30"),
        ("５０％", "50%"),
        ("你好，世界！真的？", "你好，世界！真的？"),  # the marks the vocab has stay full-width
        ("a\u3000b", "a b"),
        ("￥100", "¥100"),
    ],
)
def test_half_width(raw: str, expected: str) -> None:
    assert to_half_width(raw) == expected


@pytest.mark.parametrize(
    ("raw", "opts", "expected"),
    [
        ("see https://example.com/a?b=1 now", DEFAULTS, "see link now"),
        ("go to www.twitch.tv/streamer", DEFAULTS, "go to link"),
        ("visit example.org today", DEFAULTS, "visit link today"),
        ("mail fan@example.org ok", DEFAULTS, "mail email ok"),
        ("https://test.org/path", DEFAULTS.replace(urls="read"), "test dot org slash path"),
        ("user@example.com", DEFAULTS.replace(emails="read"), "user at example dot com"),
        ("a https://x.io b", DEFAULTS.replace(urls="drop"), "a b"),
        ("a me@x.io b", DEFAULTS.replace(emails="drop"), "a b"),
        ("3.5 and v2.0 are not links", DEFAULTS, "3.5 and v2.0 are not links"),
        ("看这个 https://example.com，好玩", DEFAULTS, "看这个 link ，好玩"),
    ],
)
def test_links(raw: str, opts: NormalizeOptions, expected: str) -> None:
    assert _squash(replace_links(raw, opts)) == expected


@pytest.mark.parametrize(
    ("raw", "opts", "expected"),
    [
        ("gg 🔥", DEFAULTS, "gg fire"),
        ("nice 👍🏽", DEFAULTS, "nice thumbs up"),
        ("❤️ you", DEFAULTS, "red heart you"),
        ("fam 👨\u200d👩\u200d👧", DEFAULTS, "fam family man woman girl"),
        ("from 🇧🇷", DEFAULTS, "from Brazil"),
        ("gg 🔥🔥🔥 wp", CHAT_DEFAULTS, "gg wp"),
        ("只有😂", CHAT_DEFAULTS, "只有"),
    ],
)
def test_emoji(raw: str, opts: NormalizeOptions, expected: str) -> None:
    assert _squash(replace_emoji(raw, opts)) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("wow!!!!!!", "wow!"),
        ("what?!?!", "what?"),
        ("真的吗？？？", "真的吗？"),
        ("加油！！！", "加油！"),
        ("wait.....", "wait..."),
        ("wait...", "wait..."),
        ("hmm……", "hmm…"),
        ("C++ rocks", "C++ rocks"),
        ("a+++b", "a+b"),
        ("$$$$$ money", "$ money"),
        ("~~~~~", "~"),
        ("line -------- break", "line - break"),
        ("好，，，", "好，"),
    ],
)
def test_collapse_punctuation(raw: str, expected: str) -> None:
    assert collapse_punctuation(raw) == expected


def test_speakable_maps_and_drops_and_counts() -> None:
    out = filter_speakable("“Café” — naïve ½ привет")
    assert out.text == '"Cafe" — naive'
    assert out.mapped == 4  # the two quotes, é, ï
    assert out.dropped == 7  # ½ and the six Cyrillic letters


def test_a_model_vocab_lets_its_own_symbols_pass() -> None:
    assert filter_speakable("привет é", vocab=frozenset("приветé")).text == "привет é"


def test_speakable_output_is_in_the_generated_vocab() -> None:
    from ishowtts.text.frontend import text_to_symbols

    vocab = set(generated_vocab())
    sample = "Hello, “world”! 你好，世界。 «quoted» ½ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 …"
    out = filter_speakable(sample).text
    assert set(text_to_symbols(out)) <= vocab, set(text_to_symbols(out)) - vocab
