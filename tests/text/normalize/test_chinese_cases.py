"""The Chinese number stage on its own: what it reads, what it leaves for the English stage."""

from __future__ import annotations

import pytest

from ishowtts.text.normalize import chinese_readings
from ishowtts.text.normalize.chinese import expand_chinese
from ishowtts.text.normalize.options import DEFAULTS, NormalizeOptions

ZH = DEFAULTS.replace(lang="zh")

# input -> expand_chinese(input, NormalizeOptions())
CASES: list[tuple[str, str]] = [
    # years, dates
    ("今年是2026年", "今年是二零二六年"),
    ("1998年出生", "一九九八年出生"),
    ("10年前", "十年前"),
    ("2026年12月2日", "二零二六年十二月二日"),
    ("日期2026-12-02", "日期二零二六年十二月二日"),
    ("日期2026/12/02", "日期二零二六年十二月二日"),
    ("日期2026.12.02", "日期二零二六年十二月二日"),
    ("12月2号", "十二月二号"),
    ("05月06日", "五月六日"),
    ("2020-2026年", "二零二零到二零二六年"),
    # money
    ("这个3.5元", "这个三点五元"),
    ("价格¥100", "价格一百元"),
    ("价格￥100", "价格一百元"),
    ("100元", "一百元"),
    ("只要$5", "只要五美元"),
    ("花了€20", "花了二十欧元"),
    ("只要¥2", "只要两元"),
    ("3-5元", "三到五元"),
    # percentages
    ("涨了15%", "涨了百分之十五"),
    ("增长12.5%", "增长百分之十二点五"),
    ("降了5%-10%", "降了百分之五到百分之十"),
    ("100%的", "百分之一百的"),
    ("3‰的人", "千分之三的人"),
    ("跌了-3%", "跌了负百分之三"),
    # times and scores
    ("现在10:30", "现在十点三十分"),
    ("10:05开会", "十点零五分开会"),
    ("10:00开会", "十点开会"),
    ("10:30:15开始", "十点三十分十五秒开始"),
    ("10:00:05开始", "十点零分零五秒开始"),
    ("2:30出发", "两点三十分出发"),
    ("0:30睡觉", "零点三十分睡觉"),
    ("24:00关门", "二十四点关门"),
    ("比分3:2", "比分三比二"),
    ("3:2赢了", "三比二赢了"),
    ("10:5输了", "十比五输了"),
    ("比分10:12", "比分十比十二"),
    ("3比2", "三比二"),
    ("打了3-0", "打了三比零"),
    ("2-2平", "二比二平"),
    ("3:20出发", "三点二十分出发"),
    ("25:61不是时间", "二十五比六十一不是时间"),
    # ordinals
    ("第3", "第三"),
    ("第1名", "第一名"),
    ("第2个", "第二个"),
    ("第2-3名", "第二到三名"),
    # phone numbers: digit by digit, 1 as 幺
    ("电话13812345678", "电话幺三八幺二三四五六七八"),
    ("手机138-1234-5678", "手机幺三八幺二三四五六七八"),
    ("手机138 1234 5678", "手机幺三八幺二三四五六七八"),
    ("电话010-12345678", "电话零幺零幺二三四五六七八"),
    ("客服400-820-8820", "客服四零零八二零八八二零"),
    ("打555-123-4567", "打五五五幺二三四五六七"),
    # cardinals, 两 and 二
    ("我有3个苹果", "我有三个苹果"),
    ("一共100", "一共一百"),
    ("一共10000", "一共一万"),
    ("2个人", "两个人"),
    ("2本书", "两本书"),
    ("要2万", "要两万"),
    ("2点见", "两点见"),
    ("2年级", "二年级"),
    ("2楼", "二楼"),
    ("2月", "二月"),
    ("2号", "二号"),
    ("就是2", "就是二"),
    ("有12个", "有十二个"),
    ("共1,234人", "共一千二百三十四人"),
    ("共1,234,567元", "共一百二十三万四千五百六十七元"),
    ("共20人", "共二十人"),
    ("2000块", "两千块"),
    ("20000人", "两万人"),
    ("第2000名", "第二千名"),
    ("3天2夜", "三天两夜"),
    ("我花了2.5万", "我花了二点五万"),
    # decimals, negatives, fractions, ranges
    ("π是3.14", "π是三点一四"),
    ("0.5公斤", "零点五公斤"),
    ("2.0版", "二点零版"),
    ("3.14159265358979323846是圆周率", "三点一四一五九二六五三五八九七九三二三八四六是圆周率"),
    ("-5度", "负五度"),
    ("温度-5°C", "温度负五摄氏度"),
    ("1/2的人", "二分之一的人"),
    ("3/4的时间", "四分之三的时间"),
    ("3-5个", "三到五个"),
    ("2-3个", "两到三个"),
    ("5~10分钟", "五到十分钟"),
    ("版本1.2.3", "版本一点二点三"),
    # units
    ("跑了5km", "跑了五公里"),
    ("跑了 5 km", "跑了 五公里"),
    ("气温20°C", "气温二十摄氏度"),
    ("气温20℃", "气温二十摄氏度"),
    ("3.5GB的文件", "三点五GB的文件"),
    ("买了5kg大米", "买了五公斤大米"),
    ("2km的路", "两公里的路"),
    ("身高180cm", "身高一百八十厘米"),
    ("喝了500ml水", "喝了五百毫升水"),
    ("时速120km/h", "时速一百二十公里每小时"),
    ("房子90m²", "房子九十平方米"),
    ("月入1.5k", "月入一千五百"),
    ("85k粉丝", "八万五千粉丝"),
    ("月入5w", "月入五万"),
    ("5G网络", "五G网络"),
    ("4K屏幕", "四K屏幕"),
    ("3-5k的工资", "三千到五千的工资"),
    # chat
    ("主播666", "主播六六六"),
    ("哈哈哈233", "哈哈哈二三三"),
    ("哈哈哈23333", "哈哈哈二三三三三"),
    ("主播加油！！第1名", "主播加油！！第一名"),
    ("520快乐", "五二零快乐"),
    ("我考了520分", "我考了五百二十分"),
    ("我的007", "我的零零七"),
    ("主播+1", "主播加一"),
    ("价格12345678901234567890元", "价格一二三四五六七八九零一二三四五六七八九零元"),
    ("共٣个", "共三个"),
    # mixed Chinese and English: English-context digits stay for the English stage
    ("我今年25岁, I am 25", "我今年二十五岁, I am 25"),
    ("I have 3 apples 和 5个梨", "I have 3 apples 和 五个梨"),
    ("iPhone15很好", "iPhone十五很好"),
    ("I ran 5km today", "I ran 5km today"),
    ("meet at 10:30 tomorrow", "meet at 10:30 tomorrow"),
    ("call 555-123-4567 now", "call 555-123-4567 now"),
    ("up 15% today", "up 15% today"),
    ("it costs $5", "it costs $5"),
    ("666", "666"),  # no letters around: English, as the context rule says (lang="zh" reads 六六六)
    ("", ""),
    ("没有数字", "没有数字"),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] or "empty" for c in CASES])
