"""Voice storage: configured voices, user-created voices and persistent reference overrides.

Layout under ``data_dir``::

    overrides/overrides.json      {"format": 1, "voices": {id: {"text", "audio", "updated_at"}}}
    overrides/audio/<id>-<hash>.<ext>
    voices/voices.json            {"format": 1, "voices": [{"id", "name", "language", "reference_text",
                                                             "audio", "created_at"}]}
    voices/audio/<id>-<hash>.<ext>

Every write is atomic (new audio file under a content-addressed name first, then the JSON index via
temp + fsync + ``os.replace``), so a crash leaves either the old or the new state. Both indexes are validated
as a whole at start-up: a corrupt one is logged, moved aside and ignored, never half-applied. Voice ids are
checked against a strict pattern before they are used in any path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from ishowtts.config import VOICE_ID_RE, VoiceConfig, is_valid_voice_id
from ishowtts.engine.backend import VoiceReference
from ishowtts.logging_setup import kv
from ishowtts.voices.atomic import atomic_write_bytes, atomic_write_text
from ishowtts.voices.audio_io import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_SECONDS,
    DecodedAudio,
    InvalidAudio,
    decode_audio,
    media_type_for,
    read_audio_file,
)

__all__ = ["InvalidAudio", "VoiceEntry", "VoiceNotFound", "VoiceStore"]

log = logging.getLogger(__name__)

INDEX_FORMAT = 1
MAX_REFERENCE_TEXT_CHARS = 2000
MAX_VOICE_NAME_CHARS = 64
_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_AUDIO_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}-[0-9a-f]{16}\.(wav|flac|ogg|mp3)$")


class VoiceNotFound(KeyError):
    """Unknown voice id (or requested reference audio that does not exist)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "voice not found"


@dataclass(frozen=True)
class VoiceEntry:
    id: str
    engine: str
    engine_label: str
    language: str
    reference_text: str  # the active transcript
    has_override: bool
    name: str = ""  # display name (= id for configured voices)
    created_at: str | None = None  # ISO-8601 for voices created through the API
    preload: bool = True


@dataclass
class _Voice:
    id: str
    name: str
    language: str
    text: str
    audio_path: Path | None
    preload: bool
    created_at: str | None = None  # set for API-created voices
    decoded: DecodedAudio | None = None


@dataclass
class _Override:
    text: str | None = None
    audio: str | None = None  # file name under overrides/audio/
    updated_at: str = ""
    decoded: DecodedAudio | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "audio": self.audio, "updated_at": self.updated_at}


