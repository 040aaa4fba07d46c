"""English readings of everything with digits in it (see :mod:`.english` for the rules chosen).

Passes, in order, each one regular expression without nested quantifiers (linear in the text):
phone numbers, dates, times, then a rewrite of number-dash-number ("3-5" -> "3 to 5"), number x number
and letter-dash-digit joints, then the quantities (money, percent, units, ordinals, decades, years,
feet and inches, "#1", versions, fractions, plain numbers), and last any digit left, as a cardinal.
"""

from __future__ import annotations

import re

from ishowtts.text.normalize.english_words import (
    CURRENCIES,
    MONTH_NUMBERS,
    MONTHS,
    SCALES,
    UNITS,
    cardinal,
    decimal,
    digits,
    number,
    ordinal,
    plural_last,
    year,
)
from ishowtts.text.normalize.options import NormalizeOptions

__all__ = ["expand_numbers"]

_INT = r"(?:[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]+)"
_NUM = rf"{_INT}(?:\.[0-9]+)?"
_L = r"(?<![0-9A-Za-z])"  # nothing alphanumeric right before
_R = r"(?![0-9A-Za-z])"  # nothing alphanumeric right after
_CUR = "[" + "".join(CURRENCIES) + "]"
_MINUS = "[-\u2212]"


def _pad(m: re.Match[str], words: str) -> str:
    """``words`` in place of the match, with a space where it would touch a letter or digit."""
    s, a, b = m.string, m.start(), m.end()
    if a > 0 and s[a - 1].isascii() and s[a - 1].isalnum():
        words = " " + words
    if b < len(s) and s[b].isascii() and s[b].isalnum():
        words += " "
    return words


# --- phone numbers --------------------------------------------------------------------------------------

_PHONE_RE = re.compile(
    rf"{_L}(?:\+[0-9]{{1,3}}[ .-]?)?(?:\([0-9]{{3}}\) ?|[0-9]{{3}}[ .-])[0-9]{{3}}[ .-][0-9]{{4}}{_R}"
    rf"|(?<![0-9A-Za-z+])\+[0-9]{{1,3}}(?:[ .-][0-9]{{2,4}}){{2,4}}{_R}"
    # a bare run of 10-13 digits is a phone number or an id ("13812345678"), not "thirteen billion ..."
    rf"|{_L}[1-9][0-9]{{9,12}}{_R}"
)
_GROUP_RE = re.compile(r"[0-9]+")


def _phone(m: re.Match[str]) -> str:
    groups = [digits(g) for g in _GROUP_RE.findall(m.group(0))]
    lead = "plus " if m.group(0).startswith("+") else ""
    return _pad(m, lead + ", ".join(groups))


# --- dates ----------------------------------------------------------------------------------------------

_MONTH_ALT = "|".join(sorted(MONTH_NUMBERS, key=len, reverse=True))
_ISO_RE = re.compile(rf"{_L}([0-9]{{4}})-(0?[1-9]|1[0-2])-(0?[1-9]|[12][0-9]|3[01])(?![0-9])")
_SLASH_RE = re.compile(r"(?<![0-9A-Za-z/])([0-9]{1,2})/([0-9]{1,2})/([0-9]{4}|[0-9]{2})(?![0-9/])")
_MONTH_DAY_RE = re.compile(
    rf"(?<![A-Za-z])({_MONTH_ALT})\.? ([0-9]{{1,2}})(?:st|nd|rd|th)?(?:,? ([0-9]{{4}}))?(?![0-9A-Za-z:])"
)
_DAY_MONTH_RE = re.compile(
    rf"{_L}([0-9]{{1,2}})(?:st|nd|rd|th)? ({_MONTH_ALT})\.?(?:,? ([0-9]{{4}}))?(?![A-Za-z0-9])"
)
_MONTH_YEAR_RE = re.compile(rf"(?<![A-Za-z])({_MONTH_ALT})\.?,? ([0-9]{{4}}){_R}")


def _year_words(y: str) -> str:
    if len(y) == 2:
        return cardinal(int(y)) if y[0] != "0" else "oh " + digits(y[1])
    return year(int(y))


def _date(month: int, day: int, y: str | None, day_first: bool = False) -> str | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    head = (
        f"the {ordinal(day)} of {MONTHS[month - 1]}" if day_first else f"{MONTHS[month - 1]} {ordinal(day)}"
    )
    return f"{head}, {_year_words(y)}" if y else head


def _iso(m: re.Match[str]) -> str:
    return _pad(m, _date(int(m.group(2)), int(m.group(3)), m.group(1)) or m.group(0))


