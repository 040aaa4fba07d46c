"""Twitch client registration and failures against a real ngircd with its stock settings: the anonymous
nick refused (432, NICKLEN 9) or taken (433) is replaced on the same connection, a bounded number of
times; connection failures reach ``/api/danmaku/status`` in plain words. Only loopback is contacted:
``nonexistent.invalid`` is failed by the client itself (RFC 6761) without asking any resolver."""

from __future__ import annotations

import random
import re
import socket

import anyio
import pytest
from fastapi.testclient import TestClient

from ishowtts.danmaku.message import ChatMessage
from ishowtts.danmaku.service import DanmakuService
from ishowtts.danmaku.twitch import MAX_NICK_TRIES, TwitchIrcClient


def recording(client: TwitchIrcClient) -> list[str]:
    """The NICK lines the client sends."""
    nicks: list[str] = []
    send = client._send

    async def spy(*lines: str) -> None:
        nicks.extend(line[5:] for line in lines if line.startswith("NICK "))
        await send(*lines)

    client._send = spy  # type: ignore[method-assign]
    return nicks


@pytest.mark.anyio
async def test_stock_nick_length_joins_and_receives(h, ngircd) -> None:
    got: list[ChatMessage] = []

    with anyio.fail_after(h.DEADLINE_S):
        client = TwitchIrcClient(h.settings_for(ngircd.port), got.append, rng=random.Random(5))
        nicks = recording(client)
        await client.join("streamer")
        await client.start()
        await h.until(lambda: "streamer" in client.joined, what="join with a nick that fits")
        sender = h.Sender(ngircd.port)
        await sender.connect("streamer")
        await sender.say("streamer", "hello from a stock server")
        await h.until(lambda: len(got) == 1, what="message")
        sender.close()
        # Twitch's anonymous form first; after the 432 a 9-character one, on the same connection.
        assert re.fullmatch(r"justinfan\d{8}", nicks[0])
        assert len(nicks) == 2 and re.fullmatch(r"jf\d{7}", nicks[1]) and client.nick == nicks[1]
        assert client.connects == 1 and client.reconnects == 0
        st = client.status()
        assert st["connected"] and st["error"] is None and st["last_error"] is None
        await client.stop()

    assert got[0].text == "hello from a stock server"


@pytest.mark.anyio
async def test_twitch_form_kept_where_it_fits(h, ngircd_factory) -> None:
    server = ngircd_factory(max_nick_length=31)

    with anyio.fail_after(h.DEADLINE_S):
        client = TwitchIrcClient(h.settings_for(server.port), lambda m: None)
        nicks = recording(client)
        await client.start()
        await h.until(lambda: client.connected, what="login")
        assert len(nicks) == 1 and re.fullmatch(r"justinfan\d{8}", client.nick)
        await client.stop()


@pytest.mark.anyio
async def test_nick_in_use_picks_another(h, ngircd) -> None:
    """Two clients with the same random sequence: the second finds its short nick taken (433)."""
    got: list[tuple[str, str]] = []

    with anyio.fail_after(h.DEADLINE_S):
        first = TwitchIrcClient(
            h.settings_for(ngircd.port), lambda m: got.append(("first", m.text)), rng=random.Random(9)
        )
        second = TwitchIrcClient(
            h.settings_for(ngircd.port), lambda m: got.append(("second", m.text)), rng=random.Random(9)
        )
        nicks1, nicks2 = recording(first), recording(second)
        for c in (first, second):
            await c.join("streamer")
        await first.start()
        await h.until(lambda: "streamer" in first.joined, what="first joined")
        await second.start()
        await h.until(lambda: "streamer" in second.joined, what="second joined")
        assert nicks2[:2] == nicks1 and len(nicks2) == 3  # long (432), taken (433), fresh
        assert second.nick == nicks2[2] != first.nick and second.connects == 1
        sender = h.Sender(ngircd.port)
        await sender.connect("streamer")
        await sender.say("streamer", "both of you")
        await h.until(lambda: len(got) == 2, what="message to both")
        sender.close()
        await first.stop()
        await second.stop()

    assert sorted(got) == [("first", "both of you"), ("second", "both of you")]


