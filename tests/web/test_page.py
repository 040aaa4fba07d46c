"""The web page in headless Chromium against the real server (espeak engine)."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf

pytestmark = pytest.mark.slow

DOCS = Path(__file__).resolve().parents[2] / "docs"
LONG_LINE = "this is a rather long chat message so that its clip keeps playing for a few seconds at least"


def enqueue(server: Any, text: str, user: str, **extra: Any) -> httpx.Response:
    body = {"platform": "web", "channel": "test", "username": user, "text": text, **extra}
    return httpx.post(f"{server.url}/api/danmaku/enqueue", json=body, headers=server.headers(), timeout=30)


def open_page(pg: Any, server: Any, query: str = "") -> None:
    pg.goto(f"{server.url}/{query}")
    pg.wait_for_function("document.querySelector('#dm-ws').textContent.includes('connected')", timeout=15000)


def test_page_loads_without_console_errors(page: Any, live_server: Any) -> None:
    pg, errors = page
    open_page(pg, live_server)
    pg.wait_for_function("document.querySelectorAll('#voice option').length > 0", timeout=15000)
    pg.wait_for_function("document.querySelector('#health').textContent.includes('espeak')", timeout=15000)
    assert "espeak-ng (fallback)" in pg.inner_text("#voice")  # engine label in the picker
    assert pg.get_attribute("#health", "class").split()[-1] in ("pill-ok", "pill-warn")
    pg.wait_for_function("document.querySelector('#dm-status').textContent.includes('queue')", timeout=15000)
    pg.wait_for_function(
        "document.querySelector('#ref-baseline-audio').src.startsWith('blob:')", timeout=15000
    )
    time.sleep(0.5)
    assert errors.all() == []
    assert pg.is_hidden("#error")


def test_speak_plays_audio_and_keeps_history(page: Any, live_server: Any) -> None:
    pg, errors = page
    open_page(pg, live_server)
    pg.wait_for_function("document.querySelectorAll('#voice option').length > 0", timeout=15000)
    pg.fill("#tts-text", "Hello from the browser test.")
    pg.click("#speak")
    pg.wait_for_function(
        "(() => { const a = document.querySelector('#tts-audio');"
        " return a.src.startsWith('blob:') && !a.paused && a.currentTime > 0; })()",
        timeout=30000,
    )
    duration = pg.evaluate("document.querySelector('#tts-audio').duration")
    assert duration > 0.5
    assert pg.inner_text("#history li .h-text") == "Hello from the browser test."
    assert pg.is_hidden("#spoken-text")  # nothing to normalize: no "spoken as" line
    # The history survives a reload (localStorage) and replays from the stored audio.
    pg.reload()
    pg.wait_for_selector("#history li")
    assert pg.locator("#history li").count() == 1
    pg.click("#history li .h-replay")
    pg.wait_for_function("!document.querySelector('#tts-audio').paused", timeout=10000)
    pg.click("#history-clear")
    assert pg.locator("#history li").count() == 0
    assert errors.all() == []


def test_page_shows_what_was_spoken(page: Any, live_server: Any) -> None:
    pg, errors = page
    open_page(pg, live_server)
    pg.wait_for_function("document.querySelectorAll('#voice option').length > 0", timeout=15000)
    pg.fill("#tts-text", "See you at 10:30 on Dec 2")
    pg.click("#speak")
    pg.wait_for_selector("#spoken-text:not([hidden])", timeout=30000)
    assert pg.inner_text("#spoken-text") == "Spoken as: See you at ten thirty on December second"
    assert errors.all() == []


def test_api_error_is_shown_clearly(page: Any, live_server: Any) -> None:
    pg, _ = page
    open_page(pg, live_server)
    pg.wait_for_function("document.querySelectorAll('#voice option').length > 0", timeout=15000)
    pg.click("#advanced summary")
    pg.fill("#p-speed", "9")  # out of range: the server answers 422 naming the field
    pg.fill("#tts-text", "x")
    pg.click("#speak")
    pg.wait_for_selector("#error:not([hidden])")
    text = pg.inner_text("#error-text")
    assert text.startswith("422") and "speed" in text


def test_danmaku_clip_plays_after_the_one_in_progress(page: Any, live_server: Any) -> None:
    pg, errors = page
    open_page(pg, live_server)
    assert enqueue(live_server, LONG_LINE, "first_user").status_code == 202
    pg.wait_for_function(
        "(() => { const q = window.ishowtts.queue; return q.current && !q.el.paused && q.el.currentTime > 0.2; })()",
        timeout=30000,
    )
    first = pg.evaluate("window.ishowtts.queue.current.header")
    assert first["username"] == "first_user"
    first_duration = pg.evaluate("window.ishowtts.queue.el.duration")
    assert first_duration > 2.0

    assert enqueue(live_server, "second line", "second_user").status_code == 202
    pg.wait_for_function("window.ishowtts.queue.items.length === 1", timeout=30000)
    # The new clip is queued, the first one keeps playing.
    state = pg.evaluate(
        "(() => { const q = window.ishowtts.queue;"
        " return {cur: q.current.header.username, paused: q.el.paused, queued: q.items[0].header.username}; })()"
    )
    assert state == {"cur": "first_user", "paused": False, "queued": "second_user"}
    assert pg.inner_text("#dm-queue li").startswith("second_user")
    pg.wait_for_function("window.ishowtts.queue.played.length === 2", timeout=30000)
    played = pg.evaluate("window.ishowtts.queue.played")
    assert [p["text"] for p in played] == [LONG_LINE, "second line"]
    assert not played[0]["skipped"]
    assert played[0]["ended"] is not None and played[0]["ended"] <= played[1]["started"]
    assert (played[0]["ended"] - played[0]["started"]) / 1000 >= 0.9 * first_duration  # played to the end
    log = pg.inner_text("#dm-log")
    assert "first_user" in log and "second_user" in log
    color = pg.evaluate("getComputedStyle(document.querySelector('#dm-log .user')).color")
    assert color.startswith("rgb(")
    assert errors.all() == []


def test_skip_moves_to_next_clip(page: Any, live_server: Any) -> None:
    pg, _ = page
    open_page(pg, live_server)
    enqueue(live_server, LONG_LINE, "skip_a")
    enqueue(live_server, "after skip", "skip_b")
    pg.wait_for_function(
        "(() => { const q = window.ishowtts.queue; return q.current && q.current.header.username === 'skip_a'"
        " && q.items.length === 1 && q.el.currentTime > 0; })()",
        timeout=30000,
    )
    pg.click("#dm-skip")
    pg.wait_for_function("window.ishowtts.queue.played.length === 2", timeout=10000)
    played = pg.evaluate("window.ishowtts.queue.played")
    assert played[0]["skipped"] and played[1]["text"] == "after skip"
    pg.fill("#dm-volume", "0.3")
    pg.dispatch_event("#dm-volume", "input")
    assert abs(pg.evaluate("window.ishowtts.queue.el.volume") - 0.3) < 1e-6


def test_override_upload_round_trips(page: Any, live_server: Any, tmp_path: Path) -> None:
    pg, errors = page
    open_page(pg, live_server)
    pg.wait_for_function("document.querySelector('#ref-voice').textContent.length > 2", timeout=15000)
    voice = pg.input_value("#voice")
    sr = 24_000
    t = np.arange(int(1.5 * sr)) / sr
    clip = (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32)
    path = tmp_path / "my_voice.wav"
    sf.write(path, clip, sr, subtype="PCM_16")
    pg.fill("#ref-text", "my new reference transcript")
    pg.set_input_files("#ref-file", str(path))
    pg.click("#ref-save")
    pg.wait_for_function(
        "document.querySelector('#ref-override-text').textContent === 'my new reference transcript'",
        timeout=30000,
    )
    pg.wait_for_function(
        "document.querySelector('#ref-override-audio').src.startsWith('blob:')", timeout=15000
    )
    # espeak-ng cannot clone: the upload is stored, and a banner says why nothing sounds different
    assert pg.is_visible("#ref-warning")
    assert pg.inner_text("#ref-warning-text").startswith("stored; voice cloning needs the F5-TTS weights: ")
    pg.click("#ref-warning-close")
    assert pg.is_hidden("#ref-warning")
    assert pg.is_hidden("#voice-delete")  # a configured voice cannot be deleted
    info = httpx.get(f"{live_server.url}/api/voices/{voice}/reference", timeout=10).json()
    assert info["override_reference_text"] == "my new reference transcript"
    assert info["override_audio_available"] is True
    r = httpx.get(f"{live_server.url}/api/voices/{voice}/reference/audio?source=override", timeout=10)
    back, back_sr = sf.read(io.BytesIO(r.content), dtype="float32")
    assert back.shape[0] / back_sr == pytest.approx(1.5, abs=0.05)
    # What the page plays is the stored override.
    page_len = pg.evaluate(
        "fetch(document.querySelector('#ref-override-audio').src).then(r => r.arrayBuffer()).then(b => b.byteLength)"
    )
    assert page_len == len(r.content)
    pg.click("#ref-reset")
    pg.wait_for_function(
        "document.querySelector('#ref-override-text').textContent === '(none)'", timeout=15000
    )
    assert (
        httpx.get(f"{live_server.url}/api/voices/{voice}/reference", timeout=10).json()[
            "override_audio_available"
        ]
        is False
    )
    assert errors.all() == []


def test_delete_a_created_voice(page: Any, live_server: Any) -> None:
    pg, errors = page
    buf = io.BytesIO()
    t = np.arange(24_000) / 24_000
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), 24_000, format="WAV")
    r = httpx.post(
        f"{live_server.url}/v1/audio/voices",
        data={"name": "zz-page-voice", "reference_text": "words"},
        files={"audio_sample": ("v.wav", buf.getvalue(), "audio/wav")},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    vid = r.json()["id"]
    open_page(pg, live_server)
    pg.wait_for_function(f"[...document.querySelectorAll('#voice option')].some(o => o.value === '{vid}')")
    pg.select_option("#voice", vid)
    pg.wait_for_selector("#voice-delete:not([hidden])", timeout=15000)
    pg.once("dialog", lambda d: d.accept())
    pg.click("#voice-delete")
    pg.wait_for_function(
        f"![...document.querySelectorAll('#voice option')].some(o => o.value === '{vid}')", timeout=15000
    )
    assert pg.is_hidden("#voice-delete") and pg.is_hidden("#error")
    ids = [v["id"] for v in httpx.get(f"{live_server.url}/api/voices", timeout=10).json()]
    assert vid not in ids
    assert httpx.delete(f"{live_server.url}/v1/audio/voices/{vid}", timeout=10).status_code == 404
    assert errors.all() == []


def test_overlay_view_plays_and_shows_the_line(page: Any, live_server: Any) -> None:
    pg, errors = page
    open_page(pg, live_server, "?overlay=1")
    assert pg.is_hidden("main") and pg.is_hidden(".topbar")
    enqueue(live_server, "overlay line", "obs_user")
    pg.wait_for_function(
        "document.querySelector('#overlay').textContent.includes('overlay line')", timeout=30000
    )
    assert pg.is_visible("#overlay")
    assert pg.inner_text("#overlay").startswith("obs_user")
    assert errors.all() == []


def test_api_key_page_flow(page: Any, keyed_server: Any) -> None:
    pg, errors = page
    pg.goto(keyed_server.url + "/")
    pg.wait_for_selector("#error:not([hidden])", timeout=15000)
    assert "401" in pg.inner_text("#error-text") and "API key" in pg.inner_text("#error-text")
    pg.fill("#api-key", keyed_server.api_key)
    pg.click("#api-key-save")
    pg.wait_for_function("document.querySelectorAll('#voice option').length > 0", timeout=15000)
    pg.wait_for_function("document.querySelector('#dm-ws').textContent.includes('connected')", timeout=15000)
    assert pg.evaluate("localStorage.getItem('ishowtts.apiKey')") == keyed_server.api_key
    assert enqueue(keyed_server, "with a key", "keyed_user").status_code == 202
    pg.wait_for_function("window.ishowtts.queue.played.length === 1", timeout=30000)
    # The 401s before the key was set are expected console errors (failed fetches); nothing else.
    assert all("401" in e for e in errors.all())


def test_screenshot(page: Any, live_server: Any, tmp_path: Path) -> None:
    """Renders the page with a TTS clip and chat lines. Writes docs/screenshot.png only when
    ISHOWTTS_UPDATE_SCREENSHOT=1 (tests never modify the repository otherwise)."""
    pg, _ = page
    pg.set_viewport_size({"width": 1400, "height": 720})
    open_page(pg, live_server)
    pg.wait_for_function("document.querySelectorAll('#voice option').length > 0", timeout=15000)
    pg.fill("#tts-text", "Welcome to the stream!")
    pg.click("#speak")
    pg.wait_for_selector("#history li", timeout=30000)
    pg.fill("#dm-channel", "https://www.twitch.tv/your_channel")
    for user, text in [("Alice", "hello chat!"), ("Bob", "nice play"), ("Carol", "gg wp")]:
        enqueue(live_server, text, user.lower(), metadata={"display_name": user})
    pg.wait_for_function("document.querySelectorAll('#dm-log li').length >= 3", timeout=30000)
    out = (
        DOCS / "screenshot.png"
        if os.environ.get("ISHOWTTS_UPDATE_SCREENSHOT") == "1"
        else tmp_path / "page.png"
    )
    pg.screenshot(path=str(out), full_page=True)
    assert out.stat().st_size > 10_000
