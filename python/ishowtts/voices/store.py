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

This module holds the start-up and the queries; the writes are in :mod:`ishowtts.voices.store_writes`, the
disk side (indexes, sweep, sync) in :mod:`ishowtts.voices.store_disk`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from pathlib import Path
from typing import Any, Literal

from ishowtts.config import VoiceConfig, is_valid_voice_id
from ishowtts.voices.audio_io import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_SECONDS,
    DecodedAudio,
    InvalidAudio,
    media_type_for,
    read_audio_file,
)
from ishowtts.voices.entries import VoiceEntry, VoiceNotDeletable, VoiceNotFound
from ishowtts.voices.index import StoredOverride, StoredVoice
from ishowtts.voices.reference import VoiceReference
from ishowtts.voices.shared_dir import DirLock, Stamp
from ishowtts.voices.store_writes import StoreWrites

__all__ = ["InvalidAudio", "VoiceEntry", "VoiceNotDeletable", "VoiceNotFound", "VoiceStore"]

log = logging.getLogger(__name__)


class VoiceStore(StoreWrites):
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

    # ------------------------------------------------------------------------------------------ internals
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



def _version(audio: DecodedAudio | None, text: str, language: str) -> str:
    h = hashlib.sha256()
    if audio is not None:
        h.update(str(audio.sample_rate).encode())
        h.update(audio.samples.tobytes())
    h.update(b"\x00" + text.encode("utf-8") + b"\x00" + language.encode("utf-8"))
    return h.hexdigest()[:16]