def _slash(m: re.Match[str]) -> str:
    a, b = int(m.group(1)), int(m.group(2))
    day_first = a > 12 and b <= 12  # 25/12/2026 can only be day/month; otherwise US order
    words = _date(b, a, m.group(3)) if day_first else _date(a, b, m.group(3))
    return _pad(m, words) if words else m.group(0)


def _month_day(m: re.Match[str]) -> str:
    words = _date(MONTH_NUMBERS[m.group(1)], int(m.group(2)), m.group(3))
    return _pad(m, words) if words else m.group(0)


def _day_month(m: re.Match[str]) -> str:
    words = _date(MONTH_NUMBERS[m.group(2)], int(m.group(1)), m.group(3), day_first=True)
    return _pad(m, words) if words else m.group(0)


def _month_year(m: re.Match[str]) -> str:
    return _pad(m, f"{MONTHS[MONTH_NUMBERS[m.group(1)] - 1]} {year(int(m.group(2)))}")


# --- times ----------------------------------------------------------------------------------------------

_AMPM = r"(?: ?([AaPp])\.?[Mm]\.?(?![A-Za-z0-9]))"
_TIME_RE = re.compile(
    rf"(?<![0-9A-Za-z:.])([01]?[0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?{_AMPM}?(?![0-9:])"
    rf"|(?<![0-9A-Za-z:.])(1[0-2]|0?[1-9]){_AMPM}"
)


def _minutes(mm: str) -> str:
    return f"oh {digits(mm[1])}" if mm[0] == "0" else cardinal(int(mm))


def _time(m: re.Match[str]) -> str:
    if m.group(5):  # "3pm"
        return _pad(m, f"{cardinal(int(m.group(5)))} {m.group(6).lower()} m")
    h, mm, ss, ap = int(m.group(1)), m.group(2), m.group(3), m.group(4)
    words = cardinal(h)
    if mm != "00":
        words += " " + _minutes(mm)
    elif not ap:
        words += " o'clock" if h <= 12 else " hundred"
    if ss and ss != "00":
        words += f" and {cardinal(int(ss))} second" + ("" if ss == "01" else "s")
    if ap:
        words += f" {ap.lower()} m"
    return _pad(m, words)


# --- joints: "3-5" -> "3 to 5", "1920x1080" -> "1920 by 1080", "GPT-4" -> "GPT 4" -------------------------

_RANGE_RE = re.compile(
    rf"(?<![0-9A-Za-z.,:/\-])({_CUR}?{_NUM})(?:-| ?\u2013 ?)"
    r"(?=" + _CUR + r"?[0-9]+(?:[.,][0-9]+)*(?![0-9]|[.,\-\u2013][0-9]))"
)
_TIME_RANGE_RE = re.compile(r"(?<=:[0-9]{2})(?:-| ?\u2013 ?)(?=[0-9]{1,2}:[0-9]{2})")
_ABOUT_RE = re.compile(rf"(?<![0-9A-Za-z~])~ ?(?={_CUR}?[0-9])")
_HEART_RE = re.compile(r"(?<![0-9<])<3(?![0-9])")
_RATIO_RE = re.compile(r"(?<![0-9A-Za-z.,:])([0-9]+):(?=[0-9](?![0-9:]))")
_BY_RE = re.compile(rf"{_L}({_NUM}) ?([x×*]) ?(?=[0-9])")
_JOINT_RE = re.compile(r"(?<=[A-Za-z])-(?=[0-9])|(?<=[0-9])-(?=[A-Za-z])")


def _joints(text: str) -> str:
    text = _RANGE_RE.sub(r"\1 to ", text)
    text = _TIME_RANGE_RE.sub(" to ", text)
    text = _RATIO_RE.sub(r"\1 to ", text)
    text = _ABOUT_RE.sub("about ", text)
    text = _HEART_RE.sub("heart", text)
    text = _BY_RE.sub(lambda m: m.group(1) + (" by " if m.group(2) == "x" else " times "), text)
    return _JOINT_RE.sub(" ", text)


# --- quantities -----------------------------------------------------------------------------------------

