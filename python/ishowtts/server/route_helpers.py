"""What more than one router uses: the text and upload checks, encoding a finished clip off the event loop,
the answer headers, a whole-clip synthesis that notices a client going away, and the warning for a stored
voice reference that the running engine cannot use. Routers import these from here, never from each other.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import Request, UploadFile

from ishowtts.engine.backend import SynthesisParams
from ishowtts.engine.scheduler import Priority, SynthesisResult
from ishowtts.logging_setup import kv
from ishowtts.server.encoding import encode_audio
from ishowtts.server.errors import ApiError
from ishowtts.server.state import AppState
from ishowtts.server.streaming import ClientDisconnected, run_until_disconnect
from ishowtts.voices.reference import VoiceReference

log = logging.getLogger(__name__)

CLIENT_CLOSED = 499  # nginx's "client closed request"; nobody receives it, but logs/metrics show it
THREAD_ENCODE_SAMPLES = 24_000 * 5  # encode longer outputs in a worker thread
INLINE_ENCODE = frozenset({"wav", "pcm"})  # cheap enough to run on the event loop (short clips, chunks)

ESPEAK_CHOSEN = (
    'the server runs espeak-ng because engine.kind = "espeak"; set it to "auto" and fetch the weights '
    "(python -m ishowtts download)"
)
_WARNED = "cloning_warning_logged"  # AppState.extras flag: the log line is written once per server


# --- request checks -------------------------------------------------------------------------------------


def check_text(text: str, limit: int, field: str) -> str:
    """``text`` stripped; 400 ``empty_text`` when nothing printable is left, ``text_too_long`` over ``limit``."""
    stripped = text.strip()
    if not any(ch.isprintable() and not ch.isspace() for ch in stripped):
        raise ApiError(
            400, f"{field}: must not be empty (nothing to speak: only spaces or control characters)",
            code="empty_text", param=field,
        )  # fmt: skip
    if len(text) > limit:
        raise ApiError(
            400,
            f"{field}: {len(text)} characters is over the {limit} character limit",
            code="text_too_long",
            param=field,
        )
    return stripped


async def read_upload(upload: UploadFile | None, limit: int, field: str) -> tuple[bytes | None, str | None]:
    """The uploaded bytes (None when the field is absent or an empty file input); 413 over ``limit``."""
    if upload is None:
        return None, None
    if upload.size is not None and upload.size > limit:
        raise ApiError(
            413, f"{field}: {upload.size} bytes is over the {limit} byte upload limit", param=field
        )
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, f"{field}: over the {limit} byte upload limit", param=field)
    if not data and not upload.filename:
        return None, None
    if not data:
        raise ApiError(400, f"{field}: the uploaded file is empty", code="invalid_audio", param=field)
    return data, upload.filename


# --- synthesis and the answer ---------------------------------------------------------------------------


async def synthesize_whole(
    request: Request,
    state: AppState,
    text: str,
    ref: VoiceReference,
    params: SynthesisParams,
    *,
    request_id: str,
    voice_id: str,
) -> SynthesisResult | None:
    """The whole clip at interactive priority; None (logged, synthesis cancelled) when the client went away
    first: answer :data:`CLIENT_CLOSED` then."""
    try:
        return await run_until_disconnect(
            request.receive,
            state.scheduler.synthesize(text, ref, params, priority=Priority.INTERACTIVE),
        )
    except ClientDisconnected:
        log.info("client went away; synthesis cancelled", extra=kv(request_id=request_id, voice=voice_id))
        return None


async def encode_off_loop(audio: Any, sample_rate: int, fmt: str = "wav") -> bytes:
    """The whole clip as one ``fmt`` file (a WAV with its true sizes); compressed formats and long clips
    are encoded in a worker thread, off the event loop."""
    if fmt in INLINE_ENCODE and len(audio) <= THREAD_ENCODE_SAMPLES:
        return encode_audio(audio, fmt, sample_rate)
    return await asyncio.to_thread(encode_audio, audio, fmt, sample_rate)


def audio_headers(request_id: str, sample_rate: int, voice_id: str, replica: str | None = None) -> dict[str, str]:
    """The headers of every synthesis answer; ``X-Ishowtts-Replica`` names the replica that rendered it
    when synthesis runs on replicas (``serve --ray``)."""
    headers = {"X-Request-Id": request_id, "X-Sample-Rate": str(sample_rate), "X-Voice-Id": voice_id}
    if replica:
        headers["X-Ishowtts-Replica"] = replica
    return headers


def cloning_warning(state: AppState) -> str | None:
    """The ``warning`` for a stored reference that the running engine cannot use (None on F5); the log
    says so once per server."""
    if state.fallback_reason is None and state.backend.name != "espeak":
        return None
    reason = (state.fallback_reason or ESPEAK_CHOSEN).strip().rstrip(".")
    warning = f"stored; voice cloning needs the F5-TTS weights: {reason}. It is used once the server runs F5."
    if not state.extras.get(_WARNED):
        state.extras[_WARNED] = True
        log.warning(
            "voice reference stored but not used: espeak-ng cannot clone voices; F5 will use it",
            extra=kv(engine=state.backend.name, reason=reason),
        )
    return warning
