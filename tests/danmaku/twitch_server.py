"""A scripted Twitch-style IRC server on loopback, run on its own event loop in a thread (so sync
TestClient tests and anyio tests can both use it).

It answers ``CAP REQ`` (ACK), ``PASS``/``NICK`` (``001``..``376``, or ``NOTICE * :Login authentication
failed`` and a hang-up when ``token`` is set and the PASS differs), ``JOIN`` (the echo, or Twitch's
``msg_channel_suspended`` NOTICE for a channel outside ``channels``) and ``PING``; the test then sends
tagged lines the way Twitch does with :meth:`send` / :meth:`privmsg` / :meth:`clearmsg` /
:meth:`clearchat`.

``hasty=True`` refuses a login the way a busy server can: it answers the NICK at once, without reading the
rest of the login (``USER``, ``CAP END``), and hangs up with that data unread, which makes the kernel reset
the connection (RST) instead of closing it. asyncio reads what has arrived into user space, so the unread
data is modelled with ``SO_LINGER`` 0, the same abortive close. A client then sees the NOTICE, then the
reset, close together."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
import zlib

_ESCAPES = {"\\": "\\\\", ";": "\\:", " ": "\\s", "\r": "\\r", "\n": "\\n"}


def escape_tag(value: str) -> str:
    return "".join(_ESCAPES.get(c, c) for c in value)


def tag_string(tags: dict[str, object]) -> str:
    return "@" + ";".join(f"{k}={escape_tag(str(v))}" for k, v in tags.items())


class ScriptedTwitch:
    def __init__(
        self, *, token: str | None = None, channels: set[str] | None = None, hasty: bool = False
    ) -> None:
        self.token = token
        self.hasty = hasty
        self.channels = channels
        self.port = 0
        self.received: list[str] = []
        self.joined: set[str] = set()
        self.logins = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._ids = 0

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> ScriptedTwitch:
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self.port = fut.result(10)
        return self

    async def _start(self) -> int:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    def close(self) -> None:
        async def stop() -> None:
            for w in self._writers:
                with contextlib.suppress(Exception):
                    w.close()
            if self._server is not None:
                self._server.close()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    # ---- the IRC side ------------------------------------------------------------------------
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        password = None
        nick = "unknown"

        def out(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        try:
            while True:
                raw = await reader.readline()
                if not raw:
                    return
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                self.received.append(line)
                cmd, _, rest = line.partition(" ")
                cmd = cmd.upper()
                if cmd == "CAP" and rest.startswith("REQ"):
                    out(f":tmi.twitch.tv CAP * ACK :{rest.partition(':')[2]}")
                elif cmd == "PASS":
                    password = rest.strip()
                elif cmd == "NICK":
                    nick = rest.strip()
                    if self.token is not None and password != f"oauth:{self.token}" and self.hasty:
                        out(":tmi.twitch.tv NOTICE * :Login authentication failed")
                        await writer.drain()
                        sock = writer.get_extra_info("socket")
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        writer.close()
                        return
                    if self.token is not None and password != f"oauth:{self.token}":
                        # read the rest of the registration first: closing with unread data would send
                        # an RST, and the client could lose the NOTICE
                        with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
                            while b"CAP END" not in await asyncio.wait_for(reader.readline(), 1.0):
                                pass
                        out(":tmi.twitch.tv NOTICE * :Login authentication failed")
                        await writer.drain()
                        writer.close()
                        return
                    self.logins += 1
                    for n, text in (("001", "Welcome, GLHF!"), ("002", "Your host is tmi.twitch.tv"),
                                    ("375", "-"), ("372", "You are in a maze of twisty passages."),
                                    ("376", ">")):  # fmt: skip
                        out(f":tmi.twitch.tv {n} {nick} :{text}")
                    self._writers.append(writer)
                elif cmd == "JOIN":
                    for chan in rest.strip().lstrip(":").split(","):
                        name = chan.lstrip("#").lower()
                        if self.channels is not None and name not in self.channels:
                            out(f"@msg-id=msg_channel_suspended :tmi.twitch.tv NOTICE #{name} "
                                ":This channel does not exist or has been suspended.")  # fmt: skip
                            continue
                        out(f":{nick}!{nick}@{nick}.tmi.twitch.tv JOIN #{name}")
                        out(f"@emote-only=0;room-id=1;subs-only=0 :tmi.twitch.tv ROOMSTATE #{name}")
                        self.joined.add(name)
                elif cmd == "PING":
                    out(f":tmi.twitch.tv PONG tmi.twitch.tv {rest}")
                await writer.drain()
        except (ConnectionError, OSError):
            return
        finally:
            if writer in self._writers:
                self._writers.remove(writer)

    # ---- scripted lines ------------------------------------------------------------------------
    def send(self, *lines: str) -> None:
        """Send raw lines to every logged-in client (from any thread)."""

        async def go() -> None:
            for w in list(self._writers):
                for line in lines:
                    w.write(line.encode("utf-8") + b"\r\n")
                await w.drain()

        asyncio.run_coroutine_threadsafe(go(), self._loop).result(10)

    def privmsg_line(self, channel: str, user: str, text: str, **tags: object) -> str:
        self._ids += 1
        base: dict[str, object] = {
            "badge-info": "",
            "badges": "",
            "color": "#1E90FF",
            "display-name": user.capitalize(),
            "emotes": "",
            "first-msg": 0,
            "id": f"msg-{self._ids}",
            "mod": 0,
            "room-id": 1,
            "subscriber": 0,
            "tmi-sent-ts": int(time.time() * 1000),
            "turbo": 0,
            "user-id": zlib.crc32(user.encode()),
            "user-type": "",
        }
        base.update({k.replace("_", "-"): v for k, v in tags.items()})
        return f"{tag_string(base)} :{user}!{user}@{user}.tmi.twitch.tv PRIVMSG #{channel} :{text}"

    def privmsg(self, channel: str, user: str, text: str, **tags: object) -> str:
        """Send a tagged PRIVMSG; returns its message id (``tags["id"]`` or a generated one)."""
        line = self.privmsg_line(channel, user, text, **tags)
        self.send(line)
        return line.split("id=", 1)[1].split(";", 1)[0] if "id" not in tags else str(tags["id"])

    def clearmsg(self, channel: str, target_id: str, login: str = "") -> None:
        self.send(f"@login={login};room-id=;target-msg-id={target_id};tmi-sent-ts=1 "
                  f":tmi.twitch.tv CLEARMSG #{channel} :deleted")  # fmt: skip

    def clearchat(self, channel: str, user: str | None = None) -> None:
        if user:
            self.send(f"@ban-duration=600;room-id=1;target-user-id=9;tmi-sent-ts=1 "
                      f":tmi.twitch.tv CLEARCHAT #{channel} :{user}")  # fmt: skip
        else:
            self.send(f"@room-id=1;tmi-sent-ts=1 :tmi.twitch.tv CLEARCHAT #{channel}")