_UNIT_ALT = "|".join(re.escape(u) for u in sorted([*UNITS, *SCALES, "x"], key=len, reverse=True))
_SCALE_WORDS = "thousand|million|billion|trillion"
_MONEY_SCALE = r"k|K|M|m|mn|B|b|bn|T|tn"
_YEAR_PREP_RE = re.compile(
    r"(?:\b(?:in|since|by|from|year|until|till|before|after|during|circa|around|early|late|mid|of|the|"
    r"summer|winter|spring|fall|autumn)|" + _MONTH_ALT + r")[ -]$",
    re.IGNORECASE,
)
_NOUN_RE = re.compile(r" ([a-z]+)")
_NOT_PLURAL = frozenset(
    "was is has this its as us yes does goes plus minus versus thus always sometimes perhaps whereas his "
    "hers ours yours theirs less unless across besides towards".split()
)
_COUNT_NOUNS = frozenset("people men women children feet times more less by".split())
_RESOLUTION_P = frozenset({"144", "240", "360", "480", "540", "720", "1080", "1440", "2160", "4320"})

_QUANTITY_RE = re.compile(
    "|".join(
        (
            rf"(?P<ver>(?<![A-Za-z0-9])v(?P<vnum>[0-9]+(?:\.[0-9]+)*)){_R}",
            rf"(?P<money>{_L}(?P<msign>{_MINUS})?(?P<cur>{_CUR}) ?(?P<mnum>{_NUM})"
            rf"(?:(?P<mscale>{_MONEY_SCALE})|(?: (?P<mscalew>{_SCALE_WORDS})))?{_R}|"
            rf"{_L}(?P<msign2>{_MINUS})?(?P<mnum2>{_NUM}) ?(?P<cur2>[€£¥₹₩]))",
            rf"(?P<feet>{_L}(?P<ft>[0-9]{{1,2}})['′] ?(?P<inch>[0-9]|1[01])(?:\"|″|'')?(?![0-9A-Za-z']))",
            rf"(?P<decade>{_L}'?(?P<dnum>[12][0-9]{{2}}0|[1-9]0)s{_R})",
            rf"(?P<ord>{_L}(?P<onum>{_INT})(?:st|nd|rd|th|ST|ND|RD|TH){_R})",
            rf"(?P<hash>#(?P<hnum>{_INT}){_R})",
            rf"(?P<pct>{_L}(?P<psign>{_MINUS})?(?P<pnum>{_NUM}) ?%)",
            r"(?P<frac>(?<![0-9A-Za-z/.])(?:(?P<fw>[0-9]{1,6}) )?(?P<fa>[0-9]{1,6})/(?P<fb>[0-9]{1,6})(?![0-9/]|\.[0-9]))",
            rf"(?P<unit>{_L}(?P<usign>{_MINUS})?(?P<unum>{_NUM})(?P<usp> ?)(?P<u>{_UNIT_ALT})(?![A-Za-z0-9]))",
            r"(?P<year>(?<![0-9A-Za-z.,$#\-])(?P<y>1[0-9]{3}|20[0-9]{2})(?![0-9A-Za-z%]|[.,][0-9]))",
            rf"(?P<multi>{_L}[0-9]+(?:\.[0-9]+){{2,}}){_R}",
            rf"(?P<num>(?:(?<![0-9A-Za-z])(?P<nsign>{_MINUS}))?(?<![0-9A-Za-z.])(?P<nnum>{_NUM}|\.[0-9]+))",
        )
    )
)


def _signed(sign: str | None, words: str) -> str:
    return f"minus {words}" if sign else words


def _money(g: dict[str, str | None]) -> str:
    cur, amount = (g["cur"], g["mnum"]) if g["cur"] else (g["cur2"], g["mnum2"])
    assert cur is not None and amount is not None
    one, many, cent, cents = CURRENCIES[cur]
    scale = g["mscale"] or g["mscalew"]
    sign = g["msign"] or g["msign2"]
    if scale:
        return _signed(sign, f"{decimal(amount)} {SCALES[scale]} {many}")
    whole, _, frac = amount.partition(".")
    if frac and (len(frac) > 2 or not cent):
        return _signed(sign, f"{decimal(amount)} {many}")
    whole_n = int(whole.replace(",", "")) if whole.replace(",", "") else 0
    cents_n = int(frac.ljust(2, "0")) if frac else 0
    parts = []
    if whole_n or not cents_n:
        parts.append(f"{number(whole)} {one if whole_n == 1 else many}")
    if cents_n:
        parts.append(f"{cardinal(cents_n)} {cent if cents_n == 1 else cents}")
    return _signed(sign, " and ".join(parts))


def _fraction(a: int, b: int) -> str:
    if (a, b) in ((24, 7), (50, 50)):  # said as two numbers
        return f"{cardinal(a)} {cardinal(b)}"
    if b in (10, 100) or (a >= b > 1):
        return f"{cardinal(a)} out of {cardinal(b)}"
    if 0 < a < b <= 16:
        if b == 2:
            den = "half" if a == 1 else "halves"
        elif b == 4:
            den = "quarter" if a == 1 else "quarters"
        else:
            den = ordinal(b) + ("" if a == 1 else "s")
        return f"{cardinal(a)} {den}"
    return f"{cardinal(a)} over {cardinal(b)}"