@pytest.mark.anyio
async def test_nick_tries_are_bounded_with_a_plain_error(h, ngircd_factory) -> None:
    server = ngircd_factory(max_nick_length=8)  # shorter than any nick the client makes up

    with anyio.fail_after(h.DEADLINE_S):
        # a backoff of 1-2 s: nothing of the next connection is sent while the first one is checked
        settings = h.settings_for(server.port, reconnect_base_s=2.0, reconnect_max_s=2.0)
        client = TwitchIrcClient(settings, lambda m: None)
        nicks = recording(client)
        await client.start()
        await h.until(lambda: client.reconnects >= 1, 20, "the connection given up")
        assert len(nicks) == MAX_NICK_TRIES and len(set(nicks)) == MAX_NICK_TRIES
        assert not client.connected
        err = client.status()["error"]
        assert err["kind"] == "nick"
        assert err["message"].startswith(
            f"Twitch rejected every nickname we tried ({MAX_NICK_TRIES}, the last "
        )
        assert "432" in err["detail"]
        await h.until(lambda: len(nicks) > MAX_NICK_TRIES, what="a later retry")
        assert client.connects == 2 and len(nicks[MAX_NICK_TRIES]) == 9  # the next connection starts short
        await client.stop()


@pytest.mark.anyio
async def test_account_nick_is_never_replaced(h, ngircd_factory) -> None:
    server = ngircd_factory(password="oauth:s3cret")

    with anyio.fail_after(h.DEADLINE_S):
        too_long = TwitchIrcClient(
            h.settings_for(server.port, oauth_token="s3cret", nick="averyveryverylongname"), lambda m: None
        )
        nicks = recording(too_long)
        await too_long.start()
        await h.until(lambda: too_long.reconnects >= 1, what="refused nick")
        assert nicks[:1] == ["averyveryverylongname"] and set(nicks) == {"averyveryverylongname"}
        err = too_long.status()["error"]
        assert err["kind"] == "nick" and err["message"].startswith(
            "Twitch rejected the nickname 'averyveryverylongname' (432 "
        )
        assert err["message"].endswith("— set danmaku.nick to the account's login name")
        await too_long.stop()


@pytest.mark.anyio
async def test_account_nick_in_use(h, ngircd) -> None:
    with anyio.fail_after(h.DEADLINE_S):
        holder = h.Sender(ngircd.port, "mybot")
        await holder.connect("streamer")
        taken = TwitchIrcClient(
            h.settings_for(ngircd.port, oauth_token="s3cret", nick="MyBot"), lambda m: None
        )
        nicks = recording(taken)
        await taken.start()
        await h.until(lambda: taken.reconnects >= 1, what="nick in use")
        assert set(nicks) == {"mybot"}
        err = taken.status()["error"]
        assert err["kind"] == "nick" and err["message"].startswith(
            "Twitch rejected the nickname 'mybot' (433 "
        )
        await taken.stop()
        holder.close()


@pytest.mark.anyio
async def test_bad_password_is_a_rejected_login(h, ngircd_factory) -> None:
    server = ngircd_factory(password="oauth:s3cret")

    with anyio.fail_after(h.DEADLINE_S):
        bad = TwitchIrcClient(h.settings_for(server.port, oauth_token="wrong", nick="mybot"), lambda m: None)
        await bad.start()
        await h.until(lambda: bad.reconnects >= 1, what="rejected login")
        err = bad.status()["error"]
        assert err["kind"] == "auth" and err["message"].startswith("Twitch rejected the login (")
        await bad.stop()


@pytest.mark.parametrize("where", ["dns", "refused"])
def test_connection_failure_in_status(h, monkeypatch, where: str) -> None:
    if where == "dns":
        host, port = "nonexistent.invalid", 6667

        def no_lookup(*args: object, **kw: object) -> object:
            raise AssertionError(f"a resolver was asked: {args}")

        monkeypatch.setattr(socket, "getaddrinfo", no_lookup)
        message = "can't reach Twitch: DNS lookup failed for nonexistent.invalid — is this machine online?"
    else:
        host, port = "127.0.0.1", h.closed_port()  # nothing listens there
        message = (
            f"can't reach Twitch: 127.0.0.1:{port} refused the connection — is danmaku.twitch_host / "
            "twitch_port right?"
        )
    settings = h.make_settings(twitch_host=host, twitch_port=port, reconnect_base_s=0.05, reconnect_max_s=0.2)
    service = DanmakuService(settings, h.FakeSynth(), h.encode_wav)
    with TestClient(h.make_app(service)) as client:
        r = client.post("/api/danmaku/start", json={"channel": "somechannel"})
        assert r.status_code == 202, r.text
        h.wait_for(lambda: client.get("/api/danmaku/status").json()["sources"][0]["error"] is not None)
        src = client.get("/api/danmaku/status").json()["sources"][0]
        assert src["error"]["kind"] == where and src["error"]["message"] == message
        assert src["state"] in ("connecting", "backoff") and not src["connected"]
        raw = "gaierror: [Errno -2]" if where == "dns" else "ConnectionRefusedError: [Errno 111]"
        assert src["error"]["detail"].startswith(raw) and src["last_error"] == src["error"]["detail"]
        client.post("/api/danmaku/stop")
        assert client.get("/api/danmaku/status").json()["sources"] == []
