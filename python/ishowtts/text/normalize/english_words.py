"""English number words and the tables the English stage reads with.

Every number word comes from ``num2words`` (well kept, covers cardinals, ordinals, years and decimals in
one tested library), post-processed to American style: no "and", no commas, tens hyphenated as
num2words gives them ("one thousand two hundred thirty-four").
"""

from __future__ import annotations

from functools import lru_cache

from num2words import num2words

__all__ = [
    "CURRENCIES",
    "MAX_CARDINAL_DIGITS",
    "MONTHS",
    "MONTH_NUMBERS",
    "SCALES",
    "UNITS",
    "cardinal",
    "decimal",
    "digits",
    "number",
    "ordinal",
    "plural_last",
    "year",
]

#: a digit run longer than this is read digit by digit (an id or a long code, not an amount)
MAX_CARDINAL_DIGITS = 15

_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _american(words: str) -> str:
    return words.replace(",", "").replace(" and ", " ").replace("oh-", "oh ")


@lru_cache(maxsize=4096)
def cardinal(n: int) -> str:
    if n < 0:
        return "minus " + cardinal(-n)
    return _american(num2words(n))


@lru_cache(maxsize=1024)
def ordinal(n: int) -> str:
    return _american(num2words(n, to="ordinal"))


@lru_cache(maxsize=1024)
def year(n: int) -> str:
    """ "1999" -> "nineteen ninety-nine", "2026" -> "twenty twenty-six", "2005" -> "two thousand five"."""
    return _american(num2words(n, to="year"))


def digits(s: str) -> str:
    """Digit by digit ("0" is "zero"); anything but ASCII digits is skipped."""
    return " ".join(_DIGIT_WORDS[ord(c) - 48] for c in s if "0" <= c <= "9")


def number(s: str) -> str:
    """An integer as written ("1,234", "007", "12345678901234567890")."""
    s = s.replace(",", "")
    if not s:
        return ""
    if len(s) > MAX_CARDINAL_DIGITS or (len(s) > 1 and s[0] == "0"):
        return digits(s)
    return cardinal(int(s))


def decimal(s: str) -> str:
    """ "3.14" -> "three point one four", "1,234.5" -> "... thirty-four point five", ".5" -> "point five"."""
    whole, _, frac = s.partition(".")
    head = number(whole) if whole.replace(",", "") else ""
    if not frac:
        return head
    if whole.replace(",", "") and len(whole.replace(",", "")) > 1 and whole[0] == "0":
        head = digits(whole)
    return (head + " point " + digits(frac)).strip()


def plural_last(words: str) -> str:
    """ "nineteen ninety" -> "nineteen nineties", "twenty ten" -> "twenty tens", "six" -> "sixes"."""
    head, _, last = words.rpartition(" ")
    if last.endswith("y"):
        last = last[:-1] + "ies"
    elif last.endswith(("x", "s")):
        last += "es"
    else:
        last += "s"
    return f"{head} {last}" if head else last


MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")  # fmt: skip
#: written month -> number ("Sept" too); only capitalised forms, so "may" / "march" as words stay words
MONTH_NUMBERS = {m: i + 1 for i, m in enumerate(MONTHS)} | {m[:3]: i + 1 for i, m in enumerate(MONTHS)}
MONTH_NUMBERS["Sept"] = 9

#: sign -> (singular, plural, cent singular, cent plural); "" cents: the currency has no subunit read
CURRENCIES: dict[str, tuple[str, str, str, str]] = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", "", ""),
    "₹": ("rupee", "rupees", "paisa", "paise"),
    "₩": ("won", "won", "", ""),
}

#: scale suffixes after an amount ("$1.5M", "5k", "2bn")
SCALES = {"k": "thousand", "K": "thousand", "m": "million", "M": "million", "mn": "million",
          "b": "billion", "B": "billion", "bn": "billion", "T": "trillion", "tn": "trillion",
          "thousand": "thousand", "million": "million", "billion": "billion", "trillion": "trillion"}  # fmt: skip

