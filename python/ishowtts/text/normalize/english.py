"""The English stage: what is left after the Chinese stage -> English words (GitHub issue 14).

Numbers are read with ``num2words`` (well kept, covers cardinals, ordinals, years and decimals; its
output is post-processed to American style: no "and", no commas, "twenty-one"). The stage runs, in
order: optional plurals ("friend(s)" -> "friends"), abbreviations, everything with digits in it
(:mod:`.english_numbers`), acronyms, leftover symbols. CJK text and everything between the expressions
is left as it is; each pass is one regular expression without nested quantifiers (linear time), and
the words it writes trigger no rule again (``expand_english`` is idempotent). With ``numbers`` on, no
ASCII digit is left: a digit run no richer rule reads is a cardinal (digit by digit past 15 digits, or
with a leading zero: "007" -> "zero zero seven").

Rules chosen where the writing is ambiguous:

* **Years vs cardinals**: a bare 4-digit 1100-2099 is a year ("1999" -> "nineteen ninety-nine", "2005"
  -> "two thousand five", "2026" -> "twenty twenty-six") unless the next word is a counted noun (a
  plural in -s, or people/men/women/children/feet/times/by): "1500 people", "1234 points" ->
  cardinals. 1000-1099 is a year only after in/since/from/year/until/before/after/during/of/the/a
  month name ("since 1066"). Every other number is a cardinal.
* **Ranges and scores**: number-dash-number with no spaces (or an en dash) reads "X to Y" whatever the
  context: "3-5 days" -> "three to five days", "we won 3-2" -> "we won three to two" (how scores are
  said). Chains ("1-2-3"), ISO dates and phone numbers are not ranges. "16:9" -> "sixteen to nine".
* **Versions**: "v2.0" -> "version two point zero" (each part a cardinal: "v1.10" -> "version one
  point ten"); a plain "3.14" is a decimal, "three point one four".
* **Heights**: "5'11\"" -> "five feet eleven inches", "6'" stays a quote mark.
* "3x" -> "three times"; "1920x1080" -> "... by ..."; "3*4" -> "three times four"; "5k" -> "five
  thousand", "1.5M" -> "one point five million", but "4K" / "10K" -> "four K" (how it is said);
  money scales are always words ("$1.5M" -> "one point five million dollars").
* "1/2" -> "one half", "3/4" -> "three quarters" (denominators up to 16); "/10", "/100" and
  numerator >= denominator -> "out of" ("10/10"); "24/7" -> "twenty-four seven"; else "over".
* Dates: "2026-12-02", "12/02/2026" (US month/day; day/month when the first is over 12), "Dec 2" ->
  "December second, twenty twenty-six"; "2 Dec" -> "the second of December".
* Times: "10:30" -> "ten thirty", "10:05" -> "ten oh five", "10:00" -> "ten o'clock", "3pm" ->
  "three p m". Phone numbers are read digit by digit with "zero", groups separated by commas.
* Acronyms: all-caps words of 2+ letters are spelled ("GPU" -> "G P U", "GPUs" -> "G P Us", "ChatGPT"
  -> "Chat G P T") except a curated set read as words (NASA, FIFA, common short words like "WOW",
  "THE") and shouting: 5+ letters with a vowel ("AMAZING"), or a letter repeated 3 times ("NOOO").
* Symbols: "&" -> "and", "+" -> "plus", "=" -> "equals", "@" -> "at", "%" -> "percent", "°" ->
  "degrees", "×" -> "times", "C++" -> "C plus plus", "C#" -> "C sharp", "#tag" -> "tag", "*so*" ->
  "so" ("#" and "*" are dropped except in "#1" -> "number one" and "5*3" -> "five times three"); the
  symbols the pipeline keeps for this stage (``speakable.STAGE_SYMBOLS``: "€", "²", "℃", "µ", "′", ...)
  are read or mapped here (with ``symbols`` on), so the last filter never changes what a second pass
  would read.
* Phone numbers off: the digit groups are read as numbers. Units off: "5km" -> "five km".
"""

from __future__ import annotations

import re

from ishowtts.text.normalize.english_numbers import expand_numbers
from ishowtts.text.normalize.options import NormalizeOptions

__all__ = ["KNOWN_WORDS", "expand_english"]


def expand_english(text: str, opts: NormalizeOptions) -> str:
    """English readings of the numbers, units, abbreviations, acronyms and symbols in ``text``."""
    if opts.plurals and "(" in text:
        text = _PLURAL_RE.sub(r"\1", text)
    if opts.symbols:  # "*" and "#" (not "#1", "C#") go first: the rules after see what is spoken
        text = _DROP_RE.sub(_drop, text)
    if opts.abbreviations:
        text = _ABBREV_RE.sub(_abbreviation, text)
    if opts.numbers:
        text = expand_numbers(text, opts)
    if opts.acronyms:
        text = _ACRONYM_RE.sub(_acronym, text)
    if opts.symbols:
        text = _SYMBOL_RE.sub(_symbol, text)
    return text


