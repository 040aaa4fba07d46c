"""The whole normalizer, table-driven: mixed Mandarin and English (numbers read in the language around
them), chat lines with the chat defaults, and the naive-normalizer traps end to end."""

from __future__ import annotations

import pytest

from ishowtts.text.normalize import CHAT_DEFAULTS, DEFAULTS, normalize

CASES = [
    (
        "The 3rd match is at 10:30pm, tickets $5.20 🔥",
        "The third match is at ten thirty p m, tickets five dollars and twenty cents fire",
    ),
    ("我今年25岁, I am 25", "我今年二十五岁, I am twenty-five"),
    ("价格是 $5, 大概35元", "价格是 五美元, 大概三十五元"),
    ("I scored 95分 today", "I scored 九十五分 today"),
    ("明天 3pm 见", "明天 three p m 见"),
    ("Room 12 opens at 10:30", "Room twelve opens at ten thirty"),
    ("今天 10:30 开播吗？", "今天 十点三十分 开播吗？"),
    ("买了3个 5km 跑鞋 😂", "买了三个 五公里 跑鞋 face with tears of joy"),
    ("GPU 温度 90°C", "G P U 温度 九十摄氏度"),
    ("打了 3-2 赢了", "打了 三比二 赢了"),
    ("the score was 3-2", "the score was three to two"),
    ("2026年12月2日 is Wednesday", "二零二六年十二月二日 is Wednesday"),
    ("Meet me on 2026-12-02", "Meet me on December second, twenty twenty-six"),
    ("会议在2026-12-02", "会议在二零二六年十二月二日"),
    ("call 555-123-4567 now", "call five five five, one two three, four five six seven now"),
    ("打13812345678", "打幺三八幺二三四五六七八"),
    ("我的电话是 13812345678", "我的电话是 幺三八幺二三四五六七八"),
    ("call 13812345678", "call one three eight one two three four five six seven eight"),
    ("gg wp!!!!!!", "gg wp!"),
    ("哈哈哈233", "哈哈哈二三三"),
    ("主播加油！！第1名", "主播加油！第一名"),
    ("lol that was 2ez", "lol that was two ez"),
    (
        "@streamer what's your FPS? 144 or 240",
        "at streamer what's your F P S? one hundred forty-four or two hundred forty",
    ),
    ("check https://example.com/clip?id=42", "check link"),
    ("email fan@example.org pls", "email email pls"),
    ("❤️ love from 🇧🇷", "red heart love from Brazil"),
    ("Dr. Disrespect vs Shroud etc", "Doctor Disrespect versus Shroud et cetera"),
    ("wait... WHAT", "wait... WHAT"),
    ("C++ or GPT-4o for the bot?", "C plus plus or G P T four o for the bot?"),
    ("ＧＰＵ ３０％", "G P U thirty percent"),
    ("“Quoted” — text", '"Quoted" — text'),
    ("naïve café", "naive cafe"),
    ("50/50 chance", "fifty fifty chance"),
    ("top 10 plays of 2025", "top ten plays of twenty twenty-five"),
    ("it's 24/7 baby", "it's twenty-four seven baby"),
    ("price: €3, ￥20, £1.5k", "price: three euros, twenty yen, one point five thousand pounds"),
    ("I was born in 1990", "I was born in nineteen ninety"),
    ("the 1990s were great", "the nineteen nineties were great"),
    ("v2.0 is out!!!", "version two point zero is out!"),
    ("5'11\" tall", "five feet eleven inches tall"),
    ("#1 fan", "number one fan"),
    ("first 2nd 3rd 4th 21st", "first second third fourth twenty-first"),
    ("-5°C outside", "minus five degrees Celsius outside"),
    ("负5度的天气", "负五度的天气"),
    ("3.14 is pi", "three point one four is pi"),
    ("12.5%的概率", "百分之十二点五的概率"),
    ("1/2 cup", "one half cup"),
    ("二分之一 and 1/2", "二分之一 and one half"),
    ("NASA and the FBI", "NASA and the F B I"),
    ("friend(s) welcome", "friends welcome"),
    ("you & me", "you and me"),
    ("x = 5 + 3", "x equals five plus three"),
    ("Mixed 中文 and English 2 words 3个字", "Mixed 中文 and English two words 三个字"),
]

CHAT_CASES = [
    ("gg 🔥🔥🔥 2nd win!!!!", "gg second win!"),
    ("❤️❤️❤️ love from 🇧🇷", "love from"),
    ("买了3个 😂", "买了三个"),
    ("pog https://clips.twitch.tv/abc", "pog link"),
    ("OMG 100% 🤣🤣", "O M G one hundred percent"),
]


@pytest.mark.parametrize(("raw", "spoken"), CASES)
def test_pipeline(raw: str, spoken: str) -> None:
    out = normalize(raw, DEFAULTS)
    assert out.text == spoken
    assert normalize(out.text, DEFAULTS).text == spoken


@pytest.mark.parametrize(("raw", "spoken"), CHAT_CASES)
def test_chat_defaults(raw: str, spoken: str) -> None:
    assert normalize(raw, CHAT_DEFAULTS).text == spoken


@pytest.mark.parametrize(
    ("raw", "lang", "spoken"),
    [
        ("I have 3 apples", "zh", "I have 三 apples"),
        ("我有3个", "en", "我有three个"),
        ("Room 12", "auto", "Room twelve"),
    ],
)
def test_lang_forces_the_language_of_numbers(raw: str, lang: str, spoken: str) -> None:
    assert normalize(raw, DEFAULTS.replace(lang=lang)).text == spoken


def test_disabled_speaks_as_written_but_still_filters() -> None:
    out = normalize("Room 12 🔥 ½ café", DEFAULTS.replace(enabled=False))
    assert out.text == "Room 12 cafe" and out.mapped == 1 and out.dropped == 2


def test_counts() -> None:
    out = normalize("“ok” ½")
    assert (out.text, out.mapped, out.dropped) == ('"ok"', 2, 1)
