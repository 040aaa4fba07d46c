"""Why a chat connection failed, in plain words: the one place that turns an exception into a message.

:func:`explain` maps the common failures (DNS lookup, refused connection, timeout, TLS, rejected login,
rejected nickname, proxy, a server that hangs up) to a :class:`Problem`: a ``kind`` for code, a
``message`` for people ("can't reach Twitch: DNS lookup failed for irc.chat.twitch.tv — is this machine
online?") and the raw error as ``detail`` for logs. The danmaku status carries it and the page shows the
message as a banner.
"""

from __future__ import annotations

import errno
import socket
import ssl
from dataclasses import asdict, dataclass

from ishowtts.danmaku.socks5 import Socks5Error

#: RFC 6761 §6.4: names under ``.invalid`` never resolve; resolver libraries should answer "no" at once.
INVALID_TLD = ".invalid"


class IrcLoginError(ConnectionError):
    """The server refused our credentials (Twitch NOTICE "Login authentication failed", a bad PASS)."""


class IrcChannelError(ConnectionError):
    """Twitch answered a JOIN with ``msg_channel_suspended``: the channel does not exist (or is suspended)."""

    def __init__(self, channel: str, notice: str) -> None:
        self.channel = channel
        super().__init__(notice)


class IrcNickError(ConnectionError):
    """Every nickname we tried was refused (432 erroneous / 433 in use) during registration."""

    def __init__(self, rejected: list[tuple[str, str]], *, chosen_by_user: bool) -> None:
        self.rejected = list(rejected)  # (nick, the server's reason), in the order tried
        self.chosen_by_user = chosen_by_user
        tried = "; ".join(f"{nick}: {reason}" for nick, reason in self.rejected)
        super().__init__(f"nickname rejected ({tried})")


class IrcClosedError(ConnectionError):
    """The server ended the session (EOF, ``ERROR``, ``RECONNECT``)."""


class IrcIdleTimeout(TimeoutError):
    """The server stayed silent through our own PING."""


@dataclass(frozen=True)
class Problem:
    kind: str  # dns | refused | timeout | network | tls | auth | nick | channel | proxy | closed | other
    message: str  # plain words, shown in the page
    detail: str  # the raw error, for logs and debugging

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    @property
    def code(self) -> str:
        """The player protocol's error code: ``auth``, ``channel``, ``nick`` or ``connect`` (the rest)."""
        return self.kind if self.kind in ("auth", "channel", "nick") else "connect"


def never_resolves(host: str) -> bool:
    """True for a name in the reserved ``.invalid`` domain (RFC 6761): no lookup is needed to fail it."""
    name = host.rstrip(".").lower()
    return name == INVALID_TLD[1:] or name.endswith(INVALID_TLD)


def raw_error(exc: BaseException) -> str:
    """``TypeName: message`` (just the type name when the message is empty)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def explain(
    exc: BaseException,
    *,
    host: str,
    port: int,
    service: str = "Twitch",
    proxy: str | None = None,
    connect_timeout_s: float | None = None,
) -> Problem:
    """Map a failure of the connection to ``host:port`` (through the SOCKS5 proxy ``proxy``, a host
    name, when given) to plain words."""
    detail = raw_error(exc)
    target = f"{host}:{port}"
    where = f"the SOCKS5 proxy {proxy}" if proxy else target
    fix_addr = "check danmaku.socks5_proxy" if proxy else "is danmaku.twitch_host / twitch_port right?"

    def problem(kind: str, message: str) -> Problem:
        return Problem(kind, message, detail)

    if isinstance(exc, IrcNickError):
        nick, reason = exc.rejected[-1] if exc.rejected else ("?", "rejected")
        if exc.chosen_by_user:
            return problem(
                "nick",
                f"{service} rejected the nickname {nick!r} ({reason}) — set danmaku.nick to the account's "
                "login name",
            )
        return problem(
            "nick",
            f"{service} rejected every nickname we tried ({len(exc.rejected)}, the last {nick!r}: {reason}) "
            "— set danmaku.nick and danmaku.oauth_token to log in as an account",
        )
    if isinstance(exc, IrcLoginError):
        lowered = str(exc).lower()
        if "improperly formatted" in lowered:
            why = "the OAuth token is not in a form Twitch accepts (oauth:… from a user access token)"
        else:  # "Login authentication failed" / "Login unsuccessful": invalid, expired or missing the scope
            why = (
                "the OAuth token is invalid, expired, or lacks the chat:read scope it needs to read chat "
                "(chat:edit is only needed to send messages)"
            )
        return problem(
            "auth",
            f"{service} rejected the login ({exc}): {why} — check danmaku.oauth_token (it needs the chat:read "
            "scope) and danmaku.nick (the account's login name)",
        )
    if isinstance(exc, IrcChannelError):
        return problem(
            "channel",
            f"the {service} channel {exc.channel!r} does not exist or is suspended ({exc}) — check the "
            "channel name",
        )
    if isinstance(exc, IrcIdleTimeout):
        return problem("timeout", f"{service} stopped answering (no reply to our PING)")
    if isinstance(exc, IrcClosedError):
        reason = str(exc)
        return problem("closed", f"{service} closed the connection{f' ({reason})' if reason else ''}")
    if isinstance(exc, Socks5Error):
        return problem(
            "proxy", f"can't reach {service} through the SOCKS5 proxy: {exc} — check danmaku.socks5_proxy"
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return problem(
            "tls",
            f"can't reach {service}: the TLS certificate of {target} could not be verified "
            f"({exc.verify_message or exc.reason}) — is something intercepting the connection?",
        )
    if isinstance(exc, ssl.SSLError):
        return problem(
            "tls",
            f"can't reach {service}: the secure (TLS) connection to {target} failed — is that port a "
            "TLS port?",
        )
    if isinstance(exc, socket.gaierror):
        name = proxy or host
        return problem(
            "dns",
            f"can't reach {service}: DNS lookup failed for {name} — is this machine online"
            + (", and is the proxy's host name right?" if proxy else "?"),
        )
    if isinstance(exc, ConnectionRefusedError):
        return problem("refused", f"can't reach {service}: {where} refused the connection — {fix_addr}")
    if isinstance(exc, TimeoutError):
        within = f" within {connect_timeout_s:g} s" if connect_timeout_s else ""
        return problem(
            "timeout",
            f"can't reach {service}: no answer from {where}{within} — is this machine online, or is a "
            "firewall blocking the port?",
        )
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN):
        return problem("network", f"can't reach {service}: no route to {where} — is this machine online?")
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return problem("closed", f"{service} dropped the connection ({exc.strerror or detail})")
    if isinstance(exc, OSError):
        return problem("other", f"can't reach {service}: {exc.strerror or detail}")
    return problem("other", f"the {service} chat connection failed: {detail}")