class VoiceStore:
    def __init__(
        self,
        data_dir: Path,
        voices: list[VoiceConfig],
        engine_name: str,
        engine_label: str,
        *,
        default_voice: str | None = None,
        max_upload_bytes: int = DEFAULT_MAX_BYTES,
        max_audio_seconds: float = DEFAULT_MAX_SECONDS,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.engine_name = engine_name
        self.engine_label = engine_label
        self.max_upload_bytes = max_upload_bytes
        self.max_audio_seconds = max_audio_seconds
        self._lock = threading.RLock()
        self._voices: dict[str, _Voice] = {}
        self._overrides: dict[str, _Override] = {}  # may hold ids of voices no longer configured
        self._refs: dict[str, VoiceReference] = {}
        self._override_dir = self.data_dir / "overrides"
        self._override_audio_dir = self._override_dir / "audio"
        self._override_index = self._override_dir / "overrides.json"
        self._created_dir = self.data_dir / "voices"
        self._created_audio_dir = self._created_dir / "audio"
        self._created_index = self._created_dir / "voices.json"

        for vc in voices:
            if not is_valid_voice_id(vc.id):
                raise ValueError(f"invalid voice id {vc.id!r}")
            if vc.id in self._voices:
                raise ValueError(f"duplicate voice id {vc.id!r}")
            voice = _Voice(
                vc.id, vc.id, vc.language, vc.reference_text.strip(), vc.reference_audio, vc.preload
            )
            if vc.reference_audio is not None and vc.preload:
                voice.decoded = self._decode_baseline(voice)
            self._voices[vc.id] = voice
        self._configured = tuple(self._voices)
        self._load_created()
        if not self._voices:
            raise ValueError("no voices configured")
        if default_voice is not None and default_voice not in self._voices:
            raise VoiceNotFound(f"default voice {default_voice!r} is not a known voice")
        if default_voice is None:
            default_voice = self._configured[0] if self._configured else sorted(self._voices)[0]
        self._default = default_voice
        self._load_overrides()

    # ------------------------------------------------------------------------------------------ queries
    def list(self) -> list[VoiceEntry]:
        with self._lock:
            return [self._entry(vid) for vid in sorted(self._voices)]

    def entry(self, voice_id: str) -> VoiceEntry:
        with self._lock:
            self._voice(voice_id)
            return self._entry(voice_id)

    def default_voice_id(self) -> str:
        return self._default

    def __contains__(self, voice_id: object) -> bool:
        return isinstance(voice_id, str) and voice_id in self._voices

    def get(self, voice_id: str) -> VoiceReference:
        """The active reference: override audio/text where set, else the baseline."""
        with self._lock:
            ref = self._refs.get(voice_id)
            if ref is not None:
                return ref
            voice = self._voice(voice_id)
            ov = self._overrides.get(voice_id)
            audio = self._override_audio(voice_id, ov) if ov and ov.audio else self._baseline_audio(voice)
            text = ov.text if ov and ov.text is not None else voice.text
            ref = VoiceReference(
                id=voice_id,
                audio=audio.samples if audio is not None else None,
                sample_rate=audio.sample_rate if audio is not None else 0,
                text=text,
                language=voice.language,
                version=_version(audio, text, voice.language),
            )
            self._refs[voice_id] = ref
            return ref

    def reference_info(self, voice_id: str) -> dict[str, Any]:
        with self._lock:
            voice = self._voice(voice_id)
            ov = self._overrides.get(voice_id)
            override_text = ov.text if ov else None
            return {
                "voice_id": voice_id,
                "engine": self.engine_name,
                "engine_label": self.engine_label,
                "language": voice.language,
                "active_reference_text": override_text if override_text is not None else voice.text,
                "baseline_reference_text": voice.text,
                "override_reference_text": override_text,
                "baseline_audio_available": voice.audio_path is not None,
                "override_audio_available": bool(ov and ov.audio),
                "override_updated_at": ov.updated_at if ov else None,
            }

    def audio_bytes(
        self, voice_id: str, source: Literal["baseline", "override"] = "baseline"
    ) -> tuple[bytes, str]:
        with self._lock:
            voice = self._voice(voice_id)
            if source == "baseline":
                if voice.audio_path is None:
                    raise VoiceNotFound(f"voice {voice_id!r} has no baseline reference audio")
                path = voice.audio_path
            elif source == "override":
                ov = self._overrides.get(voice_id)
                if not ov or not ov.audio:
                    raise VoiceNotFound(f"voice {voice_id!r} has no override reference audio")
                path = self._override_audio_dir / ov.audio
            else:
                raise ValueError(f"source: must be 'baseline' or 'override', got {source!r}")
        return path.read_bytes(), media_type_for(path)

    # ------------------------------------------------------------------------------------------ overrides
    def set_override(
        self,
        voice_id: str,
        *,
        text: str | None = None,
        audio: bytes | None = None,
        filename: str | None = None,
    ) -> dict[str, Any]:
        """Set the text and/or audio override; ``text=""`` clears the text override. Validates first."""
        if text is None and audio is None:
            raise ValueError("nothing to update: provide text and/or audio")
        if text is not None:
            if not isinstance(text, str):
                raise ValueError(f"text: must be a string, got {type(text).__name__}")
            text = text.strip()
            if len(text) > MAX_REFERENCE_TEXT_CHARS:
                raise ValueError(f"text: {len(text)} characters is over the {MAX_REFERENCE_TEXT_CHARS} limit")
        with self._lock:
            self._voice(voice_id)
            decoded = self._decode_upload(audio, filename) if audio is not None else None
            old = self._overrides.get(voice_id)
            new = _Override(
                text=old.text if old else None,
                audio=old.audio if old else None,
                decoded=old.decoded if old else None,
            )
            if text is not None:
                new.text = text or None
            if decoded is not None:
                assert audio is not None
                new.audio = self._write_audio(self._override_audio_dir, voice_id, bytes(audio), decoded)
                new.decoded = decoded
            new.updated_at = _now()
            overrides = dict(self._overrides)
            if new.text is None and new.audio is None:
                overrides.pop(voice_id, None)
            else:
                overrides[voice_id] = new
            try:
                self._commit_overrides(overrides, old)
            except BaseException:
                if new.audio and (old is None or new.audio != old.audio):
                    _unlink_quietly(self._override_audio_dir / new.audio)
                raise
            log.info(
                "voice override set",
                extra=kv(voice=voice_id, text=text is not None, audio=decoded is not None),
            )
            return self.reference_info(voice_id)

    def clear_override(self, voice_id: str) -> dict[str, Any]:
        with self._lock:
            self._voice(voice_id)
            old = self._overrides.get(voice_id)
            if old is not None:
                overrides = dict(self._overrides)
                del overrides[voice_id]
                self._commit_overrides(overrides, old)
                log.info("voice override cleared", extra=kv(voice=voice_id))
            return self.reference_info(voice_id)

    # ------------------------------------------------------------------------------------------ created voices
    def create_voice(self, name: str, audio: bytes, filename: str | None, text: str | None) -> VoiceEntry:
        """Create a cloned voice from an uploaded sample (``POST /v1/audio/voices``); persisted in ``data_dir``."""
        if not isinstance(name, str) or not name.strip():
            raise ValueError("name: must be a non-empty string")
        name = name.strip()
        if len(name) > MAX_VOICE_NAME_CHARS:
            raise ValueError(f"name: {len(name)} characters is over the {MAX_VOICE_NAME_CHARS} limit")
        text = (text or "").strip()
        if len(text) > MAX_REFERENCE_TEXT_CHARS:
            raise ValueError(f"text: {len(text)} characters is over the {MAX_REFERENCE_TEXT_CHARS} limit")
        if audio is None:
            raise InvalidAudio("audio: an audio sample is required")
        decoded = self._decode_upload(audio, filename)
        with self._lock:
            voice_id = self._unique_id(name)
            fname = self._write_audio(self._created_audio_dir, voice_id, bytes(audio), decoded)
            language = "zh" if _CJK_RE.search(text) else "en"
            voice = _Voice(
                voice_id, name, language, text, self._created_audio_dir / fname, True, _now(), decoded
            )
            created = [v for v in self._voices.values() if v.created_at is not None] + [voice]
            try:
                self._write_created_index(created)
            except BaseException:
                _unlink_quietly(self._created_audio_dir / fname)
                raise
            self._voices[voice_id] = voice
            if not text:
                log.warning(
                    "created voice has no reference text; F5 needs the transcript", extra=kv(voice=voice_id)
                )
            log.info("voice created", extra=kv(voice=voice_id, name=name, seconds=round(decoded.duration, 2)))
            return self._entry(voice_id)

    # ------------------------------------------------------------------------------------------ internals
    def _voice(self, voice_id: str) -> _Voice:
        if not isinstance(voice_id, str) or not is_valid_voice_id(voice_id):
            raise VoiceNotFound(f"invalid voice id {voice_id!r} (must match {VOICE_ID_RE.pattern})")
        voice = self._voices.get(voice_id)
        if voice is None:
            raise VoiceNotFound(f"unknown voice {voice_id!r} (known: {', '.join(sorted(self._voices))})")
        return voice

    def _entry(self, voice_id: str) -> VoiceEntry:
        voice = self._voices[voice_id]
        ov = self._overrides.get(voice_id)
        return VoiceEntry(
            id=voice_id,
            engine=self.engine_name,
            engine_label=self.engine_label,
            language=voice.language,
            reference_text=ov.text if ov and ov.text is not None else voice.text,
            has_override=ov is not None,
            name=voice.name,
            created_at=voice.created_at,
            preload=voice.preload,
        )

    def _decode_upload(self, audio: bytes, filename: str | None) -> DecodedAudio:
        return decode_audio(
            audio, filename, max_bytes=self.max_upload_bytes, max_seconds=self.max_audio_seconds
        )

    def _decode_baseline(self, voice: _Voice) -> DecodedAudio:
        assert voice.audio_path is not None
        try:
            decoded, _ = read_audio_file(voice.audio_path)
        except OSError as exc:
            raise InvalidAudio(f"voice {voice.id!r}: cannot read {voice.audio_path}: {exc}") from None
        except InvalidAudio as exc:
            raise InvalidAudio(f"voice {voice.id!r}: {exc}") from None
        return decoded

    def _baseline_audio(self, voice: _Voice) -> DecodedAudio | None:
        if voice.audio_path is None:
            return None
        if voice.decoded is None:
            voice.decoded = self._decode_baseline(voice)
        return voice.decoded

    def _override_audio(self, voice_id: str, ov: _Override) -> DecodedAudio:
        if ov.decoded is None:
            assert ov.audio is not None
            ov.decoded, _ = read_audio_file(self._override_audio_dir / ov.audio)
        return ov.decoded

    def _write_audio(self, directory: Path, voice_id: str, data: bytes, decoded: DecodedAudio) -> str:
        digest = hashlib.sha256(data).hexdigest()[:16]
        fname = f"{voice_id}-{digest}.{decoded.extension}"
        atomic_write_bytes(directory / fname, data)
        return fname

    def _commit_overrides(self, overrides: dict[str, _Override], old: _Override | None) -> None:
        doc = {"format": INDEX_FORMAT, "voices": {vid: ov.to_json() for vid, ov in sorted(overrides.items())}}
        atomic_write_text(self._override_index, json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
        self._overrides = overrides
        self._refs.clear()
        in_use = {ov.audio for ov in overrides.values() if ov.audio}
        if old is not None and old.audio and old.audio not in in_use:
            _unlink_quietly(self._override_audio_dir / old.audio)

    def _write_created_index(self, created: list[_Voice]) -> None:
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
        atomic_write_text(self._created_index, json.dumps(doc, ensure_ascii=False, indent=2) + "\n")

    def _unique_id(self, name: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-._")
        base = re.sub(r"\.{2,}", ".", base)[:56] or "voice"
        if not base[0].isalnum():
            base = "v" + base
        candidate, n = base, 1
        while candidate in self._voices:
            n += 1
            candidate = f"{base}-{n}"
        assert is_valid_voice_id(candidate), candidate
        return candidate

    def _load_overrides(self) -> None:
        if not self._override_index.exists():
            return
        try:
            doc = json.loads(self._override_index.read_text(encoding="utf-8"))
            overrides = self._parse_overrides(doc)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            aside = self._move_aside(self._override_index)
            log.error(
                "ignoring corrupt voice overrides; starting without overrides",
                extra=kv(path=self._override_index, error=exc, moved_to=aside),
            )
            return
        self._overrides = overrides
        active = sorted(vid for vid in overrides if vid in self._voices)
        inactive = sorted(vid for vid in overrides if vid not in self._voices)
        if active:
            log.info("voice overrides re-applied", extra=kv(voices=",".join(active)))
        if inactive:
            log.warning(
                "overrides kept for voices that are not configured", extra=kv(voices=",".join(inactive))
            )

    def _parse_overrides(self, doc: Any) -> dict[str, _Override]:
        """Validate the whole index (incl. decoding every audio file) before any of it is applied."""
        if (
            not isinstance(doc, dict)
            or doc.get("format") != INDEX_FORMAT
            or not isinstance(doc.get("voices"), dict)
        ):
            raise ValueError(f"unexpected structure (expected format {INDEX_FORMAT} with a 'voices' table)")
        result: dict[str, _Override] = {}
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
            ov = _Override(text=text or None, updated_at=updated)
            if audio is not None:
                if (
                    not isinstance(audio, str)
                    or not _AUDIO_NAME_RE.match(audio)
                    or not audio.startswith(vid + "-")
                ):
                    raise ValueError(f"{vid}.audio: invalid file name {audio!r}")
                ov.audio = audio
                ov.decoded, _ = read_audio_file(self._override_audio_dir / audio)
            if ov.text is None and ov.audio is None:
                continue
            result[vid] = ov
        return result

    def _load_created(self) -> None:
        if not self._created_index.exists():
            return
        try:
            doc = json.loads(self._created_index.read_text(encoding="utf-8"))
            voices = self._parse_created(doc)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            aside = self._move_aside(self._created_index)
            log.error(
                "ignoring corrupt created-voices index",
                extra=kv(path=self._created_index, error=exc, moved_to=aside),
            )
            return
        for voice in voices:
            if voice.id in self._voices:
                log.warning(
                    "created voice shadowed by a configured voice of the same id", extra=kv(voice=voice.id)
                )
                continue
            self._voices[voice.id] = voice

    def _parse_created(self, doc: Any) -> list[_Voice]:
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
            audio = item.get("audio")
            if (
                not isinstance(audio, str)
                or not _AUDIO_NAME_RE.match(audio)
                or not audio.startswith(vid + "-")
            ):
                raise ValueError(f"{vid}.audio: invalid file name {audio!r}")
            fields = {k: item.get(k) for k in ("name", "language", "reference_text", "created_at")}
            if not all(isinstance(v, str) for v in fields.values()):
                raise ValueError(f"{vid}: name, language, reference_text and created_at must be strings")
            path = self._created_audio_dir / audio
            decoded, _ = read_audio_file(path)
            voices.append(
                _Voice(
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

    @staticmethod
    def _move_aside(path: Path) -> Path | None:
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        try:
            path.replace(aside)
        except OSError:
            return None
        return aside


def _version(audio: DecodedAudio | None, text: str, language: str) -> str:
    h = hashlib.sha256()
    if audio is not None:
        h.update(str(audio.sample_rate).encode())
        h.update(audio.samples.tobytes())
    h.update(b"\x00" + text.encode("utf-8") + b"\x00" + language.encode("utf-8"))
    return h.hexdigest()[:16]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
