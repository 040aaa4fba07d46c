"""``POST /api/tts`` (the original iShowTTS shape): JSON with base64 WAV and the ``spoken_text`` (the text
after normalization), or raw WAV for ``Accept: audio/wav``. The clip is finished before the answer starts,
so the WAV has its true sizes."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ishowtts.engine.scheduler import Priority
from ishowtts.logging_setup import kv
from ishowtts.server.encoding import encode_audio
from ishowtts.server.errors import ApiError
from ishowtts.server.schemas import TTSRequest, TTSResponse
from ishowtts.server.spoken import spoken_text
from ishowtts.server.state import StateDep
from ishowtts.server.streaming import ClientDisconnected, run_until_disconnect

log = logging.getLogger(__name__)
router = APIRouter()

CLIENT_CLOSED = 499  # nginx's "client closed request"; nobody receives it, but logs/metrics show it
THREAD_ENCODE_SAMPLES = 24_000 * 5  # encode longer outputs in a worker thread
INLINE_ENCODE = frozenset({"wav", "pcm"})  # cheap enough to run on the event loop (short clips, chunks)


def check_text(text: str, limit: int, field: str) -> str:
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


def wants_raw_wav(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    types = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    return any(t in ("audio/wav", "audio/x-wav", "audio/wave") for t in types)


async def encode_off_loop(audio: Any, sample_rate: int, fmt: str = "wav") -> bytes:
    """The whole clip as one ``fmt`` file (a WAV with its true sizes); compressed formats and long clips
    are encoded in a worker thread, off the event loop."""
    if fmt in INLINE_ENCODE and len(audio) <= THREAD_ENCODE_SAMPLES:
        return encode_audio(audio, fmt, sample_rate)
    return await asyncio.to_thread(encode_audio, audio, fmt, sample_rate)


@router.post("/api/tts", response_model=TTSResponse)
async def tts(body: TTSRequest, request: Request, state: StateDep) -> Response:
    start = time.perf_counter()
    text = check_text(body.text, state.config.server.max_tts_chars, "text")
    if body.engine is not None and body.engine != state.backend.name:
        raise ApiError(
            400,
            f"engine: {body.engine!r} does not match the voice's engine {state.backend.name!r}",
            code="engine_mismatch",
            param="engine",
        )
    voice_id, ref = await state.voice(body.voice_id)
    text = await spoken_text(state, text, body.normalize_changes(), "text")
    request_id = uuid.uuid4().hex
    try:
        result = await run_until_disconnect(
            request.receive,
            state.scheduler.synthesize(text, ref, body.params(), priority=Priority.INTERACTIVE),
        )
    except ClientDisconnected:
        log.info("client went away; synthesis cancelled", extra=kv(request_id=request_id, voice=voice_id))
        return Response(status_code=CLIENT_CLOSED)
    wav = await encode_off_loop(result.audio, result.sample_rate)
    state.metrics.ttfa.labels("ishowtts", "full").observe(time.perf_counter() - start)
    log.info(
        "tts",
        extra=kv(
            request_id=request_id,
            voice=voice_id,
            chars=len(text),
            seconds=round(len(result.audio) / result.sample_rate, 3),
            cached=result.cached,
            rtf=round(result.rtf, 4),
        ),
    )
    headers = {"X-Request-Id": request_id, "X-Sample-Rate": str(result.sample_rate), "X-Voice-Id": voice_id}
    if wants_raw_wav(request):
        return Response(wav, media_type="audio/wav", headers=headers)
    b64 = await asyncio.to_thread(base64.b64encode, wav) if len(wav) > 1 << 20 else base64.b64encode(wav)
    payload = TTSResponse(
        request_id=request_id,
        voice_id=voice_id,
        engine=state.backend.name,
        engine_label=state.backend.label,
        sample_rate=result.sample_rate,
        audio_base64=b64.decode("ascii"),
        waveform_len=len(result.audio),
        spoken_text=text,
    )
    return JSONResponse(payload.model_dump(), headers=headers)
