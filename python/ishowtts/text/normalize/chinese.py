"""Numbers in Chinese context -> Chinese readings: "2026年" -> "二零二六年", "15%" -> "百分之十五",
"10:30" -> "十点三十分", "3-5个" -> "三到五个", "5km" -> "五公里".

The numerals come from cn2an (``an2cn``, "low" for cardinals, "direct" for digit-by-digit): it is well
kept, reads decimals, percentages and dates the way Mandarin speakers say them, and saves hand-writing
the rules of 零 and 十 in long numbers. This module only finds the expressions and picks the reading.

Which expressions are Chinese: the language around the whole expression (``"5km"`` with its unit, ``"15%"``
with its sign), see :func:`~ishowtts.text.normalize.context.surrounding_language`; ``lang="zh"`` reads
every number in Chinese, ``lang="en"`` leaves the text alone. Anything not read in Chinese is left as it
was, for the English stage.

Rules for the ambiguous cases:

* 两 vs 二: a lone 2 is 两 before a measure word or 百/千/万/亿, before a unit, after a currency sign
  and as the hour of a time ("2个" 两个, "2万" 两万, "2km" 两公里, "¥2" 两元, "2:30" 两点三十分), and
  2000, 20000... start with 两 ("两千"); elsewhere 二 ("2", "第2", "第2000", "2月", "2号", "2楼", "12",
  "2°C").
* years: four digits before 年 are read digit by digit ("2026年" 二零二六年); other counts before 年 are
  cardinals ("10年" 十年).
* phone numbers (``phone`` option: mainland mobiles, ``0xx-xxxxxxxx`` landlines, 400/800 numbers,
  ``xxx-xxx-xxxx``) are read digit by digit with 1 as 幺, the way mainland speakers read numbers out;
  other digit strings with a leading zero ("007") digit by digit with 一.
* ``H:MM`` (two-digit minutes, hour <= 24, minutes and seconds <= 59) is a time unless 比/赢/输/战绩
  comes just before it; any other ``a:b`` is a score ("3:2" 三比二, "比分10:12" 十比十二).
* ``a-b`` and ``a~b`` are ranges ("3-5个" 三到五个), except ``a-b`` with b <= a and no unit, a score
  ("3-0" 三比零); ``yyyy-mm-dd``, ``yyyy/mm/dd``, ``yyyy.mm.dd`` are dates; ``a/b`` is a fraction ("1/2"
  二分之一).
* units (``units`` option): metric lengths, weights, volumes, temperatures, time, frequency, power get
  their Chinese names ("5kg" 五公斤, "5km" 五公里); data sizes keep their letters ("3.5GB" 三点五GB,
  "5G" 五G), as they are said. With ``units`` off the number is read and the unit kept ("五km").
  k and w after a number are the chat shorthands 千 and 万 ("1.5k" 一千五百, "5w" 五万).
* chat numbers standing alone are read digit by digit: runs of one digit ("666" 六六六), 233...,
  520, 521, 1314, 886 (not before a measure word: "520分" 五百二十分).
"""

from __future__ import annotations

import re
import unicodedata

from ishowtts.text.normalize.chinese_readings import (
    CURRENCY,
    NUMERAL_SUFFIXES,
    UNITS,
    cardinal,
    decimal,
    digit_string,
    phone_digits,
    takes_liang,
)
from ishowtts.text.normalize.context import surrounding_language
from ishowtts.text.normalize.options import NormalizeOptions

__all__ = ["expand_chinese"]

# Integers: 1,234,567 or up to 16 plain digits (longer runs are read digit by digit by the last branch).
# Every quantifier is bounded or meets a disjoint character, and every branch starts only at the start
# of a digit run, so the scan is linear in the length of the text.
_INT = r"(?:[0-9]{1,3}(?:,[0-9]{3}){1,5}(?![0-9])|[0-9]{1,16}(?![0-9]))"
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
_CUR = "[" + "".join(CURRENCY) + "]"

_PHONE = r"""
  | (?P<phone>(?:1[3-9][0-9](?:[-\ ]?[0-9]{4}){2}     # mobile 138 1234 5678
               | 0[0-9]{2,3}-[0-9]{7,8}                 # landline 010-12345678
               | [48]00-?[0-9]{3}-?[0-9]{4}             # 400-820-8820
               | [0-9]{3}-[0-9]{3}-[0-9]{4}             # 555-123-4567
              )(?![0-9]))
"""

