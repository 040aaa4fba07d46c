"""Structured logging: ``key=value`` fields after the message, one line per event.

Use ``log.info("synthesised", extra={"fields": {"voice": v, "rtf": 0.02}})`` or the ``kv`` helper.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

_FMT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        fields: dict[str, Any] | None = getattr(record, "fields", None)
        if fields:
            base += " " + " ".join(f"{k}={_fmt(v)}" for k, v in fields.items())
        return base


def _fmt(v: Any) -> str:
    s = str(v)
    return f'"{s}"' if (" " in s or not s) else s


def kv(**fields: Any) -> dict[str, Any]:
    """``log.info("msg", extra=kv(a=1))``"""
    return {"fields": fields}


def configure_logging(level: str = "info") -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter(_FMT))
    root.handlers[:] = [handler]
    root.setLevel(level.upper() if isinstance(level, str) else level)
