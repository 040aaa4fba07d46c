"""The chat panel shows a Twitch connection failure as a banner in plain words (headless Chromium against
the real server). Only loopback is contacted: ``nonexistent.invalid`` is failed by the client itself
(RFC 6761) and a guard on ``socket.getaddrinfo`` proves that no resolver was asked."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Host names anything in this process asked the resolver for, other than loopback."""
    asked: list[object] = []
    real = socket.getaddrinfo

    def guard(host: object, *args: Any, **kw: Any) -> Any:
        if host not in LOOPBACK and not (isinstance(host, bytes) and host.decode() in LOOPBACK):
            asked.append(host)
            raise socket.gaierror(socket.EAI_NONAME, "blocked by the test: loopback only")
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", guard)
    return asked


@pytest.fixture
def twitch_at(live_server: Any) -> Iterator[Any]:
    """``set(host, port)`` points the server's Twitch client there; restored (and stopped) afterwards."""
    service = live_server.app.state.ishowtts.extras["danmaku"]
    saved = service.settings

    def point(host: str, port: int) -> None:
        service.settings = saved.replace(twitch_host=host, twitch_port=port, reconnect_max_s=2.0)

    try:
        yield point
    finally:
        httpx.post(f"{live_server.url}/api/danmaku/stop", timeout=30)
        service.settings = saved


@pytest.mark.parametrize("where", ["dns", "refused"])
def test_connection_failure_banner(
    page: Any, live_server: Any, twitch_at: Any, lookups: list, where: str
) -> None:
    pg, errors = page
    if where == "dns":
        host, port = "nonexistent.invalid", 6667
        message = "can't reach Twitch: DNS lookup failed for nonexistent.invalid — is this machine online?"
        raw = "gaierror: [Errno -2]"
    else:
        host, port = "127.0.0.1", _closed_port()
        message = (
            f"can't reach Twitch: 127.0.0.1:{port} refused the connection — is danmaku.twitch_host / "
            "twitch_port right?"
        )
        raw = "ConnectionRefusedError: [Errno 111]"
    twitch_at(host, port)
    pg.goto(f"{live_server.url}/")
    pg.wait_for_function("document.querySelector('#dm-status').textContent.includes('queue')", timeout=15000)
    assert pg.is_hidden("#dm-problem")
    pg.fill("#dm-channel", "somechannel")
    pg.click("#dm-start")
    pg.wait_for_selector("#dm-problem", state="visible", timeout=15000)
    assert pg.inner_text("#dm-problem-text") == message
    assert "retrying" in pg.inner_text("#dm-problem-retry")
    # The raw error is there for debugging, folded away; the grey status line carries no exception text.
    assert pg.is_hidden("#dm-problem-detail")
    assert pg.text_content("#dm-problem-detail").startswith(raw)
    assert "Errno" not in pg.inner_text("#dm-status") and "Error" not in pg.inner_text("#dm-status")
    pg.click("#dm-problem summary")
    assert pg.is_visible("#dm-problem-detail")
    pg.click("#dm-stop")
    pg.wait_for_selector("#dm-problem", state="hidden", timeout=10000)
    assert errors.all() == []
    assert lookups == []
