"""Voices (iShowTTS API): the list and the persistent reference overrides.

``GET /api/voices``; ``GET|POST|DELETE /api/voices/{id}/reference`` (POST: multipart ``text`` and/or
``audio``; an empty ``text`` clears the text override; the audio is decoded and validated before anything
is stored); ``GET /api/voices/{id}/reference/audio?source=baseline|override``.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response

from ishowtts.server.errors import ApiError
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
        return await asyncio.to_thread(
            state.store.set_override, voice_id, text=text, audio=data, filename=filename
        )
    except InvalidAudio:
        raise  # mapped to 400 with its message by the error handlers
    except ValueError as exc:
        raise ApiError(400, str(exc), code="invalid_request") from None


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
