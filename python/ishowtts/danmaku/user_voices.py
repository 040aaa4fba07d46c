"""Which voice speaks a viewer's lines.

In order: a per-message ``metadata.voice_id`` (a pushing bot), the viewer's sticky choice (``!voice
<name>`` from ``allowed_voices``, or assigned by the streamer through the API), a stable choice from
``voice_pool`` (a hash of the login: the same viewer always gets the same voice, across restarts and
machines — ``hashlib``, never Python's per-process salted ``hash()``), the channel's voice from
``/start``, and finally ``voice_id``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ishowtts.danmaku.store import StateStore


def pool_choice(login: str, pool: Sequence[str]) -> str | None:
    if not pool:
        return None
    digest = hashlib.blake2b(login.casefold().encode(), digest_size=8).digest()
    return pool[int.from_bytes(digest, "little") % len(pool)]


class VoiceBook:
    """Sticky per-user voices, persisted in the :class:`StateStore` (keyed by login, case-folded)."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    @property
    def assignments(self) -> dict[str, str]:
        voices: dict[str, str] = self._store.data["voices"]
        return dict(sorted(voices.items()))

    def get(self, login: str) -> str | None:
        return self._store.data["voices"].get(login.casefold())

    def assign(self, login: str, voice: str) -> None:
        self._store.data["voices"][login.casefold()] = voice
        self._store.save()

    def remove(self, login: str) -> bool:
        found = self._store.data["voices"].pop(login.casefold(), None) is not None
        if found:
            self._store.save()
        return found
