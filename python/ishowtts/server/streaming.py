"""Streaming responses that stop the synthesis when the client goes away.

* :class:`CancellableStream` is an ASGI response that sends the body from an async iterator while
  watching ``receive()`` for ``http.disconnect``; on disconnect the body task is cancelled and the iterator
  closed, which closes the scheduler's stream (the scheduler then cancels the work and frees the slot).
  Unlike Starlette's ``StreamingResponse`` it behaves the same for every ASGI spec version and always
  closes the iterator.
* :func:`run_until_disconnect` does the same for non-streaming requests: the synthesis coroutine is
  cancelled when the client disconnects before the answer is ready.
* :func:`sse_event` formats one Server-Sent Event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any, TypeVar

from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from ishowtts.logging_setup import kv

log = logging.getLogger(__name__)

T = TypeVar("T")


class ClientDisconnected(Exception):
    """The client closed the connection before the answer was ready."""


async def wait_for_disconnect(receive: Receive) -> None:
    """Returns once the client has disconnected (the request body must already be consumed)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def run_until_disconnect(receive: Receive, work: Awaitable[T]) -> T:
    """Await ``work``; cancel it and raise :class:`ClientDisconnected` if the client goes away first."""
    task: asyncio.Future[T] = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(wait_for_disconnect(receive))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        watcher.cancel()
        raise
    if task.done():
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    raise ClientDisconnected()


def sse_event(payload: Mapping[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


class CancellableStream(Response):
    """ASGI response streaming ``body`` (an async iterator of bytes); empty pieces are skipped."""

    def __init__(
        self,
        body: AsyncIterator[bytes],
        *,
        media_type: str,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.body_iterator = body
        self.background = None
        self.status_code = status_code
        hdrs = {"content-type": media_type, "cache-control": "no-store", "x-accel-buffering": "no"}
        hdrs.update({k.lower(): v for k, v in (headers or {}).items()})
        self.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in hdrs.items()]
        self.disconnected = False
        self.started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sender = asyncio.ensure_future(self._send_all(send))
        watcher = asyncio.ensure_future(wait_for_disconnect(receive))
        try:
            done, _ = await asyncio.wait({sender, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if sender in done:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
                exc = sender.exception()
                if exc is not None:
                    if not self.started:
                        raise exc
                    # the status is out: end without the final chunk so the client sees a broken transfer
                    log.warning(
                        "stream aborted",
                        extra=kv(path=scope.get("path"), error=f"{type(exc).__name__}: {exc}"),
                    )
                return
            self.disconnected = True
            log.info("client disconnected during stream", extra=kv(path=scope.get("path")))
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await sender
        finally:
            for t in (sender, watcher):
                if not t.done():
                    t.cancel()
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    async def _send_all(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        self.started = True
        async for piece in self.body_iterator:
            if piece:
                msg: Message = {"type": "http.response.body", "body": piece, "more_body": True}
                await send(msg)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
