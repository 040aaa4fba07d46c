"""Connection failures in plain words (``ishowtts.danmaku.errors``): one mapping for every common failure."""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl

import pytest

from ishowtts.danmaku.errors import (
    IrcChannelError,
    IrcClosedError,
    IrcIdleTimeout,
    IrcLoginError,
    IrcNickError,
    explain,
    never_resolves,
    raw_error,
)
from ishowtts.danmaku.socks5 import Socks5Error

HOST, PORT = "irc.chat.twitch.tv", 6667


def _cert_error() -> ssl.SSLCertVerificationError:
    exc = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    exc.verify_message = "self-signed certificate"
    return exc


CASES = [
    (
        socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
        "dns",
        "can't reach Twitch: DNS lookup failed for irc.chat.twitch.tv — is this machine online?",
    ),
    (
        ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed ('127.0.0.1', 6667)"),
        "refused",
        "can't reach Twitch: irc.chat.twitch.tv:6667 refused the connection — is danmaku.twitch_host / "
        "twitch_port right?",
    ),
    (
        TimeoutError(),
        "timeout",
        "can't reach Twitch: no answer from irc.chat.twitch.tv:6667 within 15 s — is this machine online, "
        "or is a firewall blocking the port?",
    ),
    (IrcIdleTimeout("no answer to our PING"), "timeout", "Twitch stopped answering (no reply to our PING)"),
    (
        OSError(errno.ENETUNREACH, "Network is unreachable"),
        "network",
        "can't reach Twitch: no route to irc.chat.twitch.tv:6667 — is this machine online?",
    ),
    (
        _cert_error(),
        "tls",
        "can't reach Twitch: the TLS certificate of irc.chat.twitch.tv:6667 could not be verified "
        "(self-signed certificate) — is something intercepting the connection?",
    ),
    (
        IrcLoginError("Login authentication failed"),
        "auth",
        "Twitch rejected the login (Login authentication failed): the OAuth token is invalid, expired, or "
        "lacks the chat:read scope it needs to read chat (chat:edit is only needed to send messages) — check "
        "danmaku.oauth_token (it needs the chat:read scope) and danmaku.nick (the account's login name)",
    ),
    (
        IrcLoginError("Improperly formatted auth"),
        "auth",
        "Twitch rejected the login (Improperly formatted auth): the OAuth token is not in a form Twitch "
        "accepts (oauth:… from a user access token) — check danmaku.oauth_token (it needs the chat:read "
        "scope) and danmaku.nick (the account's login name)",
    ),
    (
        IrcChannelError("nosuchchan", "This channel does not exist or has been suspended."),
        "channel",
        "the Twitch channel 'nosuchchan' does not exist or is suspended (This channel does not exist or has "
        "been suspended.) — check the channel name",
    ),
    (
        IrcNickError([("toolongaccountname", "432 Nickname too long")], chosen_by_user=True),
        "nick",
        "Twitch rejected the nickname 'toolongaccountname' (432 Nickname too long) — set danmaku.nick to "
        "the account's login name",
    ),
    (
        IrcNickError(
            [("justinfan12345678", "432 too long"), ("jf1234567", "433 in use")], chosen_by_user=False
        ),
        "nick",
        "Twitch rejected every nickname we tried (2, the last 'jf1234567': 433 in use) — set danmaku.nick "
        "and danmaku.oauth_token to log in as an account",
    ),
    (
        Socks5Error("socks5 proxy rejected the username/password"),
        "proxy",
        "can't reach Twitch through the SOCKS5 proxy: socks5 proxy rejected the username/password — check "
        "danmaku.socks5_proxy",
    ),
    (
        IrcClosedError("Closing link: too many connections"),
        "closed",
        "Twitch closed the connection (Closing link: too many connections)",
    ),
    (IrcClosedError(""), "closed", "Twitch closed the connection"),
    (
        ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
        "closed",
        "Twitch dropped the connection (Connection reset by peer)",
    ),
    (ValueError("bad line"), "other", "the Twitch chat connection failed: ValueError: bad line"),
]


@pytest.mark.parametrize(
    ("exc", "kind", "message"), CASES, ids=[c[1] + "-" + type(c[0]).__name__ for c in CASES]
)
def test_each_failure_has_plain_words(exc: BaseException, kind: str, message: str) -> None:
    p = explain(exc, host=HOST, port=PORT, connect_timeout_s=15.0)
    assert (p.kind, p.message) == (kind, message)
    assert p.detail == raw_error(exc)  # the raw error stays available for logs
    assert p.as_dict() == {"kind": kind, "message": message, "detail": p.detail}
    if kind != "other":  # no exception jargon in what people read
        assert "Errno" not in p.message and type(exc).__name__ not in p.message


def test_raw_detail_keeps_the_original_error() -> None:
    p = explain(socket.gaierror(-2, "Name or service not known"), host=HOST, port=PORT)
    assert p.detail == "gaierror: [Errno -2] Name or service not known"
    assert raw_error(TimeoutError()) == "TimeoutError"


def test_connect_failures_through_a_proxy_name_the_proxy() -> None:
    proxy = "proxy.lan:1080"
    refused = explain(ConnectionRefusedError(111, "refused"), host=HOST, port=PORT, proxy=proxy)
    assert refused.message == (
        "can't reach Twitch: the SOCKS5 proxy proxy.lan:1080 refused the connection — check danmaku.socks5_proxy"
    )
    dns = explain(socket.gaierror(-2, "Name or service not known"), host=HOST, port=PORT, proxy=proxy)
    assert dns.message == (
        "can't reach Twitch: DNS lookup failed for proxy.lan:1080 — is this machine online, and is the "
        "proxy's host name right?"
    )


@pytest.mark.anyio
async def test_real_tls_handshake_failure() -> None:
    """A TLS client against a plain-text server on loopback: the real ``ssl.SSLError`` is mapped."""

    async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b":irc.example NOTICE * :*** Looking up your hostname...\r\n" * 4)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(plain, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(ssl.SSLError) as raised:
            await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port, ssl=ssl.create_default_context()), 10
            )
    finally:
        server.close()
        await server.wait_closed()
    p = explain(raised.value, host="127.0.0.1", port=6697)
    assert p.kind == "tls"
    assert p.message == (
        "can't reach Twitch: the secure (TLS) connection to 127.0.0.1:6697 failed — is that port a TLS port?"
    )
    assert p.detail.startswith("SSLError: [SSL: ")


@pytest.mark.parametrize(
    ("host", "never"),
    [
        ("nonexistent.invalid", True),
        ("Twitch.INVALID.", True),
        ("invalid", True),
        ("irc.chat.twitch.tv", False),
        ("invalid.example.com", False),
        ("127.0.0.1", False),
    ],
)
def test_reserved_invalid_names(host: str, never: bool) -> None:
    assert never_resolves(host) is never