def _pad(m: re.Match[str], words: str) -> str:
    s, a, b = m.string, m.start(), m.end()
    if words and a > 0 and s[a - 1].isascii() and s[a - 1].isalnum():
        words = " " + words
    if words and b < len(s) and s[b].isascii() and s[b].isalnum():
        words += " "
    return words


# --- plurals --------------------------------------------------------------------------------------------

_PLURAL_RE = re.compile(r"(?<=[^\s(])\(((?:e?s|E?S))\)(?![A-Za-z0-9(])")

# --- abbreviations --------------------------------------------------------------------------------------

_TITLES = {"Mr": "Mister", "Mrs": "Missus", "Ms": "Miz", "Prof": "Professor", "Gen": "General",
           "Capt": "Captain", "Lt": "Lieutenant", "Sgt": "Sergeant", "Gov": "Governor", "Mt": "Mount",
           "Fig": "Figure", "Vol": "Volume"}  # fmt: skip
# may end a sentence: the period is kept at the end of the text or before a capital
_CLOSING = {"Jr": "Junior", "Sr": "Senior", "Ave": "Avenue", "Blvd": "Boulevard", "Rd": "Road",
            "Inc": "Incorporated", "Ltd": "Limited", "Corp": "Corporation", "Dept": "Department",
            "etc": "et cetera", "Etc": "Et cetera", "approx": "approximately", "Approx": "Approximately"}  # fmt: skip
_PHRASES = {"e.g.": "for example", "i.e.": "that is", "a.k.a.": "also known as", "w/o": "without",
            "w/": "with", "vs.": "versus", "vs": "versus"}  # fmt: skip
_ABBREV_RE = re.compile(
    r"(?<![A-Za-z])(?:"
    r"(?P<phrase>[Ee]\.[Gg]\.|[Ii]\.[Ee]\.|a\.k\.a\.|[Ww]/o(?![A-Za-z])|[Ww]/(?![A-Za-z0-9])|[Vv][Ss]\.|vs(?![A-Za-z]))"
    r"|(?P<title>(?:" + "|".join(_TITLES) + r")\.(?= ?[A-Z])|(?:Mr|Mrs|Ms|Dr)(?= [A-Z][a-z]))"
    r"|(?P<close>(?:" + "|".join(_CLOSING) + r")\.|(?:etc|approx)(?![A-Za-z]))"
    r"|(?P<place>(?:Dr|St)\.|St(?= [A-Z][a-z]))"
    r"|(?P<no>No\.? ?(?=#?[0-9]))"
    r"|(?P<initials>(?:[A-Z]\.){2,})"
    r")"
)
_CAP_BEFORE_RE = re.compile(r"[A-Z][a-z]+ $")


def _sentence_end(s: str, end: int) -> bool:
    rest = s[end : end + 3].lstrip(" ")
    return not rest or rest[0].isupper()


def _abbreviation(m: re.Match[str]) -> str:
    s, word = m.string, m.group(0)
    kind = m.lastgroup
    if kind == "phrase":
        return _pad(m, _PHRASES[word.lower()])
    if kind == "title":
        return _TITLES.get(word.rstrip("."), {"Dr": "Doctor"}.get(word, word))
    if kind == "no":
        return "number "
    dot = word.endswith(".") and _sentence_end(s, m.end())
    if kind == "close":
        return _CLOSING[word.rstrip(".")] + ("." if dot else "")
    if kind == "initials":
        return " ".join(word.replace(".", "")) + ("." if dot else "")
    # "Dr." / "St.": a title before a capitalised name, a street after one
    base = word.rstrip(".")
    after = s[m.end() : m.end() + 2]
    if len(after) == 2 and after[0] == " " and after[1].isupper():
        return "Doctor" if base == "Dr" else "Saint"
    if _CAP_BEFORE_RE.search(s, max(0, m.start() - 20), m.start()):
        return ("Drive" if base == "Dr" else "Street") + ("." if dot else "")
    return "Doctor" if base == "Dr" else "Street" + ("." if dot else "")


# --- acronyms -------------------------------------------------------------------------------------------

