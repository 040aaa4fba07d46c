"""The voice store's writes: reference overrides (set, clear) and created voices (create, delete).

Each validates its input first, then runs under :meth:`StoreDisk._writing` (the in-process lock and the
data directory's file lock, having taken in what another process wrote): audio is written under a
content-addressed name, then the index through temp + fsync + ``os.replace``; a failed index write removes
the new audio again, so a crash leaves the old state or the new one. ``VoiceStore`` adds the queries.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ishowtts.config import VOICE_ID_RE, is_valid_voice_id
from ishowtts.logging_setup import kv
from ishowtts.voices import index
from ishowtts.voices.atomic import atomic_write_bytes, fsync_dir
from ishowtts.voices.audio_io import DecodedAudio, InvalidAudio, decode_audio
from ishowtts.voices.entries import VoiceEntry, VoiceNotDeletable, VoiceNotFound
from ishowtts.voices.index import StoredOverride, StoredVoice
from ishowtts.voices.store_disk import StoreDisk
from ishowtts.voices.text_fields import clean_text_field

log = logging.getLogger("ishowtts.voices.store")  # the store's own log: these lines are the store's

MAX_REFERENCE_TEXT_CHARS = 2000
MAX_VOICE_NAME_CHARS = 64
_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class StoreWrites(StoreDisk):
    """Overrides and created voices (set by ``VoiceStore.__init__``: the limits, names and default)."""

    engine_name: str
    engine_label: str
    max_upload_bytes: int
    max_audio_seconds: float
    _default: str

    if TYPE_CHECKING:

        def reference_info(self, voice_id: str) -> dict[str, Any]: ...  # VoiceStore's query

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

    # ------------------------------------------------------------------------------------------ lookups
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
