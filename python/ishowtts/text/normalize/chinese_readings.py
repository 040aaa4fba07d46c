"""Chinese readings of digit strings (through cn2an) and the word tables of the Chinese number stage.

Every function here takes ASCII digit strings and never raises: a cn2an error on an odd input (it
refuses more than 16 integer digits, for one) falls back to reading the digits one by one.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import cn2an

from ishowtts.logging_setup import kv

__all__ = [
    "CURRENCY",
    "MAX_CARDINAL_DIGITS",
    "NUMERAL_SUFFIXES",
    "UNITS",
    "cardinal",
    "decimal",
    "digit_string",
    "phone_digits",
    "takes_liang",
]

log = logging.getLogger(__name__)

#: longer integer parts are read digit by digit (cn2an's limit, and nobody says "一千万亿" for an id)
MAX_CARDINAL_DIGITS = 16

# The digits one by one, only for when cn2an refuses a string: a reading must never raise.
_FALLBACK_DIGITS = dict(zip("0123456789", "零一二三四五六七八九", strict=True))


def _fallback(digits: str) -> str:
    return "".join(_FALLBACK_DIGITS.get(c, "") for c in digits)


@lru_cache(maxsize=4096)  # chat repeats its numbers; cn2an takes tens of microseconds a call
def digit_string(digits: str) -> str:
    """``"0123"`` -> ``"零一二三"``."""
    if not digits:
        return ""
    try:
        return str(cn2an.an2cn(digits, "direct"))
    except Exception as exc:  # cn2an raises ValueError and friends on what it does not expect
        log.debug("cn2an digit reading failed", extra=kv(digits=digits[:40], error=repr(exc)))
        return _fallback(digits)


@lru_cache(maxsize=4096)
def cardinal(digits: str) -> str:
    """``"10000"`` -> ``"一万"``; leading zeros are ignored; more than 16 digits -> digit by digit."""
    digits = digits.lstrip("0") or "0"
    if len(digits) > MAX_CARDINAL_DIGITS:
        return digit_string(digits)
    try:
        return str(cn2an.an2cn(digits, "low"))  # integers only: no decimal-precision warning
    except Exception as exc:
        log.debug("cn2an cardinal failed", extra=kv(digits=digits, error=repr(exc)))
        return digit_string(digits)


def decimal(int_part: str, frac_part: str) -> str:
    """``("3", "14")`` -> ``"三点一四"``: the whole part as a cardinal, the fraction digit by digit."""
    whole = cardinal(int_part) if len(int_part.lstrip("0")) <= MAX_CARDINAL_DIGITS else digit_string(int_part)
    if not frac_part:
        return whole
    return f"{whole}点{digit_string(frac_part)}"


def phone_digits(digits: str) -> str:
    """Phone numbers digit by digit, 1 read as 幺 (yāo), as mainland speakers read phone numbers out
    (it keeps 1 and 7 apart on the phone)."""
    return digit_string(digits).replace("一", "幺")


# --- words around numbers -------------------------------------------------------------------------------

# Measure words (and 百/千/万/亿) before which a lone "2" is read 两: "2个" -> "两个", "2万" -> "两万".
# Not here on purpose: 月 日 号 (dates), 楼 级 班 路 (ordinal-like: "2楼" is 二楼), 度 (temperatures).
_LIANG_BEFORE = frozenset(
    "个本只条张位名次天年岁人件台部辆块元斤瓶杯碗双对种样家间层所颗粒句首场局把支根份片点小分周"
    "星米倍遍回步声口头匹棵朵座架艘封页百千万亿毛角秒克吨公升夜晚趟顿节盒包袋箱套桌集章篇段批轮票拳"
    "脚枪发里尺寸亩盘"
)
_LIANG_NOT_BEFORE = ("年级", "年代")  # "2年级" is 二年级


def takes_liang(following: str) -> bool:
    """Whether a lone 2 followed by ``following`` (the next few characters) is read 两."""
    if not following or following[0] not in _LIANG_BEFORE:
        return False
    return not following.startswith(_LIANG_NOT_BEFORE)


# Unit symbols after a number in Chinese context -> (reading, whether a lone 2 before it is 两).
# Data sizes and bit rates keep their letters ("3.5GB" -> "三点五GB"): that is how they are said in
# Mandarin ("三点五G B"), and the later stages spell the letters out; so do K, M, G, T ("5G网络" 五G).
# k and w are the chat shorthands for 千 and 万 ("5w" -> "五万"); capital K and W are not (4K, 5W watts).
UNITS: dict[str, tuple[str, bool]] = {
    "km/h": ("公里每小时", True),
    "m/s": ("米每秒", True),
    "km²": ("平方公里", True),
    "m²": ("平方米", True),
    "cm²": ("平方厘米", True),
    "m³": ("立方米", True),
    "km": ("公里", True),
    "cm": ("厘米", True),
    "mm": ("毫米", True),
    "m": ("米", True),
    "kg": ("公斤", True),
    "mg": ("毫克", True),
    "g": ("克", True),
    "ml": ("毫升", True),
    "mL": ("毫升", True),
    "L": ("升", True),
    "°C": ("摄氏度", False),
    "℃": ("摄氏度", False),
    "°F": ("华氏度", False),
    "℉": ("华氏度", False),
    "°": ("度", False),
    "ms": ("毫秒", True),
    "s": ("秒", True),
    "min": ("分钟", True),
    "h": ("小时", True),
    "kHz": ("千赫", True),
    "MHz": ("兆赫", True),
    "GHz": ("吉赫", True),
    "Hz": ("赫兹", True),
    "kW": ("千瓦", True),
    "W": ("瓦", True),
    "mAh": ("毫安时", True),
    "V": ("伏", True),
    "fps": ("帧每秒", True),
    "KB": ("KB", True),
    "kB": ("kB", True),
    "MB": ("MB", True),
    "GB": ("GB", True),
    "TB": ("TB", True),
    "Mbps": ("Mbps", True),
    "Gbps": ("Gbps", True),
    "K": ("K", True),  # "4K" 四K
    "M": ("M", True),  # "100M宽带" 一百M
    "G": ("G", True),  # "5G网络" 五G, "3.5G流量"
    "T": ("T", True),  # "1T硬盘" 一T
    "k": ("千", True),
    "w": ("万", True),
}

#: units that are really numerals (read even with the units option off)
NUMERAL_SUFFIXES = frozenset({"k", "w"})

# A currency sign before a number -> the word after its reading.
CURRENCY: dict[str, str] = {"¥": "元", "￥": "元", "$": "美元", "€": "欧元", "£": "英镑"}
