"""Twitch IRC client: parsing of recorded Twitch lines, and the live path against a real ngircd.

ngircd (26.x) does not accept IRCv3 message tags from clients (a tagged line is answered with
``421 Unknown command``), so tags are tested on recorded Twitch lines and the live tests send untagged
PRIVMSGs from a second, raw client connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import time

import anyio
import pytest

from ishowtts.danmaku.irc import (
    normalise_channel,
    normalise_oauth_token,
    parse_line,
    privmsg_to_message,
    unescape_tag_value,
)
from ishowtts.danmaku.message import ChatMessage
from ishowtts.danmaku.twitch import TwitchIrcClient, backoff_delay

# ---- recorded Twitch lines ------------------------------------------------------------------------

CHEER = (
    "@badge-info=subscriber/8;badges=subscriber/6,bits/1000;bits=100;color=#1E90FF;"
    "display-name=Cool\\sGuy;emotes=;first-msg=0;flags=;id=b34ccfc7-4977-403a-8a94-33c6bac34fb8;mod=0;"
    "room-id=12345;subscriber=1;tmi-sent-ts=1507246572675;turbo=0;user-id=67890;user-type= "
    ":coolguy!coolguy@coolguy.tmi.twitch.tv PRIVMSG #ronni :cheer100 great stream: really"
)
REPLY = (
    "@badges=moderator/1;color=;display-name=ModPerson;first-msg=1;id=msg-2;mod=1;"
    "reply-parent-display-name=Cool\\sGuy;reply-parent-msg-body=hi\\sthere\\:\\s\\\\o/;"
    "reply-parent-msg-id=b34ccfc7;reply-parent-user-login=coolguy;user-id=1 "
    ":modperson!modperson@modperson.tmi.twitch.tv PRIVMSG #ronni :@Cool_Guy hello back"
)
BROADCASTER_ACTION = (
    "@badges=broadcaster/1;color=#FF0000;display-name=Ronni;id=msg-3;user-id=12345 "
    ":ronni!ronni@ronni.tmi.twitch.tv PRIVMSG #ronni :\x01ACTION waves\x01"
)


def test_tag_unescaping() -> None:
    assert unescape_tag_value("a\\sb\\:c\\\\d\\re\\nf") == "a b;c\\d\re\nf"
    assert unescape_tag_value("x\\qy") == "xqy"
    assert unescape_tag_value("trailing\\") == "trailing"
    assert unescape_tag_value("plain") == "plain"


def test_parse_line_shapes() -> None:
    line = parse_line(":tmi.twitch.tv 001 justinfan1 :Welcome, GLHF!")
    assert (line.command, line.params, line.prefix) == (
        "001",
        ["justinfan1", "Welcome, GLHF!"],
        "tmi.twitch.tv",
    )
    assert parse_line("PING :tmi.twitch.tv").params == ["tmi.twitch.tv"]
    assert parse_line(":a!b@c JOIN #chan").nick == "a"
    assert parse_line("@k=v :p PRIVMSG #c :x :y").params == ["#c", "x :y"]
    with pytest.raises(ValueError):
        parse_line("@only=tags")


def test_cheer_tags_into_metadata() -> None:
    m = privmsg_to_message(parse_line(CHEER))
    assert m is not None
    assert (m.platform, m.channel, m.username, m.user_id) == ("twitch", "ronni", "coolguy", "67890")
    assert m.text == "cheer100 great stream: really"
    assert m.id == "b34ccfc7-4977-403a-8a94-33c6bac34fb8"
    assert m.display_name == "Cool Guy" and m.color == "#1E90FF"
    md = m.metadata
    assert md["bits"] == 100 and md["badges"] == {"subscriber": "6", "bits": "1000"} and md["subscriber"]
    assert "first_msg" not in md and "moderator" not in md
    assert m.timestamp == pytest.approx(1507246572.675)


def test_reply_moderator_first_message() -> None:
    m = privmsg_to_message(parse_line(REPLY))
    assert m is not None
    md = m.metadata
    assert md["moderator"] and md["first_msg"] and md["badges"] == {"moderator": "1"}
    assert md["reply"] == {
        "parent_id": "b34ccfc7",
        "parent_user": "coolguy",
        "parent_display_name": "Cool Guy",
        "parent_text": "hi there; \\o/",  # "\\:" in a tag is an escaped ";"
    }
    assert "color" not in md and m.color.startswith("#") and len(m.color) == 7  # derived colour


def test_broadcaster_action() -> None:
    m = privmsg_to_message(parse_line(BROADCASTER_ACTION))
    assert m is not None and m.metadata["broadcaster"] and m.text == "\x01ACTION waves\x01"


def test_non_channel_privmsg_ignored() -> None:
    assert privmsg_to_message(parse_line(":a!a@a PRIVMSG justinfan1 :private")) is None
    assert privmsg_to_message(parse_line(":tmi.twitch.tv NOTICE #c :hello")) is None


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("Ronni", "ronni"),
        ("#ronni", "ronni"),
        ("https://www.twitch.tv/Ronni", "ronni"),
        ("twitch.tv/ronni/videos", "ronni"),
        ("https://m.twitch.tv/ronni?x=1", "ronni"),
        ("https://www.twitch.tv/popout/ronni/chat", "ronni"),
    ],
)
def test_channel_forms(raw: str, name: str) -> None:
    assert normalise_channel(raw) == name


@pytest.mark.parametrize(
    "raw", ["", "bad name", "https://youtube.com/x", "https://twitch.tv/", "a" * 30, "#ch;x"]
)
def test_bad_channels(raw: str) -> None:
    with pytest.raises(ValueError, match="channel"):
        normalise_channel(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "oauth:abc123",
        "abc123",
        "Bearer abc123",
        "#access_token=abc123&scope=chat%3Aread&token_type=bearer",
        "http://localhost/#access_token=abc123&scope=chat",
    ],
)
def test_oauth_token_forms(raw: str) -> None:
    assert normalise_oauth_token(raw) == "oauth:abc123"


def test_backoff_grows_with_jitter_and_cap() -> None:
    rng = random.Random(1)
    for attempt in range(12):
        d = min(30.0, 0.5 * 2**attempt)
        samples = [backoff_delay(attempt, 0.5, 30.0, rng) for _ in range(50)]
        assert all(d / 2 <= s <= d for s in samples)
        assert len(set(samples)) > 1  # jittered


# ---- live tests against ngircd --------------------------------------------------------------------


@pytest.mark.anyio
async def test_join_and_receive(h, ngircd) -> None:
    got: list[ChatMessage] = []

    with anyio.fail_after(h.DEADLINE_S):
        client = TwitchIrcClient(h.settings_for(ngircd.port), got.append, rng=random.Random(3))
        assert client.nick.startswith("justinfan") and client.token is None
        await client.join("https://www.twitch.tv/Streamer")
        await client.join("otherchan")
        await client.start()
        await h.until(lambda: client.joined == {"streamer", "otherchan"}, what="join")
        assert client.connected and client.status()["joined"] == ["otherchan", "streamer"]
        sender = h.Sender(ngircd.port)
        await sender.connect("streamer")
        await sender.say("streamer", "hello world")
        await sender.say("streamer", "你好，世界 ünïcödé")
        await sender.say("streamer", "\x01ACTION dances\x01")
        await h.until(lambda: len(got) == 3, what="3 messages")
        await client.part("otherchan")
        await h.until(lambda: client.joined == {"streamer"}, what="part")
        sender.close()
        await client.stop()
        assert client.state == "stopped"

    assert [m.text for m in got] == ["hello world", "你好，世界 ünïcödé", "\x01ACTION dances\x01"]
    assert {(m.platform, m.channel, m.username) for m in got} == {("twitch", "streamer", "sender")}
    assert len({m.id for m in got}) == 3


@pytest.mark.anyio
async def test_server_restart_reconnects_without_duplicates(h, ngircd) -> None:
    got: list[ChatMessage] = []

    with anyio.fail_after(h.DEADLINE_S):
        client = TwitchIrcClient(h.settings_for(ngircd.port), got.append)
        await client.join("streamer")
        await client.start()
        await h.until(lambda: "streamer" in client.joined, what="join")
        sender = h.Sender(ngircd.port)
        await sender.connect("streamer")
        await sender.say("streamer", "before restart")
        await h.until(lambda: len(got) == 1, what="first message")
        sender.close()

        await asyncio.to_thread(ngircd.restart)
        await h.until(
            lambda: client.connects >= 2 and "streamer" in client.joined, 20, "rejoin after restart"
        )
        assert client.reconnects >= 1
        sender = h.Sender(ngircd.port, "sender2")
        await sender.connect("streamer")
        for i in range(5):
            await sender.say("streamer", f"after restart {i}")
        await h.until(lambda: len(got) == 6, what="messages after restart")
        await asyncio.sleep(0.5)  # anything duplicated would arrive now
        sender.close()
        await client.stop()
        assert client.connects == 2  # exactly one new session, no parallel connections

    assert [m.text for m in got] == ["before restart"] + [f"after restart {i}" for i in range(5)]


@pytest.mark.anyio
async def test_answers_server_ping(h, ngircd_factory) -> None:
    server = ngircd_factory(ping_timeout=1)

    with anyio.fail_after(h.DEADLINE_S):
        client = TwitchIrcClient(h.settings_for(server.port), lambda m: None)
        await client.start()
        await h.until(lambda: client.connected, what="login")
        await h.until(lambda: client.pings_answered >= 2, 15, "two server PINGs answered")
        assert client.connects == 1 and client.reconnects == 0
        await client.stop()


@pytest.mark.anyio
async def test_own_ping_keeps_idle_connection_alive(h, ngircd) -> None:
    with anyio.fail_after(h.DEADLINE_S):
        client = TwitchIrcClient(h.settings_for(ngircd.port, idle_timeout_s=1.2), lambda m: None)
        sent: list[str] = []
        send = client._send

        async def spy(*lines: str) -> None:
            sent.extend(lines)
            await send(*lines)

        client._send = spy  # type: ignore[method-assign]
        await client.start()
        await h.until(lambda: client.connected, what="login")
        await asyncio.sleep(4.0)  # several idle periods: our PING is answered by the server's PONG
        assert client.connected and client.connects == 1 and client.reconnects == 0
        assert sent.count("PING :ishowtts") >= 2
        await client.stop()


@pytest.mark.anyio
async def test_silent_server_triggers_reconnect_with_backoff(h) -> None:
    accepted: list[float] = []

    with anyio.fail_after(h.DEADLINE_S):
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.append(time.monotonic())
            with contextlib.suppress(Exception):
                await reader.read()  # never answers anything
            writer.close()

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = TwitchIrcClient(
            h.settings_for(port, idle_timeout_s=0.1, reconnect_base_s=0.05), lambda m: None
        )
        await client.start()
        await h.until(lambda: len(accepted) >= 3, 10, "3 connection attempts")
        assert client.state in ("connecting", "backoff") and "PING" in (client.last_error or "")
        assert client.status()["error"]["message"] == "Twitch stopped answering (no reply to our PING)"
        await client.stop()
        server.close()


@pytest.mark.anyio
async def test_oauth_login_with_token_forms(h, ngircd_factory) -> None:
    server = ngircd_factory(password="oauth:s3cret")

    with anyio.fail_after(h.DEADLINE_S):
        ok = TwitchIrcClient(
            h.settings_for(server.port, oauth_token="#access_token=s3cret&scope=chat%3Aread", nick="MyBot"),
            lambda m: None,
        )
        assert ok.token == "oauth:s3cret" and ok.nick == "mybot"
        await ok.join("streamer")
        await ok.start()
        await h.until(lambda: "streamer" in ok.joined, what="authenticated join")
        assert ok.status()["anonymous"] is False
        bad = TwitchIrcClient(
            h.settings_for(server.port, oauth_token="Bearer wrong", nick="other"), lambda m: None
        )
        await bad.start()
        await h.until(lambda: bad.reconnects >= 1, what="rejected login")
        assert not bad.connected and bad.last_error
        await bad.stop()
        await ok.stop()


# ---- SOCKS5 ---------------------------------------------------------------------------------------


async def start_socks5_proxy(user: str | None = None, pw: str | None = None) -> tuple[asyncio.Server, list]:
    """A small SOCKS5 proxy (CONNECT only) to put in front of ngircd."""
    log: list[tuple[str, int]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _ver, n = await reader.readexactly(2)
        methods = await reader.readexactly(n)
        if user is not None:
            if 2 not in methods:
                writer.write(b"\x05\xff")
                writer.close()
                return
            writer.write(b"\x05\x02")
            _, ulen = await reader.readexactly(2)
            u = (await reader.readexactly(ulen)).decode()
            (plen,) = await reader.readexactly(1)
            p = (await reader.readexactly(plen)).decode()
            ok = (u, p) == (user, pw)
            writer.write(b"\x01" + (b"\x00" if ok else b"\x01"))
            if not ok:
                writer.close()
                return
        else:
            writer.write(b"\x05\x00")
        _, _cmd, _, atyp = await reader.readexactly(4)
        if atyp == 1:
            host = socket.inet_ntoa(await reader.readexactly(4))
        elif atyp == 3:
            (ln,) = await reader.readexactly(1)
            host = (await reader.readexactly(ln)).decode()
        else:
            writer.write(b"\x05\x08\x00\x01" + b"\x00" * 6)
            writer.close()
            return
        (port,) = struct.unpack(">H", await reader.readexactly(2))
        log.append((host, port))
        try:
            ur, uw = await asyncio.open_connection(host, port)
        except OSError:
            writer.write(b"\x05\x05\x00\x01" + b"\x00" * 6)
            writer.close()
            return
        writer.write(b"\x05\x00\x00\x01\x7f\x00\x00\x01" + struct.pack(">H", 1))

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await r.read(4096):
                    w.write(data)
                    await w.drain()
            with contextlib.suppress(Exception):
                w.close()

        await asyncio.gather(pipe(reader, uw), pipe(ur, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, log


@pytest.mark.parametrize("auth", [False, True])
@pytest.mark.anyio
async def test_via_socks5_proxy(h, ngircd, auth: bool) -> None:
    got: list[ChatMessage] = []

    with anyio.fail_after(h.DEADLINE_S):
        proxy, log = await start_socks5_proxy("u", "p@ss") if auth else await start_socks5_proxy()
        pport = proxy.sockets[0].getsockname()[1]
        url = f"socks5://u:p%40ss@127.0.0.1:{pport}" if auth else f"socks5://127.0.0.1:{pport}"
        client = TwitchIrcClient(h.settings_for(ngircd.port, socks5_proxy=url), got.append)
        await client.join("streamer")
        await client.start()
        await h.until(lambda: "streamer" in client.joined, what="join through proxy")
        assert log == [("127.0.0.1", ngircd.port)]
        sender = h.Sender(ngircd.port)
        await sender.connect("streamer")
        await sender.say("streamer", "through the proxy")
        await h.until(lambda: len(got) == 1, what="message through proxy")
        sender.close()
        await client.stop()
        proxy.close()

    assert got[0].text == "through the proxy"


@pytest.mark.anyio
async def test_socks5_bad_credentials_reported(h) -> None:
    with anyio.fail_after(h.DEADLINE_S):
        proxy, _ = await start_socks5_proxy("u", "right")
        pport = proxy.sockets[0].getsockname()[1]
        client = TwitchIrcClient(
            h.settings_for(1, socks5_proxy=f"socks5://u:wrong@127.0.0.1:{pport}"), lambda m: None
        )
        await client.start()
        await h.until(lambda: client.reconnects >= 1, what="failed attempt")
        assert "username/password" in (client.last_error or "")
        assert client.status()["error"]["kind"] == "proxy"
        await client.stop()
        proxy.close()
