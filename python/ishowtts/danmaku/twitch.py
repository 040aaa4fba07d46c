"""Twitch chat over IRC (asyncio, no bot framework).

One connection joins any number of channels. Login is anonymous (``justinfan`` + 8 random digits,
read-only) unless an OAuth token is configured (``oauth:...``, ``#access_token=...`` or ``Bearer ...``,
with the account's login as ``nick``). On connect, in one write: ``CAP REQ :twitch.tv/tags
twitch.tv/commands twitch.tv/membership``, ``PASS``, ``NICK``, ``USER``, ``CAP END``; after the welcome
(001) every wanted channel is joined. When the connection is lost (a reset, a failed write) the lines
received before are still handled first (``streams.py``), so a server that refuses the login and hangs up
at once is reported as the refused login, not as a dropped connection. ``PING`` is answered with ``PONG``; silence for ``idle_timeout_s`` sends our own
``PING`` and a second silent period drops the connection. Any error, ``RECONNECT`` or server close leads
to a reconnect after an exponential backoff with jitter (reset after a successful login). Host and port
come from settings (tests use a local ngircd); an optional SOCKS5 proxy is used for the TCP connection.

Nicknames: a stock IRC server may refuse the anonymous Twitch nick during registration: ``432`` (too
long: RFC 1459's limit is 9 characters, ngircd's default) or ``433`` (in use). The client then tries
another anonymous nick on the same connection (``jf`` + 7 digits after a 432, a fresh random one after a
433), at most ``MAX_NICK_TRIES`` per connection, and then fails with :class:`IrcNickError`. A nick chosen
by the user (with a token) is never replaced. Every failure is kept as a :class:`Problem` (plain words
plus the raw error, see ``errors.py``) in :meth:`TwitchIrcClient.status` until the next successful login.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from ishowtts.danmaku.errors import (
    IrcChannelError,
    IrcClosedError,
    IrcIdleTimeout,
    IrcLoginError,
    IrcNickError,
    Problem,
    explain,
    never_resolves,
)
from ishowtts.danmaku.irc import (
    IrcLine,
    moderation_event,
    normalise_channel,
    normalise_oauth_token,
    parse_line,
    privmsg_to_message,
)
from ishowtts.danmaku.message import ChatEvent, ChatMessage
from ishowtts.danmaku.settings import DanmakuSettings
from ishowtts.danmaku.socks5 import open_connection_via_socks5
from ishowtts.danmaku.streams import KeepingReader, open_connection
from ishowtts.logging_setup import kv

log = logging.getLogger(__name__)

CAPS = "twitch.tv/tags twitch.tv/commands twitch.tv/membership"
_LOGIN_FAILURES = ("login authentication failed", "improperly formatted auth", "login unsuccessful")
_NO_CHANNEL = ("msg_channel_suspended", "msg_channel_not_found")  # NOTICE msg-id after a JOIN
_BAD_PASSWORD = ("password", "access denied", "authentication")
_CONNECT_TIMEOUT_S = 15.0
MAX_NICK_TRIES = 5  # nicknames offered per connection before giving up with IrcNickError
SHORT_NICK_LEN = 9  # RFC 1459's NICKLEN, still ngircd's default: "jf" + 7 digits


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
        on_event: Callable[[ChatEvent], None] | None = None,
    ) -> None:
        self.settings = settings
        self._on_message = on_message
        self._on_event = on_event
        self._rng = rng or random.Random()
        self._short_nick = False  # the server refused the long anonymous form (432)
        self._nick_rejections: list[tuple[str, str]] = []
        self.token = normalise_oauth_token(settings.oauth_token) if settings.oauth_token else None
        self.nick = settings.nick.lower() if self.token and settings.nick else self._anonymous_nick()
        self.wanted: set[str] = set()
        self.joined: set[str] = set()
        self.state = "stopped"
        self.connects = 0
        self.reconnects = 0
        self.messages = 0
        self.pings_answered = 0
        self.last_error: str | None = None  # the raw error (kept for logs); ``problem`` has plain words
        self.problem: Problem | None = None
        self._refused_channel: str | None = None  # the channel a "channel" problem is about
        self.connected_since: float | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._write_error: OSError | None = None  # a failed write: raised once the lines received are read
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
        if self.problem is not None and self.problem.kind == "channel" and self._refused_channel == name:
            self.problem = self.last_error = None  # no longer wanted: its problem is gone
            self._report(None)
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
            "error": self.problem.as_dict() if self.problem else None,
        }

    # ---- connection loop -------------------------------------------------------------------
    async def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            self._registered = False
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except (OSError, asyncio.TimeoutError, ValueError) as exc:
                if not self._stopping:  # the server's answer to our QUIT is no failure
                    self._fail(exc)
            except Exception as exc:  # never let the loop die: log, back off, retry
                self._fail(exc)
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
                extra=kv(
                    kind=self.problem.kind if self.problem else None,
                    reason=self.problem.message if self.problem else None,
                    error=self.last_error,
                    attempt=attempt,
                    delay_s=round(delay, 3),
                ),
            )
            await asyncio.sleep(delay)

    def _fail(self, exc: BaseException) -> None:
        proxy = urlsplit(self.settings.socks5_proxy) if self.settings.socks5_proxy else None
        self.problem = explain(
            exc,
            host=self.settings.twitch_host,
            port=self.settings.twitch_port,
            proxy=f"{proxy.hostname}:{proxy.port}" if proxy else None,
            connect_timeout_s=_CONNECT_TIMEOUT_S,
        )
        self.last_error = self.problem.detail
        self._report(self.problem)

    def _report(self, problem: Problem | None) -> None:
        """Tell the service (player banners) about a new problem, or that the last one is gone."""
        if self._on_event is None:
            return
        if problem is None:
            event = ChatEvent("problem_clear")
        else:
            event = ChatEvent("problem", code=problem.code, message=problem.message, detail=problem.detail)
        try:
            self._on_event(event)
        except Exception:
            log.exception("danmaku event handler failed")

    async def _connect(self) -> tuple[KeepingReader, asyncio.StreamWriter]:
        host, port = self.settings.twitch_host, self.settings.twitch_port
        lookup = urlsplit(self.settings.socks5_proxy).hostname if self.settings.socks5_proxy else host
        if lookup and never_resolves(lookup):  # RFC 6761: fail at once, ask no resolver
            raise socket.gaierror(socket.EAI_NONAME, f"Name or service not known ({lookup})")
        if self.settings.socks5_proxy:
            return await open_connection_via_socks5(
                self.settings.socks5_proxy, host, port, timeout=_CONNECT_TIMEOUT_S
            )
        return await asyncio.wait_for(open_connection(host, port), _CONNECT_TIMEOUT_S)

    async def _session(self) -> None:
        """One connection, from connect to the first error (always raises; the loop reconnects)."""
        self.state = "connecting"
        reader, writer = await self._connect()
        self._writer = writer
        self._write_error = None
        self.connects += 1
        self._nick_rejections = []
        if self.token is None and self._short_nick and len(self.nick) > SHORT_NICK_LEN:
            self.nick = self._anonymous_nick()
        login = [f"CAP REQ :{CAPS}", *([f"PASS {self.token}"] if self.token else []), f"NICK {self.nick}"]
        await self._send(*login, f"USER {self.nick} 8 * :{self.nick}", "CAP END")
        ping_pending = False
        while True:
            try:
                raw = await asyncio.wait_for(reader.readline(), self.settings.idle_timeout_s)
            except asyncio.TimeoutError:
                if ping_pending:
                    raise IrcIdleTimeout("no answer to our PING") from None
                ping_pending = True
                await self._send("PING :ishowtts")
                continue
            if not raw:  # every line received has been handled: now the loss itself
                raise reader.lost or self._write_error or IrcClosedError("")
            ping_pending = False
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not text:
                continue
            try:
                line = parse_line(text)
            except ValueError:
                log.debug("unparseable irc line", extra=kv(line=text[:200]))
                continue
            await self._handle(line)

    async def _handle(self, line: IrcLine) -> None:
        """React to one line; raises to end the session (the loop reconnects)."""
        cmd = line.command
        if cmd == "PING":
            await self._send("PONG :" + (line.params[-1] if line.params else "tmi.twitch.tv"))
            self.pings_answered += 1
        elif cmd == "001":
            self._registered = True
            self.state = "connected"
            self.connected_since = time.time()
            self.last_error = None
            had_problem, self.problem = self.problem, None
            if had_problem is not None:
                self._report(None)
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
                    if self.problem is not None and self.problem.kind == "channel":
                        self.problem = self.last_error = None
                        self._report(None)
                else:
                    self.joined.discard(name)
        elif cmd in ("CLEARMSG", "CLEARCHAT"):
            event = moderation_event(line)
            if event is not None and event.channel in self.wanted and self._on_event is not None:
                try:
                    self._on_event(event)
                except Exception:
                    log.exception("danmaku event handler failed")
        elif cmd == "NOTICE" and line.params:
            notice = line.params[-1]
            if any(s in notice.lower() for s in _LOGIN_FAILURES):
                raise IrcLoginError(notice)
            if line.tags.get("msg-id") in _NO_CHANNEL and line.params[0].startswith("#"):
                channel = self._refused_channel = line.params[0][1:].lower()
                self.problem = explain(
                    IrcChannelError(channel, notice),
                    host=self.settings.twitch_host,
                    port=self.settings.twitch_port,
                )
                self.last_error = self.problem.detail
                log.error("twitch irc channel refused", extra=kv(channel=channel, notice=notice[:200]))
                self._report(self.problem)
                return
            log.info("twitch irc notice", extra=kv(notice=notice[:200]))
        elif cmd == "RECONNECT":
            log.info("twitch irc asked us to reconnect")
            raise IrcClosedError("it asked us to reconnect")
        elif cmd == "ERROR":
            reason = line.params[-1] if line.params else ""
            if not self._registered and any(s in reason.lower() for s in _BAD_PASSWORD):
                raise IrcLoginError(reason)
            raise IrcClosedError(reason)
        elif cmd in ("432", "433"):  # erroneous nickname / nickname in use
            if not self._registered:
                await self._nick_rejected(line)
            else:  # we never change our nick after login
                log.warning("twitch irc nick reply after login ignored", extra=kv(line=" ".join(line.params)))

    async def _nick_rejected(self, line: IrcLine) -> None:
        reason = f"{line.command} {line.params[-1] if len(line.params) > 1 else ''}".strip()
        self._nick_rejections.append((self.nick, reason))
        if self.token is not None or len(self._nick_rejections) >= MAX_NICK_TRIES:
            raise IrcNickError(self._nick_rejections, chosen_by_user=self.token is not None)
        if line.command == "432":
            self._short_nick = True
        rejected, self.nick = self.nick, self._anonymous_nick()
        log.info(
            "twitch irc nickname refused; trying another",
            extra=kv(nick=rejected, reason=reason, next=self.nick, attempt=len(self._nick_rejections)),
        )
        await self._send(f"NICK {self.nick}")

    def _anonymous_nick(self) -> str:
        if self._short_nick:
            return "jf" + str(self._rng.randint(0, 10 ** (SHORT_NICK_LEN - 2) - 1)).zfill(SHORT_NICK_LEN - 2)
        return f"justinfan{self._rng.randint(10_000_000, 99_999_999)}"  # Twitch's anonymous form

    # ---- io --------------------------------------------------------------------------------
    async def _send(self, *lines: str) -> None:
        """Send the lines in one write. A failed write is kept, not raised: the connection is lost, and the
        session raises it once it has handled the lines received before (they may say why)."""
        if self._writer is None:
            raise ConnectionError("not connected")
        if any("\r" in line or "\n" in line for line in lines):
            raise ValueError("IRC line must not contain CR/LF")
        self._writer.write(b"".join(line.encode("utf-8") + b"\r\n" for line in lines))
        try:
            await self._writer.drain()
        except OSError as exc:
            self._write_error = self._write_error or exc

    async def _send_quiet(self, line: str) -> None:
        with contextlib.suppress(Exception):
            await self._send(line)

    def _close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None
