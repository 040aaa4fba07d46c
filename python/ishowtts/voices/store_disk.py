"""The voice store's disk side: reading its two indexes (validated as a whole), sweeping what killed
writes left behind, and keeping the in-memory voices in step with other processes that share the data
directory (:mod:`ishowtts.voices.shared_dir`). :class:`ishowtts.voices.store.VoiceStore` builds on it."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ishowtts.logging_setup import kv
from ishowtts.voices import index
from ishowtts.voices.index import AUDIO_NAME_RE, StoredOverride, StoredVoice
from ishowtts.voices.litter import SweepResult, sweep
from ishowtts.voices.reference import VoiceReference
from ishowtts.voices.shared_dir import DirLock, Stamp, stamp

log = logging.getLogger("ishowtts.voices.store")  # the store's own log: these lines are the store's


class StoreDisk:
    """What the store's state on disk needs of the store (set by ``VoiceStore.__init__``)."""

    data_dir: Path
    _lock: threading.RLock
    _dirlock: DirLock
    _stamps: tuple[Stamp, Stamp] | None
    _voices: dict[str, StoredVoice]
    _overrides: dict[str, StoredOverride]
    _shadowed: list[StoredVoice]
    _refs: dict[str, VoiceReference]
    _override_audio_dir: Path
    _override_index: Path
    _created_audio_dir: Path
    _created_index: Path

    def _index_stamps(self) -> tuple[Stamp, Stamp]:
        return stamp(self._created_index), stamp(self._override_index)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """A change: this process's lock and the directory's, on the indexes as they are on disk now."""
        with self._lock, self._dirlock():
            self._sync()
            try:
                yield
            except BaseException:
                self._stamps = None  # the disk may hold part of the change: read it again next time
                raise
            self._stamps = self._index_stamps()

    def _sync(self) -> None:
        """Take in what another process wrote to the indexes since this one last read them (two small
        reads when nothing changed). Decoded audio is kept for entries whose file is the same."""
        stamps = self._index_stamps()
        if stamps == self._stamps:
            return
        with self._lock, self._dirlock():
            stamps = self._index_stamps()
            if self._stamps is None or stamps[0] != self._stamps[0]:
                old = {v.id: v for v in self._created_voices()}
                for vid in [vid for vid, v in self._voices.items() if v.created_at is not None]:
                    del self._voices[vid]
                self._shadowed = []
                self._load_created(quiet=True)
                _carry_decoded(old, {v.id: v for v in self._created_voices()}, "audio_path")
            if self._stamps is None or stamps[1] != self._stamps[1]:
                old_ov, self._overrides = self._overrides, {}
                self._load_overrides(quiet=True)
                _carry_decoded(old_ov, self._overrides, "audio")
            self._refs.clear()
            self._stamps = stamps
            log.info("voices re-read: another process changed them", extra=kv(data_dir=str(self.data_dir)))

    def _created_voices(self) -> list[StoredVoice]:
        """Every voice of the created-voices index, also those shadowed by a configured voice."""
        return [v for v in self._voices.values() if v.created_at is not None] + self._shadowed

    def _load_overrides(self, *, quiet: bool = False) -> set[str] | None:
        """Apply the overrides index; the audio names it holds (None when it was corrupt)."""
        overrides, ok = index.load_index(
            self._override_index,
            lambda doc: index.parse_overrides(doc, self._override_audio_dir),
            "ignoring corrupt voice overrides; starting without overrides",
        )
        if overrides is None:
            return set() if ok else None
        self._overrides = overrides
        active = sorted(vid for vid in overrides if vid in self._voices)
        inactive = sorted(vid for vid in overrides if vid not in self._voices)
        if active and not quiet:
            log.info("voice overrides re-applied", extra=kv(voices=",".join(active)))
        if inactive and not quiet:
            log.warning(
                "overrides kept for voices that are not configured", extra=kv(voices=",".join(inactive))
            )
        return {ov.audio for ov in overrides.values() if ov.audio}

    def _load_created(self, *, quiet: bool = False) -> set[str] | None:
        """Add the created voices; the audio names their index holds (None when it was corrupt)."""
        voices, ok = index.load_index(
            self._created_index,
            lambda doc: index.parse_created(doc, self._created_audio_dir),
            "ignoring corrupt created-voices index",
        )
        if voices is None:
            return set() if ok else None
        for voice in voices:
            if voice.id in self._voices:
                if not quiet:
                    log.warning("created voice shadowed by a configured voice", extra=kv(voice=voice.id))
                self._shadowed.append(voice)  # kept in the index, so nothing of it is lost
                continue
            self._voices[voice.id] = voice
        return {v.audio_path.name for v in voices if v.audio_path is not None}

    def _sweep_litter(self, override_names: set[str] | None, created_names: set[str] | None) -> None:
        """Remove what killed writes left behind; audio only where its index was read cleanly and no
        moved-aside copy of that index exists (its files may still be wanted)."""
        protected = [v.audio_path for v in self._voices.values() if v.audio_path is not None]
        total = SweepResult()
        for idx, audio_dir, names in (
            (self._override_index, self._override_audio_dir, override_names),
            (self._created_index, self._created_audio_dir, created_names),
        ):
            keep = None if names is None or index.has_corrupt_backup(idx) else names
            total.add(sweep(idx.parent, None, AUDIO_NAME_RE, protected))  # the index's own *.tmp
            total.add(sweep(audio_dir, keep, AUDIO_NAME_RE, protected))
        if total.removed:
            log.warning(
                "removed files left by an interrupted upload",
                extra=kv(
                    files=len(total.removed),
                    bytes=total.bytes,
                    names=",".join(str(p.relative_to(self.data_dir)) for p in total.removed[:20]),
                ),
            )


def _carry_decoded(old: dict[str, Any], new: dict[str, Any], file_attr: str) -> None:
    """Keep the decoded audio of each re-read entry whose audio file (``file_attr``) did not change."""
    for key, entry in new.items():
        prev = old.get(key)
        if prev is not None and getattr(prev, file_attr) == getattr(entry, file_attr):
            entry.decoded = prev.decoded
