"""The danmaku state that survives a restart: per-user voices, ``!tts ban`` list and the settings changed
from the page. One JSON file in the data dir, written atomically (a temporary file in the same directory,
flushed and fsynced, then ``os.replace``), so a crash mid-write leaves the previous version intact.

A missing file is an empty state; an unreadable one is logged, kept aside as ``<name>.bad`` and replaced by
an empty state (never a crash at start-up, never silently overwritten).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from ishowtts.logging_setup import kv

log = logging.getLogger(__name__)

FILE_NAME = "danmaku_state.json"
_VERSION = 1


class StateStore:
    """``path=None``: memory only (tests, or a server without a data dir)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.data: dict[str, Any] = {"version": _VERSION, "voices": {}, "banned": [], "settings": {}}
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            bad = path.with_name(path.name + ".bad")
            with contextlib.suppress(OSError):
                os.replace(path, bad)
            log.error("danmaku state unreadable; starting empty", extra=kv(path=str(path), error=str(exc)))
            return
        if not isinstance(raw, dict):
            log.error("danmaku state is not an object; starting empty", extra=kv(path=str(path)))
            return
        voices = raw.get("voices")
        if isinstance(voices, dict):
            self.data["voices"] = {
                str(k): v for k, v in voices.items() if isinstance(k, str) and isinstance(v, str) and v
            }
        banned = raw.get("banned")
        if isinstance(banned, list):
            self.data["banned"] = sorted({b for b in banned if isinstance(b, str) and b})
        settings = raw.get("settings")
        if isinstance(settings, dict):
            self.data["settings"] = settings

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.data, f, ensure_ascii=False, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