def test_reading(text: str, expected: str) -> None:
    assert expand_chinese(text, NormalizeOptions()) == expected


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] or "empty" for c in CASES])
def test_reading_twice_changes_nothing(text: str, expected: str) -> None:
    for options in (DEFAULTS, ZH):
        once = expand_chinese(text, options)
        assert expand_chinese(once, options) == once


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100", "一百"),
        ("10000", "一万"),
        ("2", "二"),
        ("12", "十二"),
        ("15%", "百分之十五"),
        ("3:2", "三比二"),
        ("666", "六六六"),
        ("886", "八八六"),
        ("¥100", "一百元"),
        ("$5", "五美元"),
        ("I have 3 apples", "I have 三 apples"),
        ("1" * 20, "一" * 20),
    ],
)
def test_lang_zh_reads_every_number_in_chinese(text: str, expected: str) -> None:
    assert expand_chinese(text, ZH) == expected


@pytest.mark.parametrize("text", ["我有3个苹果", "2026年12月2日", "涨了15%", "100"])
def test_lang_en_numbers_off_and_disabled_leave_the_text_alone(text: str) -> None:
    assert expand_chinese(text, DEFAULTS.replace(lang="en")) == text
    assert expand_chinese(text, DEFAULTS.replace(numbers=False)) == text
    assert expand_chinese(text, ZH.replace(numbers=False)) == text
    assert expand_chinese(text, ZH.replace(enabled=False)) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("跑了5km", "跑了五km"),
        ("气温20°C", "气温二十°C"),
        ("跑了 5 km", "跑了 五 km"),
        ("月入5w", "月入五万"),  # 万 is a numeral, not a unit
        ("3-5个", "三到五个"),
    ],
)
def test_units_off_keeps_the_unit_as_written(text: str, expected: str) -> None:
    assert expand_chinese(text, DEFAULTS.replace(units=False)) == expected


def test_phone_off_reads_a_phone_number_as_a_number() -> None:
    out = expand_chinese("电话13812345678", DEFAULTS.replace(phone=False))
    assert out == "电话一百三十八亿一千二百三十四万五千六百七十八"


def test_a_cn2an_error_falls_back_to_digits(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> str:
        raise ValueError("boom")

    monkeypatch.setattr(chinese_readings.cn2an, "an2cn", broken)
    for cached in (chinese_readings.cardinal, chinese_readings.digit_string):
        cached.cache_clear()
    try:
        assert expand_chinese("我有30个苹果，3.5元", DEFAULTS) == "我有三零个苹果，三点五元"
    finally:
        for cached in (chinese_readings.cardinal, chinese_readings.digit_string):
            cached.cache_clear()  # no fallback reading stays cached for the other tests


@pytest.mark.parametrize(
    "text",
    [
        "\ud800中3\udfff个",
        "\x00\x01第2\x7f名",
        "中" + "1" * 5000 + "个",
        "中" + "1," * 5000,
        "中" + "1." * 5000,
        "中" + "1-" * 5000,
        "中" + "1:" * 5000,
        "中" + "1/" * 5000,
        "中" + "-" * 5000 + "5",
    ],
    ids=lambda t: repr(t[:6]),
)
def test_odd_input_never_raises_and_leaves_no_digit(text: str) -> None:
    out = expand_chinese(text, ZH)
    assert not any("0" <= ch <= "9" for ch in out)


def test_a_100k_character_text_completes() -> None:
    line = "主播666，我有3个苹果，2026年12月2日10:30花了¥100，跑了5km，I am 25 years old，"
    text = (line * (100_000 // len(line) + 1))[:100_000]
    out = expand_chinese(text, DEFAULTS)
    assert out.count("二零二六年十二月二日十点三十分") == text.count("2026年12月2日10:30")
    assert out.count("I am 25 years") == text.count("I am 25 years")
    assert not any("0" <= ch <= "9" for ch in out.replace("I am 25 years", ""))
