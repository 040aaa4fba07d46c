"""Voice storage: configured voices, user-created voices and persistent reference overrides.

Layout under ``data_dir``::

    overrides/overrides.json      {"format": 1, "voices": {id: {"text", "audio", "updated_at"}}}
    overrides/audio/<id>-<hash>.<ext>
    voices/voices.json            {"format": 1, "voices": [{"id", "name", "language", "reference_text",
                                                             "audio", "created_at"}]}
    voices/audio/<id>-<hash>.<ext>

Every write is atomic (new audio file under a content-addressed name first, then the JSON index via
temp + fsync + ``os.replace``), so a crash leaves either the old or the new state. Both indexes are validated
as a whole at start-up (:mod:`ishowtts.voices.index`): a corrupt one is logged, moved aside and ignored,
never half-applied. What a killed write leaves behind (``*.tmp`` files, audio no index names) is removed at
start-up (:mod:`ishowtts.voices.litter`). Voice ids are checked against a strict pattern before they are
used in any path. Created voices can be deleted; configured ones cannot (:class:`VoiceNotDeletable`).
Several processes may share one data directory (the replicas of ``serve --ray``): writes hold a file lock,
and every query first takes in what another process wrote (:mod:`ishowtts.voices.shared_dir`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from ishowtts.config import VOICE_ID_RE, VoiceConfig, is_valid_voice_id
from ishowtts.logging_setup import kv
from ishowtts.voices import index
from ishowtts.voices.atomic import atomic_write_bytes, fsync_dir
from ishowtts.voices.audio_io import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_SECONDS,
    DecodedAudio,
    InvalidAudio,
    decode_audio,
    media_type_for,
    read_audio_file,
)
from ishowtts.voices.index import StoredOverride, StoredVoice
from ishowtts.voices.reference import VoiceReference
from ishowtts.voices.shared_dir import DirLock, Stamp
from ishowtts.voices.store_disk import StoreDisk
from ishowtts.voices.text_fields import clean_text_field

__all__ = ["InvalidAudio", "VoiceEntry", "VoiceNotDeletable", "VoiceNotFound", "VoiceStore"]

log = logging.getLogger(__name__)

MAX_REFERENCE_TEXT_CHARS = 2000
MAX_VOICE_NAME_CHARS = 64
_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class VoiceNotFound(KeyError):
    """Unknown voice id (or requested reference audio that does not exist)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "voice not found"


class VoiceNotDeletable(Exception):
    """The voice exists but cannot be deleted (it comes from the config, or it is the default voice)."""


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


