"""A minimal SOCKS5 client (RFC 1928 CONNECT, RFC 1929 user/password): enough to reach IRC via a proxy."""

from __future__ import annotations

import asyncio
import ipaddress
import struct
from urllib.parse import unquote, urlsplit

from ishowtts.danmaku.streams import KeepingReader, open_connection


class Socks5Error(ConnectionError):
    pass


_REPLIES = {
    1: "general SOCKS server failure",
    2: "connection not allowed by ruleset",
    3: "network unreachable",
    4: "host unreachable",
    5: "connection refused",
    6: "TTL expired",
    7: "command not supported",
    8: "address type not supported",
}


def parse_proxy_url(url: str) -> tuple[str, int, str | None, str | None]:
    parts = urlsplit(url)
    if parts.scheme not in ("socks5", "socks5h") or not parts.hostname or parts.port is None:
        raise ValueError(f"socks5 proxy: must look like socks5://[user:pass@]host:port, got {url!r}")
    user = unquote(parts.username) if parts.username else None
    pw = unquote(parts.password) if parts.password else None
    return parts.hostname, parts.port, user, pw


async def _read(reader: asyncio.StreamReader, n: int) -> bytes:
    try:
        return await reader.readexactly(n)
    except asyncio.IncompleteReadError as exc:
        raise Socks5Error("socks5 proxy closed the connection during the handshake") from exc


async def socks5_handshake(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    host: str,
    port: int,
    username: str | None = None,
    password: str | None = None,
) -> None:
    """Ask the proxy on ``reader``/``writer`` to CONNECT to ``host:port``; raises :class:`Socks5Error`."""
    methods = b"\x00\x02" if username is not None else b"\x00"
    writer.write(bytes([5, len(methods)]) + methods)
    await writer.drain()
    ver, method = await _read(reader, 2)
    if ver != 5:
        raise Socks5Error(f"socks5 proxy answered version {ver}, not 5")
    if method == 0x02:
        if username is None:
            raise Socks5Error("socks5 proxy requires a username/password")
        u, p = username.encode(), (password or "").encode()
        if len(u) > 255 or len(p) > 255:
            raise Socks5Error("socks5 username/password too long")
        writer.write(b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p)
        await writer.drain()
        _, status = await _read(reader, 2)
        if status != 0:
            raise Socks5Error("socks5 proxy rejected the username/password")
    elif method != 0x00:
        raise Socks5Error("socks5 proxy accepted none of our authentication methods")
    try:
        ip = ipaddress.ip_address(host)
        addr = (b"\x01" if ip.version == 4 else b"\x04") + ip.packed
    except ValueError:
        h = host.encode("idna")
        if len(h) > 255:
            raise Socks5Error("socks5 target host name too long") from None
        addr = b"\x03" + bytes([len(h)]) + h
    writer.write(b"\x05\x01\x00" + addr + struct.pack(">H", port))
    await writer.drain()
    ver, rep, _, atyp = await _read(reader, 4)
    if ver != 5:
        raise Socks5Error(f"socks5 proxy answered version {ver}, not 5")
    if rep != 0:
        raise Socks5Error(f"socks5 CONNECT to {host}:{port} failed: {_REPLIES.get(rep, f'code {rep}')}")
    if atyp == 1:
        await _read(reader, 4 + 2)
    elif atyp == 4:
        await _read(reader, 16 + 2)
    elif atyp == 3:
        (n,) = await _read(reader, 1)
        await _read(reader, n + 2)
    else:
        raise Socks5Error(f"socks5 proxy answered an unknown address type {atyp}")


async def open_connection_via_socks5(
    proxy_url: str, host: str, port: int, *, timeout: float = 15.0
) -> tuple[KeepingReader, asyncio.StreamWriter]:
    phost, pport, user, pw = parse_proxy_url(proxy_url)
    reader, writer = await asyncio.wait_for(open_connection(phost, pport), timeout)
    try:
        await asyncio.wait_for(socks5_handshake(reader, writer, host, port, user, pw), timeout)
    except BaseException:
        writer.close()
        raise
    return reader, writer
