"""HTTP routes of the danmaku pipeline (mounted by the server next to the iShowTTS API).

``POST /api/danmaku/start``   ``{platform, channel, voice_id?}`` -> 202 (``channel``: one or more names or
                              twitch.tv URLs, separated by commas or spaces)
``POST /api/danmaku/stop``    ``{platform?, channel?}`` (no body: everything) -> 200 ``{stopped: [...]}``
``GET  /api/danmaku/status``  connected channels, queue depth, dropped counts, synthesis, playback
``POST /api/danmaku/enqueue`` a normalised message -> 202 accepted / 204 filtered (``X-Danmaku-Filtered``)
``WS   /api/danmaku/stream``  binary frames ``u32 LE header length | JSON header | WAV bytes``; text frames:
                              JSON control events (skip, remove, clear, state, error, error_clear)
``GET  /api/danmaku/events``  SSE ``event: clip`` (header fields plus ``audio_base64``), ``event: control``
``POST /api/danmaku/control`` ``{action: skip|pause|resume|clear|ban|unban, user?}``
``GET  /api/danmaku/voices``  sticky per-user voices, the pool, the default and the ``!voice`` choices
``PUT|DELETE /api/danmaku/voices/{login}``  assign (``{voice}``) or forget a viewer's voice
``GET|PUT /api/danmaku/settings``  the trigger/filter settings (``[danmaku]`` key names; PUT: some of them)

Browsers cannot put an ``Authorization`` header on a WebSocket or an EventSource, so when an API key is
given the two streaming routes also accept it as ``?api_key=...``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request, WebSocket, WebSocketDisconnect, status
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from ishowtts.danmaku.irc import normalise_channel
from ishowtts.danmaku.message import ChatMessage, MessagePriority
from ishowtts.danmaku.playback import Clip
from ishowtts.danmaku.service import DanmakuError, DanmakuService
from ishowtts.logging_setup import kv

log = logging.getLogger(__name__)

_SSE_KEEPALIVE_S = 15.0
_NAME = r"^[A-Za-z0-9_.:#@/-]{1,100}$"


class StartRequest(BaseModel):
    platform: str = Field("twitch", max_length=32)
    channel: str = Field(..., min_length=1, max_length=200)
    voice_id: str | None = Field(None, max_length=64)


class StopRequest(BaseModel):
    platform: str | None = Field(None, max_length=32)
    channel: str | None = Field(None, max_length=200)


class EnqueueRequest(BaseModel):
    id: str | None = Field(None, min_length=1, max_length=128)
    platform: str = Field(..., pattern=r"^[a-z0-9_-]{1,32}$")
    channel: str = Field(..., pattern=_NAME)
    user_id: str | None = Field(None, max_length=128)
    username: str = Field(..., min_length=1, max_length=100)
    priority: str | int | None = None
    text: str = Field(..., max_length=4000)
    metadata: dict[str, Any] | None = None
    timestamp: float | None = None


class ControlRequest(BaseModel):
    action: str = Field(..., pattern=r"^(skip|pause|resume|clear|ban|unban)$")
    user: str | None = Field(None, max_length=100)


class VoiceRequest(BaseModel):
    voice: str = Field(..., min_length=1, max_length=64)


_LOGIN = r"^@?[A-Za-z0-9_]{1,100}$"


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status.HTTP_400_BAD_REQUEST)


def _key_ok(api_key: str | None, header: str | None, query: str | None) -> bool:
    if not api_key:
        return True
    supplied = None
    if header and header.lower().startswith("bearer "):
        supplied = header[7:].strip()
    elif query:
        supplied = query
    return supplied is not None and hmac.compare_digest(supplied.encode(), api_key.encode())


def build_router(service: DanmakuService, *, api_key: str | None = None) -> APIRouter:
    router = APIRouter(prefix="/api/danmaku", tags=["danmaku"])

    @router.post("/start", status_code=status.HTTP_202_ACCEPTED)
    async def start(req: StartRequest) -> Any:
        channels = [c for c in req.channel.replace(",", " ").split() if c]
        if not channels:
            return _bad_request("channel: empty")
        started = []
        try:
            if req.platform.strip().lower() == "twitch":
                for channel in channels:  # all valid, or none started
                    try:
                        normalise_channel(channel)
                    except ValueError as exc:
                        raise DanmakuError(str(exc)) from None
            for channel in channels:  # "a, b" or "a b": several channels at once
                started.append(await service.start_channel(req.platform, channel, req.voice_id))
        except DanmakuError as exc:
            return _bad_request(str(exc))
        return {"started": started, "status": service.status()}

    @router.post("/stop")
    async def stop(req: Annotated[StopRequest | None, Body()] = None) -> Any:
        req = req or StopRequest()
        try:
            stopped = await service.stop_channel(req.platform, req.channel)
        except DanmakuError as exc:
            return _bad_request(str(exc))
        return {"stopped": stopped, "status": service.status()}

    @router.get("/status")
    async def get_status() -> Any:
        return service.status()

    @router.post("/enqueue", status_code=status.HTTP_202_ACCEPTED, response_model=None)
    async def enqueue(req: EnqueueRequest) -> Any:
        try:
            prio = MessagePriority.parse(req.priority) if req.priority is not None else None
        except ValueError as exc:
            return _bad_request(str(exc))
        fields: dict[str, Any] = {}
        metadata = dict(req.metadata or {})
        if req.id:
            fields["id"] = req.id
            metadata.setdefault("msg_id", req.id)
        if req.timestamp is not None:
            fields["timestamp"] = req.timestamp
        msg = ChatMessage(
            platform=req.platform,
            channel=req.channel.lstrip("#").lower(),
            username=req.username,
            text=req.text,
            user_id=req.user_id,
            priority=prio,
            metadata=metadata,
            **fields,
        )
        try:
            decision = service.enqueue(msg)
        except DanmakuError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
        if not decision.accepted:
            return Response(
                status_code=status.HTTP_204_NO_CONTENT,
                headers={"X-Danmaku-Filtered": decision.reason or "filtered"},
            )
        assert decision.item is not None
        return JSONResponse(
            {
                "accepted": True,
                "id": msg.id,
                "priority": decision.item.priority.name.lower(),
                "display_text": decision.item.text,
                "queue_depth": len(service.gateway),
                "evicted": [v.message.id for v in decision.dropped],
            },
            status_code=status.HTTP_202_ACCEPTED,
        )

    @router.websocket("/stream")
    async def stream(ws: WebSocket) -> None:
        if not _key_ok(api_key, ws.headers.get("authorization"), ws.query_params.get("api_key")):
            await ws.close(code=1008, reason="missing or wrong API key")
            return
        await ws.accept()
        sub = service.hub.subscribe()
        log.info("danmaku playback client connected", extra=kv(kind="websocket"))

        async def watch_disconnect() -> None:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                while True:
                    message = await ws.receive()
                    if message.get("type") == "websocket.disconnect":
                        return

        watcher = asyncio.create_task(watch_disconnect())
        try:
            while True:
                getter = asyncio.create_task(sub.get())
                done, _ = await asyncio.wait({getter, watcher}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                        await getter
                    break
                try:
                    item = getter.result()
                except ConnectionError:  # hub closed (server stopping)
                    break
                if not isinstance(item, Clip):  # a control event
                    try:
                        await ws.send_text(json.dumps(item, ensure_ascii=False))
                    except Exception:
                        break
                    continue
                try:
                    await ws.send_bytes(item.frame())
                except Exception:
                    sub.queue.appendleft(item)  # not delivered: keep it for the next page
                    sub.clips += 1
                    break
        finally:
            watcher.cancel()
            service.hub.unsubscribe(sub)
            with contextlib.suppress(Exception):
                await ws.close()
            log.info("danmaku playback client disconnected", extra=kv(kind="websocket"))

    @router.get("/events")
    async def events(request: Request) -> Any:
        if not _key_ok(api_key, request.headers.get("authorization"), request.query_params.get("api_key")):
            return JSONResponse({"detail": "missing or wrong API key"}, status_code=401)
        sub = service.hub.subscribe()

        async def gen() -> AsyncIterator[str]:
            try:
                yield ": connected\n\n"
                last = time.monotonic()
                while True:
                    try:
                        item = await asyncio.wait_for(sub.get(), 1.0)
                    except asyncio.TimeoutError:
                        if await request.is_disconnected():
                            return
                        if time.monotonic() - last > _SSE_KEEPALIVE_S:
                            last = time.monotonic()
                            yield ": keepalive\n\n"
                        continue
                    except ConnectionError:
                        return
                    last = time.monotonic()
                    if isinstance(item, Clip):
                        yield f"event: clip\nid: {item.header.get('id', '')}\ndata: {item.sse_data()}\n\n"
                    else:
                        yield f"event: control\ndata: {json.dumps(item, ensure_ascii=False)}\n\n"
            finally:
                service.hub.unsubscribe(sub)

        return StreamingResponse(
            gen(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @router.post("/control")
    async def control(req: ControlRequest) -> Any:
        try:
            result = service.control(req.action, req.user)
        except DanmakuError as exc:
            return _bad_request(str(exc))
        return {**result, "paused": service.gateway.paused, "queued": len(service.gateway)}

    @router.get("/voices")
    async def voices() -> Any:
        return service.voices_info()

    @router.put("/voices/{login}")
    async def put_voice(login: Annotated[str, Path(pattern=_LOGIN)], req: VoiceRequest) -> Any:
        try:
            service.assign_voice(login.lstrip("@"), req.voice.strip())
        except DanmakuError as exc:
            return _bad_request(str(exc))
        return service.voices_info()

    @router.delete("/voices/{login}")
    async def delete_voice(login: Annotated[str, Path(pattern=_LOGIN)]) -> Any:
        if not service.voices.remove(login.lstrip("@")):
            return JSONResponse({"detail": f"no voice assigned to {login!r}"}, status_code=404)
        return service.voices_info()

    @router.get("/settings")
    async def get_settings() -> Any:
        return service.settings.editable_dict()

    @router.put("/settings")
    async def put_settings(changes: Annotated[dict[str, Any], Body()]) -> Any:
        try:
            return service.update_settings(changes)
        except DanmakuError as exc:
            return _bad_request(str(exc))

    return router