_TEMPLATE = rf"""
  (?<![0-9])(?:
      (?P<date>(?P<dy>[0-9]{{4}})(?P<dsep>[-/.])(?P<dm>[0-9]{{1,2}})(?P=dsep)(?P<dd>[0-9]{{1,2}})(?![0-9]))
    | (?P<clock>(?P<ch>[0-9]{{1,2}}):(?P<cm>[0-9]{{1,2}})(?::(?P<cs>[0-9]{{1,2}}))?(?![0-9]))
    @PHONE@
    | (?P<frac>(?P<fn>[0-9]{{1,16}})/(?P<fd>[0-9]{{1,16}})(?![0-9]))
    | (?P<version>[0-9]{{1,16}}(?:\.[0-9]{{1,16}}){{2,8}}(?![0-9]))
  )
  | (?P<qty>
      (?:(?<![0-9A-Za-z])(?P<sign>[-−+]))?
      (?P<cur>{_CUR})?
      (?<![0-9])(?P<a>{_INT})(?:\.(?P<af>[0-9]+))?
      (?:(?P<apct>[%‰])?(?P<rsep>[-~])(?P<cur2>{_CUR})?(?P<b>{_INT})(?:\.(?P<bf>[0-9]+))?)?
      (?P<suf>[%‰]|(?:\ (?=[A-Za-z°][A-Za-z²³/]))?(?P<unit>{_UNIT_ALT})(?![A-Za-z]))?
  )
  | (?P<digits>[0-9]+)
  | (?P<other>\d+)
"""

_WITH_PHONE = re.compile(_TEMPLATE.replace("@PHONE@", _PHONE), re.VERBOSE)
_WITHOUT_PHONE = re.compile(_TEMPLATE.replace("@PHONE@", ""), re.VERBOSE)

_SLANG = re.compile(r"([0-9])\1{2,}|23{2,}|520|521|1314|886")
_SCORE_WORDS = ("比", "赢", "输", "战绩")
_DATE_WORDS = "月日号时点分秒"  # after these a leading zero is just a zero: "05月" 五月
_SIGNS = {"-": "负", "−": "负", "+": "加"}
_PERCENT = {"%": "百分之", "‰": "千分之"}


