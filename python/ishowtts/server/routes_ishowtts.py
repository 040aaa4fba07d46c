"""``POST /api/tts`` (the original iShowTTS shape): JSON with base64 WAV and the ``spoken_text`` (the text
after normalization), or raw WAV for ``Accept: audio/wav``. The clip is finished before the answer starts,
so the WAV has its true sizes."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ishowtts.logging_setup import kv
from ishowtts.server.errors import ApiError
from ishowtts.server.route_helpers import (
    CLIENT_CLOSED,
    audio_headers,
    check_text,
    encode_off_loop,
    synthesize_whole,
)
from ishowtts.server.schemas import TTSRequest, TTSResponse
from ishowtts.server.spoken import spoken_text
from ishowtts.server.state import StateDep

log = logging.getLogger(__name__)
router = APIRouter()


def wants_raw_wav(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    types = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    return any(t in ("audio/wav", "audio/x-wav", "audio/wave") for t in types)


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
    result = await synthesize_whole(
        request, state, text, ref, body.params(), request_id=request_id, voice_id=voice_id
    )
    if result is None:
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
    headers = audio_headers(request_id, result.sample_rate, voice_id, result.replica)
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
