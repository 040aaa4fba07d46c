"""The OpenAI-compatible API: ``POST /v1/audio/speech``, ``GET|POST /v1/audio/voices``,
``DELETE /v1/audio/voices/{id}`` (created voices only; a configured one answers 409), ``GET /v1/models``.

``/v1/audio/speech`` streams by default: the first chunk is awaited before the response starts (so a full
queue, an unknown voice or an engine failure still get a proper status code), then each synthesised chunk
is encoded and sent as it arrives (a streamed WAV's header has 0xFFFFFFFF sizes). When the whole clip is
known before the first byte goes out (``"stream": false``, or a cache hit) it is sent as one file with a
Content-Length (a WAV then has its true sizes). ``stream_format=sse`` wraps the same bytes (base64) in
``speech.audio.delta`` events and ends with ``speech.audio.done`` carrying usage (``input_tokens`` =
characters of input, ``output_tokens`` = audio frames of 256 samples). OpenAI's built-in voice names
(alloy, nova, ...) map to the default voice unless a voice with that id exists.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from ishowtts.engine.scheduler import Priority
from ishowtts.logging_setup import kv
from ishowtts.server.encoding import StreamEncoder, format_info
from ishowtts.server.errors import ApiError
from ishowtts.server.route_helpers import (
    CLIENT_CLOSED,
    INLINE_ENCODE,
    audio_headers,
    check_text,
    cloning_warning,
    encode_off_loop,
    read_upload,
    synthesize_whole,
)
from ishowtts.server.schemas import MODEL_IDS, SpeechRequest
from ishowtts.server.spoken import spoken_text
from ishowtts.server.state import AppState, StateDep
from ishowtts.server.streaming import CancellableStream, ClientDisconnected, run_until_disconnect, sse_event
from ishowtts.voices.store import InvalidAudio, VoiceNotDeletable
from ishowtts.voices.text_fields import clean_text_field

log = logging.getLogger(__name__)
router = APIRouter()

OPENAI_VOICES = frozenset(
    {
        "alloy",
        "ash",
        "ballad",
        "coral",
        "echo",
        "fable",
        "nova",
        "onyx",
        "sage",
        "shimmer",
        "verse",
        "marin",
        "cedar",
    }
)
FRAME_SAMPLES = 256


def resolve_voice_id(state: AppState, requested: str | None) -> str | None:
    if requested and requested not in state.store and requested.lower() in OPENAI_VOICES:
        return None  # the default voice
    return requested


@router.post("/v1/audio/speech")
async def speech(body: SpeechRequest, request: Request, state: StateDep) -> Any:
    start = time.perf_counter()
    text = check_text(body.input, state.config.server.max_text_chars, "input")
    fmt = body.response_format.lower()
    info = format_info(fmt)
    if not body.stream and body.stream_format == "sse":
        raise ApiError(
            400,
            "stream_format: 'sse' sends the audio as it is made; it needs \"stream\": true (the default)",
            code="invalid_request",
            param="stream_format",
        )
    voice_id, ref = await state.voice(resolve_voice_id(state, body.voice_id()))
    spoken = await spoken_text(state, text, body.normalize_changes(), "input")
    request_id = uuid.uuid4().hex
    fields = {"request_id": request_id, "voice": voice_id, "chars": len(text), "format": fmt}
    fields |= {"stream": body.stream, "stream_format": body.stream_format}
    if not body.stream:
        result = await synthesize_whole(
            request, state, spoken, ref, body.params(), request_id=request_id, voice_id=voice_id
        )
        if result is None:
            return Response(status_code=CLIENT_CLOSED)
        log.info("speech", extra=kv(**fields, cached=result.cached))
        data = await _whole_file(result.audio, result.sample_rate, fmt, state, start)
        headers = audio_headers(request_id, result.sample_rate, voice_id, result.replica)
        return Response(data, media_type=info.media_type, headers=headers)
    sr = state.sample_rate
    stream = state.scheduler.stream(spoken, ref, body.params(), priority=Priority.INTERACTIVE)
    try:
        first: np.ndarray | None = await run_until_disconnect(request.receive, stream.__anext__())
    except StopAsyncIteration:
        first = None
    except ClientDisconnected:
        await stream.aclose()
        log.info("client went away before the first chunk", extra=kv(request_id=request_id))
        return Response(status_code=CLIENT_CLOSED)
    except BaseException:
        await stream.aclose()
        raise
    whole = first is not None and bool(getattr(stream, "whole", False))  # a cache hit
    log.info("speech", extra=kv(**fields, cached=whole))
    headers = audio_headers(request_id, sr, voice_id, getattr(stream, "replica", None))
    if first is not None and whole:  # the length is known before the first byte: send it as one file
        await stream.aclose()
        data = await _whole_file(first, sr, fmt, state, start)
        if body.stream_format == "sse":
            return CancellableStream(_sse(_once(data), text), media_type="text/event-stream", headers=headers)
        return Response(data, media_type=info.media_type, headers=headers)
    audio_bytes = _encoded(stream, first, StreamEncoder(fmt, sr), state, start)
    if body.stream_format == "sse":
        return CancellableStream(_sse(audio_bytes, text), media_type="text/event-stream", headers=headers)
    return CancellableStream(audio_bytes, media_type=info.media_type, headers=headers)


async def _whole_file(audio: np.ndarray, sample_rate: int, fmt: str, state: AppState, start: float) -> bytes:
    """A finished clip as one file (a WAV with its true RIFF and data sizes)."""
    data = await encode_off_loop(audio, sample_rate, fmt)
    state.metrics.ttfa.labels("openai", "full").observe(time.perf_counter() - start)
    return data


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _encoded(
    stream: AsyncIterator[np.ndarray],
    first: np.ndarray | None,
    enc: StreamEncoder,
    state: AppState,
    start: float,
) -> AsyncIterator[bytes]:
    """Encoded bytes of the stream, in order; closes the scheduler stream however it ends."""
    inline = enc.fmt in INLINE_ENCODE
    sent_audio = False
    try:
        head = enc.header()
        if head:
            yield head
        chunk = first
        while chunk is not None:
            data = enc.encode(chunk) if inline else await asyncio.to_thread(enc.encode, chunk)
            if data:
                if not sent_audio:
                    sent_audio = True
                    state.metrics.ttfa.labels("openai", "stream").observe(time.perf_counter() - start)
                yield data
            chunk = await anext(stream, None)
        tail = enc.finish() if inline else await asyncio.to_thread(enc.finish)
        if tail:
            if not sent_audio:
                state.metrics.ttfa.labels("openai", "stream").observe(time.perf_counter() - start)
            yield tail
    finally:
        if inline:
            enc.close()
        else:  # an abandoned encode may still hold the lock in its thread: never block the loop on it
            await asyncio.to_thread(enc.close)
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


async def _sse(audio: AsyncIterator[bytes], text: str) -> AsyncIterator[bytes]:
    total = 0
    try:
        async for piece in audio:
            total += len(piece)
            yield sse_event({"type": "speech.audio.delta", "audio": base64.b64encode(piece).decode("ascii")})
    except Exception as exc:
        yield sse_event(
            {"type": "error", "error": {"message": f"synthesis failed: {exc}", "type": "server_error"}}
        )
        return
    finally:
        aclose = getattr(audio, "aclose", None)
        if aclose is not None:
            await aclose()
    input_tokens = len(text)
    output_tokens = total // 2 // FRAME_SAMPLES  # approximate for compressed formats
    usage = {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
    }
    yield sse_event({"type": "speech.audio.done", "usage": usage})


@router.get("/v1/audio/voices")
async def openai_voices(state: StateDep) -> dict[str, Any]:
    return {"voices": [{"id": v.id, "name": v.name or v.id} for v in state.store.list()]}


def _unix(ts: str | None) -> int:
    if not ts:
        return int(time.time())
    try:
        return int(datetime.fromisoformat(ts).timestamp())
    except ValueError:
        return int(time.time())


@router.post("/v1/audio/voices")
async def create_voice(
    name: Annotated[str, Form(max_length=64)],
    audio_sample: Annotated[UploadFile, File()],
    state: StateDep,
    reference_text: Annotated[str | None, Form(max_length=2000)] = None,
    text: Annotated[str | None, Form(max_length=2000)] = None,
) -> dict[str, Any]:
    if not name.strip():
        raise ApiError(400, "name: must not be empty", param="name")
    text_field = "reference_text" if reference_text is not None else "text"
    ref_text = reference_text if reference_text is not None else text
    # the store checks these again; checked here, the message and param name the form field that was sent
    for field_name, value in (("name", name), (text_field, ref_text)):
        try:
            clean_text_field(value or "", field_name)
        except ValueError as exc:
            raise ApiError(400, str(exc), code="invalid_request", param=field_name) from None
    data, filename = await read_upload(audio_sample, state.config.server.max_upload_bytes, "audio_sample")
    if data is None:
        raise ApiError(
            400, "audio_sample: an audio file is required", code="invalid_audio", param="audio_sample"
        )
    try:
        entry = await asyncio.to_thread(state.store.create_voice, name, data, filename, ref_text)
    except InvalidAudio as exc:
        raise ApiError(400, f"audio_sample: {exc}", code="invalid_audio", param="audio_sample") from None
    except ValueError as exc:
        raise ApiError(400, str(exc), code="invalid_request") from None
    created: dict[str, Any] = {
        "id": entry.id,
        "name": entry.name or name,
        "created_at": _unix(entry.created_at),
        "object": "audio.voice",
    }
    warning = cloning_warning(state)
    return created if warning is None else {**created, "warning": warning}


@router.delete(
    "/v1/audio/voices/{voice_id}",
    responses={
        409: {"description": "A voice from the config (or the default voice): it cannot be deleted here"},
        507: {"description": "Not enough disk space to rewrite the voice index; nothing was deleted"},
    },
)
async def delete_voice(voice_id: str, state: StateDep) -> dict[str, Any]:
    """Delete a voice created with ``POST /v1/audio/voices``: its files and index entry (and any
    reference override of it). Unknown ids answer 404, so a second delete does too."""
    try:
        await asyncio.to_thread(state.store.delete_voice, voice_id)
    except VoiceNotDeletable as exc:
        raise ApiError(409, str(exc), code="voice_not_deletable", param="voice_id") from None
    return {"id": voice_id, "object": "audio.voice.deleted", "deleted": True}


@router.get("/v1/models")
async def models(state: StateDep) -> dict[str, Any]:
    """The names ``/v1/audio/speech`` answers to (it accepts any; one engine serves them all). The engine's
    own model name is in ``/api/health``."""
    created = int(state.extras.get("started_at", time.time()))
    return {
        "object": "list",
        "data": [{"id": m, "object": "model", "created": created, "owned_by": "ishowtts"} for m in MODEL_IDS],
    }