def _unit(g: dict[str, str | None], opts: NormalizeOptions) -> str | None:
    amount, u = g["unum"], g["u"]
    assert amount is not None and u is not None
    if u not in UNITS and u in SCALES:
        return _signed(g["usign"], f"{decimal(amount)} {SCALES[u]}")
    if u == "x":
        return None if g["usp"] else _signed(g["usign"], f"{decimal(amount)} times")
    if u == "p" and amount in _RESOLUTION_P:
        return f"{year(int(amount))} p"
    one, many, spaced = UNITS[u]
    if g["usp"] and not spaced:
        return None
    words = _signed(g["usign"], decimal(amount))
    if not opts.units:
        return f"{words} {u}"
    return f"{words} {one if amount == '1' and not g['usign'] else many}"


def _year(m: re.Match[str], y: str) -> str:
    s, a, b = m.string, m.start(), m.end()
    n = int(y)
    noun = _NOUN_RE.match(s, b, b + 30)
    if noun and (
        noun.group(1) in _COUNT_NOUNS or (noun.group(1).endswith("s") and noun.group(1) not in _NOT_PLURAL)
    ):
        return cardinal(n)  # "1500 people", "1234 points"
    if n >= 1100 or _YEAR_PREP_RE.search(s, max(0, a - 12), a):
        return year(n)
    return cardinal(n)


def _quantity(m: re.Match[str], opts: NormalizeOptions) -> str:
    g = m.groupdict()
    kind = m.lastgroup
    words: str | None
    if kind == "ver":
        words = "version " + " point ".join(number(p) for p in (g["vnum"] or "").split("."))
    elif kind == "money":
        words = _money(g)
    elif kind == "feet":
        ft, inch = int(g["ft"] or 0), int(g["inch"] or 0)
        words = f"{cardinal(ft)} {'foot' if ft == 1 else 'feet'}"
        if inch:
            words += f" {cardinal(inch)} {'inch' if inch == 1 else 'inches'}"
    elif kind == "decade":
        dnum = g["dnum"] or "0"
        words = plural_last(year(int(dnum)) if len(dnum) == 4 else cardinal(int(dnum)))
    elif kind == "ord":
        on = (g["onum"] or "").replace(",", "")
        words = ordinal(int(on)) if len(on) <= 15 else digits(on)
    elif kind == "hash":
        words = "number " + number(g["hnum"] or "")
    elif kind == "pct":
        words = _signed(g["psign"], decimal(g["pnum"] or "")) + " percent"
    elif kind == "frac":
        words = _fraction(int(g["fa"] or 0), int(g["fb"] or 0))
        if g["fw"]:
            mixed = int(g["fa"] or 0) < int(g["fb"] or 0) <= 16
            words = f"{number(g['fw'])} {'and ' if mixed else ''}{words}"
    elif kind == "unit":
        words = _unit(g, opts)
        if words is None:  # "5 in", "5 x": letters that are units only right after the number stay
            words = f"{_signed(g['usign'], decimal(g['unum'] or ''))} {g['u']}"
    elif kind == "multi":
        words = " point ".join(number(p) for p in m.group(0).split("."))
    elif kind == "year":
        words = _year(m, g["y"] or "")
    else:
        words = _signed(g["nsign"], decimal(g["nnum"] or ""))
    return _pad(m, words)


_DIGITS_RE = re.compile(r"[0-9]+")


def expand_numbers(text: str, opts: NormalizeOptions) -> str:
    """Every ASCII digit of ``text`` read as English words."""
    if not _DIGITS_RE.search(text):  # every rule below reads digits
        return text
    if opts.phone:
        text = _PHONE_RE.sub(_phone, text)
    text = _ISO_RE.sub(_iso, text)
    text = _SLASH_RE.sub(_slash, text)
    text = _MONTH_DAY_RE.sub(_month_day, text)
    text = _DAY_MONTH_RE.sub(_day_month, text)
    text = _MONTH_YEAR_RE.sub(_month_year, text)
    text = _joints(text)
    text = _TIME_RE.sub(_time, text)
    text = _QUANTITY_RE.sub(lambda m: _quantity(m, opts), text)
    return _DIGITS_RE.sub(lambda m: _pad(m, number(m.group(0))), text)
