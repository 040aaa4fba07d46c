"""Voices (iShowTTS API): the list and the persistent reference overrides.

``GET /api/voices``; ``GET|POST|DELETE /api/voices/{id}/reference`` (POST: multipart ``text`` and/or
``audio``; an empty ``text`` clears the text override; the audio is decoded and validated before anything
is stored); ``GET /api/voices/{id}/reference/audio?source=baseline|override``.

On the espeak-ng engine (the fallback, or ``engine.kind = "espeak"``) an upload is stored all the same (F5
uses it as soon as it runs), but the answer carries a ``warning`` saying that nothing audible changed and
why, and the log says so once per server (:func:`ishowtts.server.route_helpers.cloning_warning`).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response

from ishowtts.server.errors import ApiError
from ishowtts.server.route_helpers import cloning_warning, read_upload
from ishowtts.server.schemas import VoiceItem
from ishowtts.server.state import StateDep
from ishowtts.voices.store import InvalidAudio

router = APIRouter()

@router.get("/api/voices", response_model=list[VoiceItem])
async def list_voices(state: StateDep) -> list[dict[str, Any]]:
    return [
        {
            "id": v.id,
            "engine": v.engine,
            "engine_label": v.engine_label,
            "language": v.language,
            "reference_text": v.reference_text,
        }
        for v in state.store.list()
    ]


@router.get("/api/voices/{voice_id}/reference")
async def get_reference(voice_id: str, state: StateDep) -> dict[str, Any]:
    return state.store.reference_info(voice_id)


@router.post("/api/voices/{voice_id}/reference")
async def set_reference(
    voice_id: str,
    request: Request,
    state: StateDep,
    text: Annotated[str | None, Form()] = None,
    audio: Annotated[UploadFile | None, File()] = None,
) -> dict[str, Any]:
    state.store.entry(voice_id)  # 404 before reading the upload
    if text is None and (await request.form()).get("text") == "":
        text = ""  # FastAPI reads an empty form field as missing; here it means "clear the text override"
    data, filename = await read_upload(audio, state.config.server.max_upload_bytes, "audio")
    if text is None and data is None:
        raise ApiError(400, "provide 'text' and/or 'audio' (multipart form fields)", code="nothing_to_update")
    try:
        info = await asyncio.to_thread(
            state.store.set_override, voice_id, text=text, audio=data, filename=filename
        )
    except InvalidAudio:
        raise  # mapped to 400 with its message by the error handlers
    except ValueError as exc:
        raise ApiError(400, str(exc), code="invalid_request", param="text") from None
    warning = cloning_warning(state)
    return info if warning is None else {**info, "warning": warning}


@router.delete("/api/voices/{voice_id}/reference")
async def clear_reference(voice_id: str, state: StateDep) -> dict[str, Any]:
    return await asyncio.to_thread(state.store.clear_override, voice_id)


@router.get("/api/voices/{voice_id}/reference/audio")
async def reference_audio(
    voice_id: str,
    state: StateDep,
    source: Annotated[Literal["baseline", "override"], Query()] = "baseline",
) -> Response:
    data, media_type = await asyncio.to_thread(state.store.audio_bytes, voice_id, source)
    return Response(data, media_type=media_type, headers={"Cache-Control": "no-store"})