#: all-caps words read as words, not spelled: acronyms said as words, and common short words
KNOWN_WORDS = frozenset(
    """NASA NATO UNESCO UNICEF FIFA UEFA WOW LOL LMAO ROFL YOLO FOMO COVID AIDS LASER RADAR SONAR SCUBA
    TASER GIF JPEG PIN RAM ROM SIM WIFI ASCII CAPTCHA NIMBY SWAT ZIP AWOL DEFCON IKEA JSON YAML OPEC
    POG POGGERS KEK GOAT NOOB OK HAHA LUL OMEGALUL
    A I AM AN AS AT BE BY DO GO HE IF IN IS IT ME MY NO OF OH ON OR SO TO UP WE YES YA YO THE AND FOR ARE
    BUT NOT YOU ALL ANY CAN HAD HER WAS ONE OUR OUT DAY GET HAS HIM HIS HOW MAN NEW NOW OLD SEE TWO WAY
    WHO BOY DID ITS LET PUT SAY SHE TOO USE YAY HEY WHY YEAH WHAT THIS THAT WITH HAVE FROM THEY WILL
    BEEN GOOD MUCH SOME TIME VERY WHEN COME HERE JUST LIKE LONG MAKE MANY MORE ONLY OVER SUCH TAKE THAN
    THEM WELL WERE LOVE HATE BEST GAME WIN WON LOSE LOST EPIC COOL NICE HOLY DAMN STOP HELP FAST SLOW
    KILL DEAD NO NAH YEP NOPE BRO DUDE LETS GOT GIVE SURE FIRE HYPE ODD BIG BAD SAD
    MAD HOT RUN BUY SELL FREE""".split()
)
_ACRONYM_RE = re.compile(r"(?:(?<![A-Za-z0-9'])|(?<=[a-z]))([A-Z]{2,})(s?)(?![A-Za-z0-9])")
_CAMEL_RE = re.compile(r"(?<![A-Za-z])[A-Z][a-z]+$")  # "ChatGPT", "OpenAI": the capitals are spelled
_VOWEL_RE = re.compile(r"[AEIOUY]")
_REPEAT_RE = re.compile(r"([A-Z])\1\1")


def _acronym(m: re.Match[str]) -> str:
    word, plural = m.group(1), m.group(2)
    s, a, b = m.string, m.start(), m.end()
    glued = a > 0 and s[a - 1].isascii() and s[a - 1].isalpha()  # (other letters may be mapped or dropped)
    if glued and not _CAMEL_RE.search(s, max(0, a - 30), a):
        return m.group(0)  # "xGPU": left as written
    joined = (a > 0 and s[a - 1] == "&") or s[b : b + 1] == "&"  # "AT&T"
    if (
        not glued
        and not joined
        and (word in KNOWN_WORDS or (len(word) >= 5 and _VOWEL_RE.search(word)) or _REPEAT_RE.search(word))
    ):
        return m.group(0)
    return (" " if glued else "") + " ".join(word) + plural


# --- symbols --------------------------------------------------------------------------------------------

_SYMBOL_RE = re.compile(
    r"(?P<lang>(?<![A-Za-z0-9])[A-Za-z](?:\+\+|#)(?![A-Za-z0-9+#]))|[&+=@%°×#*²³℃℉‰¢µ−′″€£¥￥₹₩]"
)
_SYMBOL_WORDS = {"&": "and", "+": "plus", "=": "equals", "@": "at", "%": "percent", "°": "degrees",
                 "×": "times", "*": "times", "#": "number", "²": "squared", "³": "cubed", "℃": "degrees Celsius",
                 "℉": "degrees Fahrenheit", "‰": "per mille", "¢": "cents", "µ": "micro", "−": "minus",
                 "′": "'", "″": '"', "€": "euros", "£": "pounds", "¥": "yen", "￥": "yen", "₹": "rupees",
                 "₩": "won"}  # fmt: skip


def _symbol(m: re.Match[str]) -> str:
    if m.group("lang"):
        w = m.group(0)
        return w[0] + (" plus plus" if w.endswith("++") else " sharp")
    words = _SYMBOL_WORDS[m.group(0)]  # "*" and "#" left here stood next to digits ("5*3", "#1")
    if m.group(0) in "′″":  # as the last stage would map them
        return words
    if m.group(0) in "&+=×*−":
        return _spaced(m, words)
    return _pad(m, words)


_DROP_RE = re.compile(r"[*#]")
_C_SHARP_RE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]#(?![A-Za-z0-9+#])")
_TIMES_RE = re.compile(r"[0-9] ?\* ?[0-9]")


def _drop(m: re.Match[str]) -> str:
    """ "*" and "#" are dropped, except in "#1", "C#" and "5*3" (read later); a space keeps what was on
    both sides apart ("a*b" -> "a b")."""
    s, a, b = m.string, m.start(), m.end()
    if m.group(0) == "#" and (s[b : b + 1].isdigit() or _C_SHARP_RE.match(s, max(0, a - 1))):
        return "#"
    if m.group(0) == "*" and (_TIMES_RE.match(s, max(0, a - 1)) or _TIMES_RE.match(s, max(0, a - 2))):
        return "*"
    return "" if a == 0 or b == len(s) or s[a - 1].isspace() or s[b].isspace() else " "


def _spaced(m: re.Match[str], words: str) -> str:
    """Infix symbols: a space on each side unless one is already there ("a&b" -> "a and b")."""
    s, a, b = m.string, m.start(), m.end()
    if a > 0 and not s[a - 1].isspace():
        words = " " + words
    if b < len(s) and not s[b].isspace():
        words += " "
    return words