class _Reader:
    """One pass over one text: the match handlers, with the text and options at hand."""

    def __init__(self, text: str, opts: NormalizeOptions) -> None:
        self.text = text
        self.opts = opts

    def is_zh(self, start: int, end: int) -> bool:
        return self.opts.lang == "zh" or surrounding_language(self.text, start, end) == "zh"

    def __call__(self, m: re.Match[str]) -> str:
        if not self.is_zh(m.start(), m.end()):
            return m.group(0)
        kind = m.lastgroup
        if kind == "date":
            return self.date(m)
        if kind == "clock":
            return self.clock(m)
        if kind == "phone":
            return phone_digits("".join(c for c in m.group(0) if c.isdigit()))
        if kind == "frac":
            num, den = m.group("fn"), m.group("fd")
            if den.strip("0") == "":
                return f"{cardinal(num)}/{cardinal(den)}"
            return f"{cardinal(den)}分之{cardinal(num)}"
        if kind == "version":
            return "点".join(cardinal(p) for p in m.group(0).split("."))
        if kind == "qty":
            return self.quantity(m)
        if kind == "digits":
            return digit_string(m.group(0))
        return digit_string("".join(str(unicodedata.decimal(c, 0)) for c in m.group(0)))

    def date(self, m: re.Match[str]) -> str:
        y, mo, d = m.group("dy"), int(m.group("dm")), int(m.group("dd"))
        if 1 <= mo <= 12 and 1 <= d <= 31:
            return f"{digit_string(y)}年{cardinal(str(mo))}月{cardinal(str(d))}日"
        sep = m.group("dsep")
        joiner = "点" if sep == "." else sep
        return joiner.join((digit_string(y), cardinal(m.group("dm")), cardinal(m.group("dd"))))

    def clock(self, m: re.Match[str]) -> str:
        h, mi, s = m.group("ch"), m.group("cm"), m.group("cs")
        before = self.text[max(0, m.start() - 8) : m.start()]
        is_time = (
            len(mi) == 2
            and int(h) <= 24
            and int(mi) <= 59
            and (s is None or (len(s) == 2 and int(s) <= 59))
            and not any(w in before for w in _SCORE_WORDS)
        )
        if not is_time:
            return "比".join(cardinal(p) for p in (h, mi, s) if p is not None)
        out = ("两" if int(h) == 2 else cardinal(h)) + "点"
        if int(mi) or (s is not None and int(s)):
            out += ("零" if mi.startswith("0") and int(mi) else "") + cardinal(mi) + "分"
        if s is not None and int(s):
            out += ("零" if s.startswith("0") else "") + cardinal(s) + "秒"
        return out

    def number(
        self, digits: str, frac: str | None, *, liang: bool, bare: bool, ordinal: bool, following: str
    ) -> str:
        """One number of a quantity; ``bare``: no sign, unit, range or currency around it."""
        digits = digits.replace(",", "")
        if frac is not None:
            return decimal(digits, frac)
        if liang and digits == "2":
            return "两"
        if len(digits) > 1 and digits.startswith("0") and not following.startswith(tuple(_DATE_WORDS)):
            return digit_string(digits)
        if bare and len(digits) == 4 and following.startswith("年"):
            return digit_string(digits)
        if bare and _SLANG.fullmatch(digits) and not takes_liang(following):
            return digit_string(digits)
        spoken = cardinal(digits)
        if not ordinal and spoken.startswith(("二千", "二万", "二亿")):  # "2000" 两千, "2万" 两万
            spoken = "两" + spoken[1:]
        return spoken

    def quantity(self, m: re.Match[str]) -> str:
        sign, cur = m.group("sign"), m.group("cur") or m.group("cur2")
        unit, suf = m.group("unit"), m.group("suf")
        a, af, b, bf = m.group("a"), m.group("af"), m.group("b"), m.group("bf")
        if unit == "k":  # "1.5k" -> 1500, read as "一千五百" (not "一点五千")
            (a, af), unit = _times_thousand(a, af), None
            if b is not None:
                b, bf = _times_thousand(b, bf)
        pct = suf if suf in _PERCENT else m.group("apct")
        following = self.text[m.end() : m.end() + 3]
        ordinal = m.start() > 0 and self.text[m.start() - 1] == "第"
        if unit is not None:
            liang = UNITS[unit][1]
        elif cur is not None:
            liang = True
        else:
            liang = suf is None and takes_liang(following)
        liang = liang and not ordinal and sign is None and pct is None
        bare = sign is None and cur is None and suf is None and not ordinal
        years = bare and b is not None and len(a) == len(b) == 4 and following.startswith("年")
        after_a = "年" if years else following
        first = self.number(
            a, af, liang=liang, bare=bare and (b is None or years), ordinal=ordinal, following=after_a
        )
        second = None
        if b is not None:
            second = self.number(b, bf, liang=liang, bare=bare, ordinal=ordinal, following=following)
        prefix = _SIGNS.get(sign or "", "")
        if pct is not None:
            word = _PERCENT[pct]
            if second is None:
                return f"{prefix}{word}{first}"
            return f"{prefix}{word}{first}到{word}{second}"
        spoken = prefix + first
        if second is not None:
            spoken += ("比" if _is_score(m) else "到") + second
        if unit is not None:
            if self.opts.units or unit in NUMERAL_SUFFIXES:
                spoken += UNITS[unit][0]
            else:
                spoken += suf
        if cur is not None:
            spoken += CURRENCY[cur]
        return spoken


def _is_score(m: re.Match[str]) -> bool:
    """``a-b`` of whole numbers with b <= a and no unit or currency is a score ("3-0"), not a range."""
    a, b = m.group("a"), m.group("b")
    if b is None or m.group("rsep") != "-" or m.group("unit") or m.group("cur") or m.group("cur2"):
        return False
    if m.group("af") is not None or m.group("bf") is not None:
        return False
    return int(b.replace(",", "")) <= int(a.replace(",", ""))


def _times_thousand(digits: str, frac: str | None) -> tuple[str, str | None]:
    """``("1", "5")`` -> ``("1500", None)``: the number times 1000, as digit strings."""
    frac = frac or ""
    whole = (digits.replace(",", "") + frac[:3].ljust(3, "0")).lstrip("0") or "0"
    return whole, (frac[3:] or None)


_ANY_CJK_RE = re.compile("[\u3100-\u9fff]")  # frontend.is_chinese_char's range


def expand_chinese(text: str, opts: NormalizeOptions) -> str:
    """Every numeric expression in Chinese context -> its Chinese reading; the rest byte for byte."""
    if not opts.enabled or not opts.numbers or opts.lang == "en" or not any(c.isdigit() for c in text):
        return text
    if opts.lang == "auto" and not _ANY_CJK_RE.search(text):  # no Chinese around any number
        return text
    pattern = _WITH_PHONE if opts.phone else _WITHOUT_PHONE
    return pattern.sub(_Reader(text, opts), text)
