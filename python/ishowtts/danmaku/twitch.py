"""Twitch chat over IRC (asyncio, no bot framework).

One connection joins any number of channels. Login is anonymous (``justinfan`` + random digits,
read-only) unless an OAuth token is configured (``oauth:...``, ``#access_token=...`` or ``Bearer ...``,
with the account's login as ``nick``). On connect: ``CAP REQ :twitch.tv/tags twitch.tv/commands
twitch.tv/membership``, ``PASS``, ``NICK``, ``USER``, ``CAP END``; after the welcome (001) every wanted
channel is joined. ``PING`` is answered with ``PONG``; silence for ``idle_timeout_s`` sends our own
``PING`` and a second silent period drops the connection. Any error, ``RECONNECT`` or server close leads
to a reconnect after an exponential backoff with jitter (reset after a successful login). Host and port
come from settings (tests use a local ngircd); an optional SOCKS5 proxy is used for the TCP connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable

from ishowtts.danmaku.irc import (
    IrcLine,
    normalise_channel,
    normalise_oauth_token,
    parse_line,
    privmsg_to_message,
)
from ishowtts.danmaku.message import ChatMessage
from ishowtts.danmaku.settings import DanmakuSettings
from ishowtts.danmaku.socks5 import open_connection_via_socks5
from ishowtts.logging_setup import kv

log = logging.getLogger(__name__)

CAPS = "twitch.tv/tags twitch.tv/commands twitch.tv/membership"
_LOGIN_FAILURES = ("login authentication failed", "improperly formatted auth", "login unsuccessful")
_CONNECT_TIMEOUT_S = 15.0


class IrcLoginError(ConnectionError):
    pass


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter": a delay in [d/2, d], d = min(cap, base * 2**attempt)."""
    d = min(cap, base * (2 ** min(attempt, 30)))
    return d / 2 + rng.uniform(0, d / 2)


