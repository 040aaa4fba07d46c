"""The IRC server drops the connection in the middle of a stream (ngircd restarted) while the full app
runs: the client reconnects and re-joins, and every chat message is spoken exactly once — none lost
before the drop, none repeated after it — checked at the engine."""

from __future__ import annotations

import asyncio
import shutil
import socket

import pytest
from _server_helpers import make_config, serve_app, wait_until

from ishowtts.server.app import create_app

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def irc_say(port: int, nick: str, channel: str, lines: list[str]) -> None:
    """A second IRC user who joins ``channel`` and says ``lines`` (blocking; run in a thread)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"NICK {nick}\r\nUSER {nick} 8 * :{nick}\r\nJOIN #{channel}\r\n".encode())
        buf = b""
        while b" 366 " not in buf:  # end of NAMES: the join is complete
            data = s.recv(4096)
            assert data, buf
            buf += data
        s.sendall("".join(f"PRIVMSG #{channel} :{line}\r\n" for line in lines).encode())
        s.sendall(b"QUIT :bye\r\n")
        while s.recv(4096):  # the server closes after QUIT: everything before it was processed
            pass


async def test_irc_drop_reconnects_and_speaks_each_message_once(tmp_path, fake_backend, ngircd_mod) -> None:
    if shutil.which("ngircd") is None:
        pytest.fail("ngircd is required for this test (apt-get install ngircd)")
    (tmp_path / "irc").mkdir()
    irc = ngircd_mod.NgircdServer(tmp_path / "irc")
    irc.start()
    try:
        cfg = make_config(
            tmp_path / "data",
            danmaku={
                "twitch_host": "127.0.0.1",
                "twitch_port": irc.port,
                "reconnect_base_s": 0.1,
                "reconnect_max_s": 0.5,
                "cooldown_s": 0.0,
                "template": "{text}",
                "normalize": {"enabled": False},  # spoken as sent, so the messages compare verbatim
            },
        )
        app = create_app(cfg, fake_backend)
        service = app.state.ishowtts.extras["danmaku"]

        def joined() -> bool:
            return bool(service.twitch and "streamer" in service.twitch.joined)

        async with serve_app(app) as client:
            r = await client.post("/api/danmaku/start", json={"channel": "streamer"})
            assert r.status_code == 202, r.text
            await wait_until(joined, 20, what="join")
            before = [f"before drop {i}" for i in range(3)]
            await asyncio.to_thread(irc_say, irc.port, "viewer1", "streamer", before)
            await wait_until(lambda: len(fake_backend.texts) == 3, 20, what="messages before the drop")

            await asyncio.to_thread(irc.restart)  # the server goes away and comes back
            await wait_until(
                lambda: service.twitch.reconnects >= 1 and joined(), 30, what="reconnect + rejoin"
            )
            after = [f"after drop {i}" for i in range(4)]
            await asyncio.to_thread(irc_say, irc.port, "viewer2", "streamer", after)
            await wait_until(lambda: len(fake_backend.texts) == 7, 20, what="messages after the drop")
            await asyncio.sleep(1.0)  # a duplicate (replay, double connection) would arrive now
            status = (await client.get("/api/danmaku/status")).json()
            connects = service.twitch.connects
    finally:
        irc.stop()
    assert fake_backend.texts == before + after  # each once, in order
    assert status["synthesis"]["completed"] == 7 and status["synthesis"]["failed"] == 0
    assert status["gateway"]["accepted"] == 7 and status["dropped_total"] == 0
    assert connects == 2  # exactly one new session, never two at once
