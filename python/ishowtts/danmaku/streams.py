"""TCP streams for the chat clients that keep what arrived before a connection loss.

asyncio's ``StreamReader`` raises a connection error (``ConnectionResetError``) on the next read as soon as
the transport reports it, even while complete lines received before it are still buffered. A server that
answers and hangs up at once with some of our data unread sends its answer followed by an RST; Twitch does
this after a refused login (``NOTICE * :Login authentication failed``), and the answer, which says why, would
be lost. :class:`KeepingReader` hands out everything received first, then end-of-stream, and keeps the error
in :attr:`KeepingReader.lost` for the caller to raise after that.
"""

from __future__ import annotations

import asyncio


class KeepingReader(asyncio.StreamReader):
    """A ``StreamReader`` whose connection error comes after the data received before it (as EOF, with the
    error in :attr:`lost`)."""

    def __init__(self) -> None:
        super().__init__()
        self.lost: BaseException | None = None

    def set_exception(self, exc: BaseException) -> None:
        if self.lost is None:
            self.lost = exc
        self.feed_eof()


async def open_connection(host: str, port: int) -> tuple[KeepingReader, asyncio.StreamWriter]:
    """``asyncio.open_connection`` with a :class:`KeepingReader`."""
    loop = asyncio.get_running_loop()
    reader = KeepingReader()
    protocol = asyncio.StreamReaderProtocol(reader)
    transport, _ = await loop.create_connection(lambda: protocol, host, port)
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)
