"""The voice store's on-disk indexes: their records, parsing (validated as a whole) and serialisation.

``overrides/overrides.json``: ``{"format": 1, "voices": {id: {"text", "audio", "updated_at"}}}``;
``voices/voices.json``: ``{"format": 1, "voices": [{"id", "name", "language", "reference_text", "audio",
"created_at"}]}``. Audio is named by content (``<id>-<16 hex>.<ext>``) in the ``audio/`` folder beside each
index. A corrupt index is moved aside (``<name>.corrupt-<unix time>``), logged and never half-applied.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ishowtts.config import is_valid_voice_id
from ishowtts.logging_setup import kv
from ishowtts.voices.atomic import atomic_write_text
from ishowtts.voices.audio_io import DecodedAudio, read_audio_file

log = logging.getLogger(__name__)

INDEX_FORMAT = 1
AUDIO_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}-[0-9a-f]{16}\.(wav|flac|ogg|mp3)$")
CORRUPT_SUFFIX = ".corrupt-"

T = TypeVar("T")


@dataclass
class StoredVoice:
    id: str
    name: str
    language: str
    text: str
    audio_path: Path | None
    preload: bool
    created_at: str | None = None  # set for API-created voices
    decoded: DecodedAudio | None = None


@dataclass
class StoredOverride:
    text: str | None = None
    audio: str | None = None  # file name under overrides/audio/
    updated_at: str = ""
    decoded: DecodedAudio | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "audio": self.audio, "updated_at": self.updated_at}


def load_index(path: Path, parse: Callable[[Any], T], message: str) -> tuple[T | None, bool]:
    """``(parsed, ok)``: ``(None, True)`` when there is no index, ``(None, False)`` when it was corrupt (then
    it has been moved aside and logged with ``message``)."""
    if not path.exists():
        return None, True
    try:
        return parse(json.loads(path.read_text(encoding="utf-8"))), True
    except (OSError, ValueError, TypeError, KeyError) as exc:
        aside = move_aside(path)
        log.error(message, extra=kv(path=path, error=exc, moved_to=aside))
        return None, False


def has_corrupt_backup(path: Path) -> bool:
    """A moved-aside copy of ``path`` exists (the files it names may still be wanted)."""
    return any(path.parent.glob(f"{path.name}{CORRUPT_SUFFIX}*"))


def move_aside(path: Path) -> Path | None:
    aside = path.with_name(f"{path.name}{CORRUPT_SUFFIX}{int(time.time())}")
    try:
        path.replace(aside)
    except OSError:
        return None
    return aside


def _check_audio_name(vid: str, audio: Any) -> str:
    if not isinstance(audio, str) or not AUDIO_NAME_RE.match(audio) or not audio.startswith(vid + "-"):
        raise ValueError(f"{vid}.audio: invalid file name {audio!r}")
    return audio


def parse_overrides(doc: Any, audio_dir: Path) -> dict[str, StoredOverride]:
    """Validate the whole index (incl. decoding every audio file) before any of it is applied."""
    if (
        not isinstance(doc, dict)
        or doc.get("format") != INDEX_FORMAT
        or not isinstance(doc.get("voices"), dict)
    ):
        raise ValueError(f"unexpected structure (expected format {INDEX_FORMAT} with a 'voices' table)")
    result: dict[str, StoredOverride] = {}
    for vid, item in doc["voices"].items():
        if not is_valid_voice_id(vid):
            raise ValueError(f"invalid voice id {vid!r}")
        if not isinstance(item, dict):
            raise ValueError(f"{vid}: entry must be an object")
        text, audio, updated = item.get("text"), item.get("audio"), item.get("updated_at", "")
        if text is not None and not isinstance(text, str):
            raise ValueError(f"{vid}.text: must be a string or null")
        if not isinstance(updated, str):
            raise ValueError(f"{vid}.updated_at: must be a string")
        ov = StoredOverride(text=text or None, updated_at=updated)
        if audio is not None:
            ov.audio = _check_audio_name(vid, audio)
            ov.decoded, _ = read_audio_file(audio_dir / audio)
        if ov.text is None and ov.audio is None:
            continue
        result[vid] = ov
    return result


def parse_created(doc: Any, audio_dir: Path) -> list[StoredVoice]:
    if (
        not isinstance(doc, dict)
        or doc.get("format") != INDEX_FORMAT
        or not isinstance(doc.get("voices"), list)
    ):
        raise ValueError(f"unexpected structure (expected format {INDEX_FORMAT} with a 'voices' list)")
    voices = []
    for item in doc["voices"]:
        if not isinstance(item, dict) or not is_valid_voice_id(item.get("id")):
            raise ValueError(f"invalid entry {item!r:.80}")
        vid = item["id"]
        audio = _check_audio_name(vid, item.get("audio"))
        fields = {k: item.get(k) for k in ("name", "language", "reference_text", "created_at")}
        if not all(isinstance(v, str) for v in fields.values()):
            raise ValueError(f"{vid}: name, language, reference_text and created_at must be strings")
        path = audio_dir / audio
        decoded, _ = read_audio_file(path)
        voices.append(
            StoredVoice(
                vid,
                fields["name"],
                fields["language"],
                fields["reference_text"],
                path,
                True,
                fields["created_at"],
                decoded,
            )
        )
    return voices


def write_overrides(path: Path, overrides: dict[str, StoredOverride]) -> None:
    doc = {"format": INDEX_FORMAT, "voices": {vid: ov.to_json() for vid, ov in sorted(overrides.items())}}
    atomic_write_text(path, json.dumps(doc, ensure_ascii=False, indent=2) + "\n")


def write_created(path: Path, created: list[StoredVoice]) -> None:
    doc = {
        "format": INDEX_FORMAT,
        "voices": [
            {
                "id": v.id,
                "name": v.name,
                "language": v.language,
                "reference_text": v.text,
                "audio": v.audio_path.name if v.audio_path else None,
                "created_at": v.created_at,
            }
            for v in created
        ],
    }
    atomic_write_text(path, json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
