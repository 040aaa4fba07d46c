"""The OBS overlay (/overlay.html) in headless Chromium at 1920x1080 against the real server (espeak
engine): it shows and plays the line being spoken, its progress bar advances, and the moderator's control
events (skip, clear, pause/resume) act on it at once; settings come from the query string; a chat error
shows as a banner. ``ISHOWTTS_UPDATE_SCREENSHOT=1`` rewrites docs/overlay.png."""

from __future__ import annotations

import base64
import contextlib
import io
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
import pytest
import soundfile as sf

pytestmark = pytest.mark.slow

DOCS = Path(__file__).resolve().parents[2] / "docs"
LONG_LINE = "this is a rather long chat message so that its clip keeps playing for a few seconds at least"
PLAYING = (
    "(() => { const p = window.ishowOverlay.player;"
    " return p.current && !p.el.paused && p.el.currentTime > 0.2; })()"
)


def enqueue(server: Any, text: str, user: str, **metadata: Any) -> None:
    body = {"platform": "web", "channel": "test", "username": user, "text": text, "metadata": metadata}
    r = httpx.post(f"{server.url}/api/danmaku/enqueue", json=body, headers=server.headers(), timeout=30)
    assert r.status_code == 202, r.text


def control(server: Any, action: str, **extra: Any) -> httpx.Response:
    r = httpx.post(
        f"{server.url}/api/danmaku/control",
        json={"action": action, **extra},
        headers=server.headers(),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r


def open_overlay(pg: Any, server: Any, query: str = "") -> None:
    pg.set_viewport_size({"width": 1920, "height": 1080})
    pg.goto(f"{server.url}/overlay.html{query}")
    pg.wait_for_function("(document.body.dataset.connection || '').startsWith('connected')", timeout=15000)


def progress(pg: Any) -> float:
    return pg.evaluate("parseFloat(document.querySelector('#ov-progress').style.width) || 0")


def test_overlay_shows_the_line_and_skip_stops_it(page: Any, live_server: Any, tmp_path: Path) -> None:
    pg, errors = page
    open_overlay(pg, live_server, "?volume=0.8&hide_after=5&font_size=46")
    assert pg.evaluate("getComputedStyle(document.body).backgroundColor") == "rgba(0, 0, 0, 0)"
    assert pg.is_hidden("#ov-line")
    enqueue(live_server, LONG_LINE, "overlay_user", display_name="OverlayUser", color="#1E90FF")
    pg.wait_for_function(PLAYING, timeout=30000)
    assert pg.is_visible("#ov-line")
    assert pg.inner_text("#ov-user") == "OverlayUser"
    assert pg.inner_text("#ov-text") == LONG_LINE
    assert pg.evaluate("getComputedStyle(document.querySelector('#ov-user')).color") == "rgb(30, 144, 255)"
    assert pg.evaluate("getComputedStyle(document.querySelector('#ov-text')).fontSize") == "46px"
    assert pg.evaluate("window.ishowOverlay.player.el.volume") == pytest.approx(0.8)
    header = pg.evaluate("window.ishowOverlay.player.current.header")
    assert header["duration_s"] > 2.0 and header["username"] == "OverlayUser"
    # The bar follows the audio element's position over the clip's duration.
    first = progress(pg)
    time.sleep(0.6)
    second = progress(pg)
    assert 0 < first < second < 100
    position = pg.evaluate("window.ishowOverlay.player.el.currentTime")
    assert second == pytest.approx(100 * position / header["duration_s"], abs=15)

    out = DOCS / "overlay.png" if os.environ.get("ISHOWTTS_UPDATE_SCREENSHOT") == "1" else tmp_path / "o.png"
    pg.screenshot(path=str(out), omit_background=True)
    assert 5_000 < out.stat().st_size < 300_000

    control(live_server, "skip")
    pg.wait_for_function("window.ishowOverlay.player.current === null", timeout=5000)
    assert pg.is_hidden("#ov-line")  # a skipped line goes at once, not after hide_after
    assert pg.evaluate("window.ishowOverlay.player.el.paused")
    played = pg.evaluate("window.ishowOverlay.player.played")
    assert [(p["text"], p["how"]) for p in played] == [(LONG_LINE, "skipped")]
    assert (played[0]["ended"] - played[0]["started"]) / 1000 < 0.8 * header["duration_s"]
    assert errors.all() == []


def test_clear_drops_the_playing_and_the_buffered_lines(page: Any, live_server: Any) -> None:
    pg, errors = page
    open_overlay(pg, live_server)
    enqueue(live_server, LONG_LINE, "clear_a")
    enqueue(live_server, "a second line waiting its turn", "clear_b")
    pg.wait_for_function(
        PLAYING + " && window.ishowOverlay.player.items.length === 1", timeout=30000
    )
    control(live_server, "clear")
    pg.wait_for_function("window.ishowOverlay.player.current === null", timeout=5000)
    time.sleep(0.3)
    state = pg.evaluate(
        "(() => { const p = window.ishowOverlay.player;"
        " return {items: p.items.length, how: p.played.map(r => r.how), paused: p.el.paused}; })()"
    )
    assert state == {"items": 0, "how": ["cleared"], "paused": True}
    assert pg.is_hidden("#ov-line")
    assert errors.all() == []


def test_banning_the_speaker_removes_their_line_only(page: Any, live_server: Any) -> None:
    pg, errors = page
    open_overlay(pg, live_server)
    enqueue(live_server, LONG_LINE, "rude_user")
    enqueue(live_server, "a polite line after it", "polite_user")
    pg.wait_for_function(PLAYING + " && window.ishowOverlay.player.items.length === 1", timeout=30000)
    try:
        control(live_server, "ban", user="rude_user")  # the server sends `remove` for their clip
        pg.wait_for_function(
            "window.ishowOverlay.player.current && window.ishowOverlay.player.current.header.username === 'polite_user'",
            timeout=5000,
        )
        assert pg.inner_text("#ov-user") == "polite_user"
        assert pg.evaluate("window.ishowOverlay.player.played[0].how") == "removed"
    finally:
        control(live_server, "unban", user="rude_user")
    pg.wait_for_function("window.ishowOverlay.player.played.length === 2 && !window.ishowOverlay.player.current", timeout=30000)
    assert errors.all() == []


def test_pause_holds_the_line_and_resume_goes_on(page: Any, live_server: Any) -> None:
    pg, errors = page
    open_overlay(pg, live_server)
    enqueue(live_server, LONG_LINE, "pause_user")
    pg.wait_for_function(PLAYING, timeout=30000)
    try:
        control(live_server, "pause")
        pg.wait_for_function("window.ishowOverlay.player.paused && window.ishowOverlay.player.el.paused", timeout=5000)
        at = pg.evaluate("window.ishowOverlay.player.el.currentTime")
        time.sleep(0.5)
        assert pg.evaluate("window.ishowOverlay.player.el.currentTime") == at
        assert pg.is_visible("#ov-line") and pg.evaluate("document.body.classList.contains('paused')")
    finally:
        control(live_server, "resume")
    pg.wait_for_function(
        "!window.ishowOverlay.player.paused && window.ishowOverlay.player.el.currentTime > " + str(at + 0.2),
        timeout=5000,
    )
    control(live_server, "skip")
    pg.wait_for_function("window.ishowOverlay.player.current === null", timeout=5000)
    assert errors.all() == []


def test_sse_transport_plays_and_obeys_skip(page: Any, live_server: Any) -> None:
    pg, errors = page
    open_overlay(pg, live_server, "?transport=sse")
    assert pg.evaluate("window.ishowOverlay.channel.transport") == "sse"
    enqueue(live_server, LONG_LINE, "sse_user")
    pg.wait_for_function(PLAYING, timeout=30000)
    assert pg.inner_text("#ov-user") == "sse_user"
    control(live_server, "skip")
    pg.wait_for_function("window.ishowOverlay.player.current === null", timeout=5000)
    assert pg.evaluate("window.ishowOverlay.player.played[0].how") == "skipped"
    assert errors.all() == []


def _bed_url() -> str:
    sr = 8000
    t = np.arange(sr * 2) / sr
    buf = io.BytesIO()
    sf.write(buf, (0.2 * np.sin(2 * np.pi * 110 * t)).astype(np.float32), sr, format="WAV", subtype="PCM_16")
    return "data:audio/wav;base64," + base64.b64encode(buf.getvalue()).decode()


def test_bed_is_ducked_while_a_line_is_spoken(page: Any, live_server: Any) -> None:
    pg, errors = page
    open_overlay(pg, live_server, f"?bed={quote(_bed_url(), safe='')}&bed_volume=0.5&duck=0.2&hide_after=0")
    pg.wait_for_function("!window.ishowOverlay.bed.paused", timeout=10000)
    assert pg.evaluate("window.ishowOverlay.bed.volume") == pytest.approx(0.5)
    enqueue(live_server, LONG_LINE, "duck_user")
    pg.wait_for_function(PLAYING, timeout=30000)
    pg.wait_for_function("Math.abs(window.ishowOverlay.bed.volume - 0.1) < 1e-3", timeout=2000)
    control(live_server, "skip")
    pg.wait_for_function("Math.abs(window.ishowOverlay.bed.volume - 0.5) < 1e-3", timeout=2000)
    assert pg.is_hidden("#ov-line")
    assert errors.all() == []


def test_bad_settings_show_a_banner_and_use_the_default(page: Any, live_server: Any) -> None:
    pg, errors = page
    open_overlay(pg, live_server, "?volume=loud&transport=pigeon")
    banners = pg.inner_text("#ov-banners")
    assert "volume=loud ignored: use a number from 0 to 1 (using 1)" in banners
    assert "transport=pigeon ignored: use one of auto, ws, sse" in banners
    assert pg.evaluate("window.ishowOverlay.player.el.volume") == 1
    assert errors.page == []


def test_overlay_with_an_api_key(page: Any, keyed_server: Any) -> None:
    pg, errors = page
    pg.set_viewport_size({"width": 1920, "height": 1080})
    pg.goto(f"{keyed_server.url}/overlay.html")
    pg.wait_for_function("document.body.dataset.connection === 'API key needed'", timeout=15000)
    pg.wait_for_selector("#ov-banners .banner", timeout=5000)
    assert "api_key" in pg.inner_text("#ov-banners")
    open_overlay(pg, keyed_server, f"?api_key={keyed_server.api_key}")
    assert pg.inner_text("#ov-banners") == ""
    enqueue(keyed_server, "with a key", "keyed_overlay")
    pg.wait_for_function("window.ishowOverlay.player.played.length === 1", timeout=30000)
    assert pg.evaluate("window.ishowOverlay.player.played[0].user") == "keyed_overlay"
    assert all("401" in e for e in errors.all())  # the status check before the key was given


class WelcomingIrc:
    """A loopback IRC server that logs every client in (``001``) and echoes its JOINs: the chat source's
    problem is gone once it answers."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_server(("127.0.0.1", port))
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conns: list[socket.socket] = []
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            conns.append(conn)
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.close()

    def _client(self, conn: socket.socket) -> None:
        nick = "x"
        with contextlib.suppress(OSError), conn.makefile("rb") as lines:
            for raw in lines:
                line = raw.decode(errors="replace").strip()
                if line.startswith("NICK "):
                    nick = line.split()[1]
                    conn.sendall(f":tmi.twitch.tv 001 {nick} :Welcome, GLHF!\r\n".encode())
                elif line.startswith("JOIN "):
                    for chan in line.split()[1].split(","):
                        conn.sendall(f":{nick}!{nick}@{nick}.tmi.twitch.tv JOIN {chan}\r\n".encode())

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def twitch_port(live_server: Any) -> Iterator[int]:
    """A loopback port nothing listens on yet, as the server's Twitch address; restored afterwards."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    service = live_server.app.state.ishowtts.extras["danmaku"]
    saved = service.settings
    service.settings = saved.replace(
        twitch_host="127.0.0.1", twitch_port=port, reconnect_base_s=0.2, reconnect_max_s=1.0
    )
    try:
        yield port
    finally:
        httpx.post(f"{live_server.url}/api/danmaku/stop", timeout=30)
        service.settings = saved


def test_chat_error_banner_shows_and_goes(page: Any, live_server: Any, twitch_port: int) -> None:
    pg, errors = page
    open_overlay(pg, live_server)
    assert pg.inner_text("#ov-banners") == ""
    r = httpx.post(
        f"{live_server.url}/api/danmaku/start", json={"platform": "twitch", "channel": "somechannel"}, timeout=30
    )
    assert r.status_code == 202, r.text
    message = (
        f"can't reach Twitch: 127.0.0.1:{twitch_port} refused the connection — is danmaku.twitch_host / "
        "twitch_port right?"
    )
    pg.wait_for_selector("#ov-banners .banner[data-key=chat]", timeout=15000)
    assert pg.inner_text("#ov-banners .banner[data-key=chat]") == message
    assert "Errno" not in pg.inner_text("#ov-banners")  # the raw error stays in the log
    # A page opened later shows it too (the error event on connect, and the status's last_error).
    last = httpx.get(f"{live_server.url}/api/danmaku/status", timeout=10).json()["last_error"]
    assert last == {"code": last["code"], "message": message}
    pg.reload()
    pg.wait_for_selector("#ov-banners .banner[data-key=chat]", timeout=15000)
    assert pg.inner_text("#ov-banners .banner[data-key=chat]") == message
    # Stopped by the streamer: nothing tries to connect any more, so the banner goes.
    assert httpx.post(f"{live_server.url}/api/danmaku/stop", timeout=30).status_code == 200
    pg.wait_for_selector("#ov-banners .banner[data-key=chat]", state="detached", timeout=10000)
    r = httpx.post(
        f"{live_server.url}/api/danmaku/start", json={"platform": "twitch", "channel": "somechannel"}, timeout=30
    )
    assert r.status_code == 202, r.text
    pg.wait_for_selector("#ov-banners .banner[data-key=chat]", timeout=15000)
    irc = WelcomingIrc(twitch_port)  # the server comes up: the client logs in, error_clear follows
    try:
        pg.wait_for_selector("#ov-banners .banner[data-key=chat]", state="detached", timeout=15000)
    finally:
        irc.close()
    assert httpx.get(f"{live_server.url}/api/danmaku/status", timeout=10).json()["last_error"] is None
    assert errors.all() == []