class VoiceStore(StoreDisk):
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
        self._voices: dict[str, StoredVoice] = {}
        self._overrides: dict[str, StoredOverride] = {}  # may hold ids of voices no longer configured
        self._shadowed: list[StoredVoice] = []  # created voices hidden by a configured voice of that id
        self._refs: dict[str, VoiceReference] = {}
        self._override_dir = self.data_dir / "overrides"
        self._override_audio_dir = self._override_dir / "audio"
        self._override_index = self._override_dir / "overrides.json"
        self._created_dir = self.data_dir / "voices"
        self._created_audio_dir = self._created_dir / "audio"
        self._created_index = self._created_dir / "voices.json"
        self._dirlock = DirLock(self.data_dir)
        self._stamps: tuple[Stamp, Stamp] | None = None  # the indexes as last read; None = read again

        for vc in voices:
            if not is_valid_voice_id(vc.id):
                raise ValueError(f"invalid voice id {vc.id!r}")
            if vc.id in self._voices:
                raise ValueError(f"duplicate voice id {vc.id!r}")
            voice = StoredVoice(
                vc.id, vc.id, vc.language, vc.reference_text.strip(), vc.reference_audio, vc.preload
            )
            if vc.reference_audio is not None and vc.preload:
                voice.decoded = self._decode_baseline(voice)
            self._voices[vc.id] = voice
        self._configured = tuple(self._voices)
        # another process's write in progress (audio before index) must not be swept: read and sweep under
        # the lock once anything was stored. A directory that was fresh when checked holds nothing to sweep:
        # whatever appears in it later is another process's write, so it is not swept at all.
        stored = self._created_dir.exists() or self._override_dir.exists()
        with self._dirlock() if stored else contextlib.nullcontext():
            stamps = self._index_stamps()
            created_names = self._load_created()
            if not self._voices:
                raise ValueError("no voices configured")
            if default_voice is not None and default_voice not in self._voices:
                raise VoiceNotFound(f"default voice {default_voice!r} is not a known voice")
            if default_voice is None:
                default_voice = self._configured[0] if self._configured else sorted(self._voices)[0]
            self._default = default_voice
            override_names = self._load_overrides()
            if stored:
                self._sweep_litter(override_names, created_names)
            self._stamps = stamps

    # ------------------------------------------------------------------------------------------ queries
    def list(self) -> list[VoiceEntry]:
        with self._lock:
            self._sync()
            return [self._entry(vid) for vid in sorted(self._voices)]

    def entry(self, voice_id: str) -> VoiceEntry:
        with self._lock:
            self._sync()
            self._voice(voice_id)
            return self._entry(voice_id)

    def default_voice_id(self) -> str:
        return self._default

    def __contains__(self, voice_id: object) -> bool:
        with self._lock:
            self._sync()
            return isinstance(voice_id, str) and voice_id in self._voices

    def is_loaded(self, voice_id: str) -> bool:
        """True when :meth:`get` answers from memory (nothing to read or decode), as the disk is now."""
        with self._lock:
            self._sync()
            return voice_id in self._refs

    def get(self, voice_id: str) -> VoiceReference:
        """The active reference: override audio/text where set, else the baseline."""
        with self._lock:
            self._sync()
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
            self._sync()
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
                "created_at": voice.created_at,
            }

    def audio_bytes(
        self, voice_id: str, source: Literal["baseline", "override"] = "baseline"
    ) -> tuple[bytes, str]:
        with self._lock:
            self._sync()
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
            text = _reference_text(text)
        decoded = self._decode_upload(audio, filename) if audio is not None else None
        with self._writing():
            self._voice(voice_id)
            old = self._overrides.get(voice_id)
            new = StoredOverride(
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
        with self._writing():
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
        name = clean_text_field(name, "name")
        if not name:
            raise ValueError("name: must be a non-empty string")
        if len(name) > MAX_VOICE_NAME_CHARS:
            raise ValueError(f"name: {len(name)} characters is over the {MAX_VOICE_NAME_CHARS} limit")
        text = _reference_text(text or "")
        if audio is None:
            raise InvalidAudio("audio: an audio sample is required")
        decoded = self._decode_upload(audio, filename)
        with self._writing():
            voice_id = self._unique_id(name)
            fname = self._write_audio(self._created_audio_dir, voice_id, bytes(audio), decoded)
            language = "zh" if _CJK_RE.search(text) else "en"
            voice = StoredVoice(
                voice_id, name, language, text, self._created_audio_dir / fname, True, _now(), decoded
            )
            try:
                index.write_created(self._created_index, [*self._created_voices(), voice])
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

    def delete_voice(self, voice_id: str) -> None:
        """Delete a created voice: its index entry first (the deletion is done once that write landed),
        then its override and audio files. Configured voices and the default voice raise
        :class:`VoiceNotDeletable`; unknown ones :class:`VoiceNotFound`."""
        with self._writing():
            voice = self._voice(voice_id)
            if voice.created_at is None:
                raise VoiceNotDeletable(
                    f"voice {voice_id!r} comes from the config ([[voices]]); remove it there and restart"
                )
            if voice_id == self._default:
                raise VoiceNotDeletable(
                    f"voice {voice_id!r} is the default voice; set another default_voice in the config first"
                )
            index.write_created(self._created_index, [v for v in self._created_voices() if v.id != voice_id])
            del self._voices[voice_id]
            self._refs.pop(voice_id, None)
            old = self._overrides.get(voice_id)
            if old is not None:
                overrides = {vid: ov for vid, ov in self._overrides.items() if vid != voice_id}
                try:
                    self._commit_overrides(overrides, old)
                except OSError as exc:  # the voice is gone; its override no longer attaches to anything
                    log.warning(
                        "could not drop the deleted voice's override", extra=kv(voice=voice_id, error=exc)
                    )
            if voice.audio_path is not None:
                _unlink_quietly(voice.audio_path)
                fsync_dir(voice.audio_path.parent)
            log.info("voice deleted", extra=kv(voice=voice_id))

    # ------------------------------------------------------------------------------------------ internals
    def _voice(self, voice_id: str) -> StoredVoice:
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

    def _decode_baseline(self, voice: StoredVoice) -> DecodedAudio:
        assert voice.audio_path is not None
        try:
            decoded, _ = read_audio_file(voice.audio_path)
        except OSError as exc:
            raise InvalidAudio(f"voice {voice.id!r}: cannot read {voice.audio_path}: {exc}") from None
        except InvalidAudio as exc:
            raise InvalidAudio(f"voice {voice.id!r}: {exc}") from None
        return decoded

    def _baseline_audio(self, voice: StoredVoice) -> DecodedAudio | None:
        if voice.audio_path is None:
            return None
        if voice.decoded is None:
            voice.decoded = self._decode_baseline(voice)
        return voice.decoded

    def _override_audio(self, voice_id: str, ov: StoredOverride) -> DecodedAudio:
        if ov.decoded is None:
            assert ov.audio is not None
            ov.decoded, _ = read_audio_file(self._override_audio_dir / ov.audio)
        return ov.decoded

    def _write_audio(self, directory: Path, voice_id: str, data: bytes, decoded: DecodedAudio) -> str:
        digest = hashlib.sha256(data).hexdigest()[:16]
        fname = f"{voice_id}-{digest}.{decoded.extension}"
        atomic_write_bytes(directory / fname, data)
        return fname

    def _commit_overrides(self, overrides: dict[str, StoredOverride], old: StoredOverride | None) -> None:
        index.write_overrides(self._override_index, overrides)
        self._overrides = overrides
        self._refs.clear()
        in_use = {ov.audio for ov in overrides.values() if ov.audio}
        if old is not None and old.audio and old.audio not in in_use:
            _unlink_quietly(self._override_audio_dir / old.audio)

    def _unique_id(self, name: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-._")
        base = re.sub(r"\.{2,}", ".", base)[:56] or "voice"
        if not base[0].isalnum():
            base = "v" + base
        candidate, n = base, 1
        # an override kept for an id that is not a voice now must not attach itself to a new voice
        while candidate in self._voices or candidate in self._overrides:
            n += 1
            candidate = f"{base}-{n}"
        assert is_valid_voice_id(candidate), candidate
        return candidate



def _version(audio: DecodedAudio | None, text: str, language: str) -> str:
    h = hashlib.sha256()
    if audio is not None:
        h.update(str(audio.sample_rate).encode())
        h.update(audio.samples.tobytes())
    h.update(b"\x00" + text.encode("utf-8") + b"\x00" + language.encode("utf-8"))
    return h.hexdigest()[:16]


def _reference_text(text: str) -> str:
    text = clean_text_field(text, "text")
    if len(text) > MAX_REFERENCE_TEXT_CHARS:
        raise ValueError(f"text: {len(text)} characters is over the {MAX_REFERENCE_TEXT_CHARS} limit")
    return text


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