class TwitchIrcClient:
    platform = "twitch"

    def __init__(
        self,
        settings: DanmakuSettings,
        on_message: Callable[[ChatMessage], None],
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self._on_message = on_message
        self._rng = rng or random.Random()
        self.token = normalise_oauth_token(settings.oauth_token) if settings.oauth_token else None
        self.nick = settings.nick.lower() if self.token and settings.nick else self._anonymous_nick()
        self.wanted: set[str] = set()
        self.joined: set[str] = set()
        self.state = "stopped"
        self.connects = 0
        self.reconnects = 0
        self.messages = 0
        self.pings_answered = 0
        self.last_error: str | None = None
        self.connected_since: float | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._registered = False

    # ---- public API ------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.state == "connected"

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="twitch-irc")

    async def stop(self) -> None:
        self._stopping = True
        await self._send_quiet("QUIT :bye")
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        self._close()
        self.state = "stopped"
        self.joined.clear()

    async def join(self, channel: str) -> str:
        name = normalise_channel(channel)
        if name not in self.wanted:
            self.wanted.add(name)
            if self._registered:
                await self._send_quiet(f"JOIN #{name}")
        return name

    async def part(self, channel: str) -> str:
        name = normalise_channel(channel)
        self.wanted.discard(name)
        if self._registered and name in self.joined:
            await self._send_quiet(f"PART #{name}")
        self.joined.discard(name)
        return name

    def status(self) -> dict[str, object]:
        return {
            "platform": self.platform,
            "state": self.state,
            "connected": self.connected,
            "server": f"{self.settings.twitch_host}:{self.settings.twitch_port}",
            "via_proxy": bool(self.settings.socks5_proxy),
            "nick": self.nick,
            "anonymous": self.token is None,
            "channels": sorted(self.wanted),
            "joined": sorted(self.joined),
            "connects": self.connects,
            "reconnects": self.reconnects,
            "messages": self.messages,
            "last_error": self.last_error,
        }

    # ---- connection loop -------------------------------------------------------------------
    async def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            self._registered = False
            try:
                await self._session()
                self.last_error = "server closed the connection"
            except asyncio.CancelledError:
                raise
            except (OSError, asyncio.TimeoutError, ValueError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # never let the loop die: log, back off, retry
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("twitch irc session failed unexpectedly")
            finally:
                self._close()
                self.joined.clear()
            if self._stopping:
                break
            attempt = 0 if self._registered else attempt + 1
            delay = backoff_delay(
                attempt, self.settings.reconnect_base_s, self.settings.reconnect_max_s, self._rng
            )
            self.state = "backoff"
            self.reconnects += 1
            log.warning(
                "twitch irc disconnected; reconnecting",
                extra=kv(error=self.last_error, attempt=attempt, delay_s=round(delay, 3)),
            )
            await asyncio.sleep(delay)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        host, port = self.settings.twitch_host, self.settings.twitch_port
        if self.settings.socks5_proxy:
            return await open_connection_via_socks5(
                self.settings.socks5_proxy, host, port, timeout=_CONNECT_TIMEOUT_S
            )
        return await asyncio.wait_for(asyncio.open_connection(host, port), _CONNECT_TIMEOUT_S)

    async def _session(self) -> None:
        self.state = "connecting"
        reader, writer = await self._connect()
        self._writer = writer
        self.connects += 1
        await self._send(f"CAP REQ :{CAPS}")
        if self.token:
            await self._send(f"PASS {self.token}")
        await self._send(f"NICK {self.nick}")
        await self._send(f"USER {self.nick} 8 * :{self.nick}")
        await self._send("CAP END")
        ping_pending = False
        while True:
            try:
                raw = await asyncio.wait_for(reader.readline(), self.settings.idle_timeout_s)
            except asyncio.TimeoutError:
                if ping_pending:
                    raise TimeoutError("no answer to our PING") from None
                ping_pending = True
                await self._send("PING :ishowtts")
                continue
            if not raw:
                return
            ping_pending = False
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not text:
                continue
            try:
                line = parse_line(text)
            except ValueError:
                log.debug("unparseable irc line", extra=kv(line=text[:200]))
                continue
            if await self._handle(line) is False:
                return

    async def _handle(self, line: IrcLine) -> bool:
        cmd = line.command
        if cmd == "PING":
            await self._send("PONG :" + (line.params[-1] if line.params else "tmi.twitch.tv"))
            self.pings_answered += 1
        elif cmd == "001":
            self._registered = True
            self.state = "connected"
            self.connected_since = time.time()
            self.last_error = None
            log.info("twitch irc logged in", extra=kv(nick=self.nick, channels=",".join(sorted(self.wanted))))
            if self.wanted:
                await self._send("JOIN " + ",".join(f"#{c}" for c in sorted(self.wanted)))
        elif cmd == "PRIVMSG":
            msg = privmsg_to_message(line, self.platform)
            if msg is not None and msg.channel in self.wanted:
                self.messages += 1
                try:
                    self._on_message(msg)
                except Exception:
                    log.exception("danmaku message handler failed")
        elif cmd in ("JOIN", "PART") and line.nick and line.nick.lower() == self.nick and line.params:
            for chan in line.params[0].split(","):
                name = chan.lstrip("#").lower()
                if cmd == "JOIN":
                    self.joined.add(name)
                    log.info("twitch irc joined", extra=kv(channel=name))
                else:
                    self.joined.discard(name)
        elif cmd == "NOTICE" and line.params:
            notice = line.params[-1]
            if any(s in notice.lower() for s in _LOGIN_FAILURES):
                raise IrcLoginError(notice)
            log.info("twitch irc notice", extra=kv(notice=notice[:200]))
        elif cmd == "RECONNECT":
            log.info("twitch irc asked us to reconnect")
            return False
        elif cmd == "ERROR":
            self.last_error = "server ERROR: " + (line.params[-1] if line.params else "")
            return False
        elif cmd == "433" and self.token is None and not self._registered:
            # Anonymous nick taken (e.g. our previous session not yet reaped): pick another one.
            self.nick = self._anonymous_nick()
            await self._send(f"NICK {self.nick}")
        elif cmd in ("433", "432"):  # nickname in use / erroneous
            raise IrcLoginError(f"nickname {self.nick!r} rejected: {line.params[-1] if line.params else cmd}")
        return True

    def _anonymous_nick(self) -> str:
        return f"justinfan{self._rng.randint(10_000, 99_999_999)}"

    # ---- io --------------------------------------------------------------------------------
    async def _send(self, line: str) -> None:
        if self._writer is None:
            raise ConnectionError("not connected")
        if "\r" in line or "\n" in line:
            raise ValueError("IRC line must not contain CR/LF")
        self._writer.write(line.encode("utf-8") + b"\r\n")
        await self._writer.drain()

    async def _send_quiet(self, line: str) -> None:
        with contextlib.suppress(Exception):
            await self._send(line)

    def _close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None
