"""The config layer's value checks, shared by ``config.py`` and ``danmaku/settings.py``.

A validator is ``check(key, value) -> parsed value``; on bad input it raises :class:`ConfigError` whose
message starts with the key (``engine.nfe: must be an int in 1..64, got 'x'``). This module sits at the
bottom of the layers: it imports nothing of ishowtts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "ConfigError",
    "Validator",
    "auto_bool",
    "boolean",
    "choice",
    "integer",
    "non_empty_str",
    "number",
    "opt_path",
    "opt_str",
    "path",
    "str_list",
    "str_tuple",
    "text",
]

Validator = Callable[[str, Any], Any]


class ConfigError(ValueError):
    """A config value is invalid; the message starts with the offending key."""


def integer(lo: int, hi: int | None = None) -> Validator:
    """An int (not a bool) in ``lo..hi``, or ``>= lo`` when ``hi`` is None."""

    def check(key: str, v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or v < lo or (hi is not None and v > hi):
            rng = f"in {lo}..{hi}" if hi is not None else f">= {lo}"
            raise ConfigError(f"{key}: must be an int {rng}, got {v!r}")
        return v

    return check


def number(lo: float, hi: float | None = None, *, lo_open: bool = False) -> Validator:
    """An int or float (not a bool) in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``), or ``>= lo`` / ``> lo``
    when ``hi`` is None; returned as a float."""

    def check(key: str, v: Any) -> float:
        ok = not isinstance(v, bool) and isinstance(v, (int, float))
        if ok:
            f = float(v)
            ok = (f > lo if lo_open else f >= lo) and (hi is None or f <= hi)
        if not ok:
            if hi is None:
                bound = f"{'>' if lo_open else '>='} {lo}"
            else:
                bound = f"in ({lo}, {hi}]" if lo_open else f"in [{lo}, {hi}]"
            raise ConfigError(f"{key}: must be a number {bound}, got {v!r}")
        return float(v)

    return check


def boolean(key: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(f"{key}: must be true or false, got {v!r}")
    return v


def auto_bool(key: str, v: Any) -> bool | None:
    """true, false or ``"auto"`` (None: decided at run time)."""
    if isinstance(v, str) and v.strip().lower() == "auto":
        return None
    if not isinstance(v, bool):
        raise ConfigError(f'{key}: must be true, false or "auto", got {v!r}')
    return v


def non_empty_str(key: str, v: Any) -> str:
    """A string with something besides white space; returned stripped."""
    if not isinstance(v, str) or not v.strip():
        raise ConfigError(f"{key}: must be a non-empty string, got {v!r}")
    return v.strip()


def text(key: str, v: Any) -> str:
    """Any string (may be empty); returned stripped."""
    if not isinstance(v, str):
        raise ConfigError(f"{key}: must be a string, got {v!r}")
    return v.strip()


def opt_str(key: str, v: Any) -> str | None:
    """A string, stripped; None, or a blank string, is None."""
    if v is None:
        return None
    return text(key, v) or None


def choice(*choices: str, none_alias: str | None = None) -> Validator:
    """One of ``choices`` (case-insensitive, returned lower-case); ``none_alias`` (e.g. "auto") is None."""

    def check(key: str, v: Any) -> str | None:
        if v is None or (none_alias is not None and v == none_alias):
            if none_alias is None:
                raise ConfigError(f"{key}: must be one of {', '.join(choices)}, got None")
            return None
        if not isinstance(v, str) or v.lower() not in choices:
            allowed = ", ".join(choices + ((none_alias,) if none_alias else ()))
            raise ConfigError(f"{key}: must be one of {allowed}, got {v!r}")
        return v.lower()

    return check


def path(key: str, v: Any) -> Path:
    if isinstance(v, Path):
        return v
    if not isinstance(v, str) or not v.strip():
        raise ConfigError(f"{key}: must be a path string, got {v!r}")
    return Path(v).expanduser()


def opt_path(key: str, v: Any) -> Path | None:
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    return path(key, v)


def str_list(key: str, v: Any) -> list[str]:
    """A list of non-empty strings; a string ``"a,b"`` is split at commas (for environment overrides)."""
    if isinstance(v, str):
        v = [s for s in (p.strip() for p in v.split(",")) if s]
    if not isinstance(v, list) or not all(isinstance(s, str) and s for s in v):
        raise ConfigError(f"{key}: must be a list of non-empty strings, got {v!r}")
    return list(v)


def str_tuple(key: str, v: Any) -> tuple[str, ...]:
    """A list of strings, each stripped, blank ones dropped; a bare string is an error."""
    if not isinstance(v, (list, tuple)) or not all(isinstance(s, str) for s in v):
        raise ConfigError(f"{key}: must be a list of strings, got {v!r}")
    return tuple(s.strip() for s in v if s.strip())