# unit -> (singular, plural, may stand after a space). Units that are also common words or letters
# ("in", "m", "s", "h", "g", "l", "W", "V", "K", "p") are read only when written right after the number.
_U: list[tuple[str, str, str, bool]] = [
    ("km", "kilometer", "kilometers", True), ("m", "meter", "meters", False),
    ("cm", "centimeter", "centimeters", True), ("mm", "millimeter", "millimeters", True),
    ("mi", "mile", "miles", False), ("ft", "foot", "feet", True), ("in", "inch", "inches", False),
    ("kg", "kilogram", "kilograms", True), ("g", "gram", "grams", False),
    ("mg", "milligram", "milligrams", True), ("lb", "pound", "pounds", True),
    ("lbs", "pound", "pounds", True), ("oz", "ounce", "ounces", True),
    ("l", "liter", "liters", False), ("L", "liter", "liters", False), ("ml", "milliliter", "milliliters", True),
    ("mL", "milliliter", "milliliters", True), ("s", "second", "seconds", False),
    ("sec", "second", "seconds", True), ("secs", "second", "seconds", True),
    ("min", "minute", "minutes", True), ("mins", "minute", "minutes", True),
    ("h", "hour", "hours", False), ("hr", "hour", "hours", True), ("hrs", "hour", "hours", True),
    ("ms", "millisecond", "milliseconds", True), ("µs", "microsecond", "microseconds", True),
    ("ns", "nanosecond", "nanoseconds", True),
    ("KB", "kilobyte", "kilobytes", True), ("kB", "kilobyte", "kilobytes", True),
    ("MB", "megabyte", "megabytes", True), ("GB", "gigabyte", "gigabytes", True),
    ("TB", "terabyte", "terabytes", True), ("PB", "petabyte", "petabytes", True),
    ("KiB", "kibibyte", "kibibytes", True), ("MiB", "mebibyte", "mebibytes", True),
    ("GiB", "gibibyte", "gibibytes", True), ("TiB", "tebibyte", "tebibytes", True),
    ("kbps", "kilobit per second", "kilobits per second", True),
    ("Kbps", "kilobit per second", "kilobits per second", True),
    ("Mbps", "megabit per second", "megabits per second", True),
    ("Gbps", "gigabit per second", "gigabits per second", True),
    ("Hz", "hertz", "hertz", True), ("kHz", "kilohertz", "kilohertz", True),
    ("MHz", "megahertz", "megahertz", True), ("GHz", "gigahertz", "gigahertz", True),
    ("W", "watt", "watts", False), ("kW", "kilowatt", "kilowatts", True), ("V", "volt", "volts", False),
    ("mAh", "milliamp hour", "milliamp hours", True), ("kWh", "kilowatt hour", "kilowatt hours", True),
    ("mph", "mile per hour", "miles per hour", True), ("km/h", "kilometer per hour", "kilometers per hour", True),
    ("kph", "kilometer per hour", "kilometers per hour", True),
    ("fps", "frame per second", "frames per second", True), ("FPS", "frame per second", "frames per second", True),
    ("bpm", "beat per minute", "beats per minute", True), ("dB", "decibel", "decibels", True),
    ("px", "pixel", "pixels", True), ("°C", "degree Celsius", "degrees Celsius", True),
    ("°F", "degree Fahrenheit", "degrees Fahrenheit", True), ("°", "degree", "degrees", False),
    ("℃", "degree Celsius", "degrees Celsius", True), ("℉", "degree Fahrenheit", "degrees Fahrenheit", True),
    ("m²", "square meter", "square meters", True), ("km²", "square kilometer", "square kilometers", True),
    ("cm²", "square centimeter", "square centimeters", True), ("ft²", "square foot", "square feet", True),
    ("m³", "cubic meter", "cubic meters", True), ("cm³", "cubic centimeter", "cubic centimeters", True),
    ("µm", "micrometer", "micrometers", True), ("µg", "microgram", "micrograms", True),
    ("¢", "cent", "cents", True), ("‰", "per mille", "per mille", True),
    ("K", "K", "K", False), ("p", "p", "p", False), ("yrs", "year", "years", True),
]  # fmt: skip
UNITS: dict[str, tuple[str, str, bool]] = {u: (one, many, spaced) for u, one, many, spaced in _U}
