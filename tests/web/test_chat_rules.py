"""The main page's chat rules card and moderator buttons in headless Chromium against the real server
(espeak engine): triggers, per-user voices, bans, pause/resume and clear, each through the REST routes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow


def open_page(pg: Any, server: Any) -> None:
    pg.goto(f"{server.url}/")
    pg.wait_for_function("document.querySelector('#dm-ws').textContent.includes('connected')", timeout=15000)
    pg.wait_for_function("document.querySelector('#tr-prefix').value !== ''", timeout=15000)


def settings(server: Any) -> dict[str, Any]:
    return httpx.get(f"{server.url}/api/danmaku/settings", timeout=10).json()


def test_triggers_load_and_save(page: Any, live_server: Any) -> None:
    pg, errors = page
    before = settings(live_server)
    open_page(pg, live_server)
    assert pg.is_checked("#tr-all") == ("all" in before["triggers"])
    assert pg.input_value("#tr-prefix") == before["command_prefix"]
    assert pg.input_value("#tr-min-bits") == str(before["min_bits"])
    try:
        pg.uncheck("#tr-all")
        pg.check("#tr-bits")
        pg.fill("#tr-min-bits", "500")
        pg.check("#tr-reward")
        pg.fill("#tr-reward-ids", "abc-123, def-456")
        pg.check("#tr-badges")
        for badge in ("subscriber", "vip", "moderator", "broadcaster"):
            pg.set_checked(f"[data-badge={badge}]", badge in ("vip", "moderator"))
        pg.check("#tr-first")
        pg.check("#tr-command")
        pg.fill("#tr-prefix", "!say")
        pg.click("#tr-save")
        pg.wait_for_function("document.querySelector('#tr-saved').textContent.startsWith('saved')", timeout=10000)
        after = settings(live_server)
        assert sorted(after["triggers"]) == ["badges", "bits", "command", "first_msg", "reward"]
        assert after["min_bits"] == 500 and after["command_prefix"] == "!say"
        assert after["reward_ids"] == ["abc-123", "def-456"]
        assert sorted(after["trigger_badges"]) == ["moderator", "vip"]
        # A value the server refuses comes back as the page's error banner, naming the key.
        pg.fill("#tr-prefix", "!say it")
        pg.click("#tr-save")
        pg.wait_for_selector("#error:not([hidden])", timeout=10000)
        assert pg.inner_text("#error-text").startswith("400: ") and "command_prefix" in pg.inner_text("#error-text")
        assert settings(live_server)["command_prefix"] == "!say"
        # Reloaded, the page shows what the server has.
        pg.reload()
        pg.wait_for_function("document.querySelector('#tr-prefix').value === '!say'", timeout=15000)
        assert not pg.is_checked("#tr-all") and pg.is_checked("#tr-first")
        assert pg.input_value("#tr-reward-ids") == "abc-123, def-456"
    finally:
        keys = ("triggers", "min_bits", "reward_ids", "trigger_badges", "command_prefix")
        r = httpx.put(f"{live_server.url}/api/danmaku/settings", json={k: before[k] for k in keys}, timeout=10)
        assert r.status_code == 200, r.text
    assert [e for e in errors.all() if "400" not in e] == []  # the refused save is a failed fetch


def test_assign_and_remove_a_users_voice(page: Any, live_server: Any) -> None:
    pg, errors = page
    open_page(pg, live_server)
    pg.wait_for_function("document.querySelectorAll('#uv-voice option').length > 0", timeout=15000)
    voice = pg.input_value("#uv-voice")
    pg.fill("#uv-user", "@Some_Viewer")
    pg.click("#uv-assign")
    pg.wait_for_selector("#uv-list tr[data-user=some_viewer]", timeout=10000)
    assert pg.inner_text("#uv-list tr[data-user=some_viewer] td:nth-child(2)") == voice
    info = httpx.get(f"{live_server.url}/api/danmaku/voices", timeout=10).json()
    assert info["assignments"]["some_viewer"] == voice
    assert "!voice" in pg.inner_text("#uv-info")
    pg.click("#uv-list tr[data-user=some_viewer] button")
    pg.wait_for_selector("#uv-list tr[data-user=some_viewer]", state="detached", timeout=10000)
    info = httpx.get(f"{live_server.url}/api/danmaku/voices", timeout=10).json()
    assert "some_viewer" not in info["assignments"]
    assert pg.is_hidden("#error")
    assert errors.all() == []


def test_ban_and_unban(page: Any, live_server: Any) -> None:
    pg, errors = page
    open_page(pg, live_server)
    pg.fill("#ban-user", "Troll_42")
    pg.click("#ban-add")
    pg.wait_for_function("document.querySelector('#ban-list').textContent.includes('troll_42')", timeout=10000)
    status = httpx.get(f"{live_server.url}/api/danmaku/status", timeout=10).json()
    assert "troll_42" in status["banned"]
    pg.click("#ban-list button[aria-label='unban troll_42']")
    pg.wait_for_function("!document.querySelector('#ban-list').textContent.includes('troll_42')", timeout=10000)
    status = httpx.get(f"{live_server.url}/api/danmaku/status", timeout=10).json()
    assert "troll_42" not in status["banned"]
    pg.fill("#ban-user", "")
    pg.click("#ban-add")
    assert pg.inner_text("#error-text") == "Type the user's Twitch login first."
    assert errors.all() == []


def test_pause_resume_and_clear_buttons(page: Any, live_server: Any) -> None:
    pg, errors = page
    open_page(pg, live_server)
    assert pg.inner_text("#dm-pause") == "Pause" and pg.is_hidden("#dm-paused")
    pg.click("#dm-pause")
    try:
        pg.wait_for_function("document.querySelector('#dm-pause').textContent === 'Resume'", timeout=10000)
        assert pg.is_visible("#dm-paused")
        assert httpx.get(f"{live_server.url}/api/danmaku/status", timeout=10).json()["paused"] is True
        assert pg.evaluate("window.ishowtts.queue.paused")
        # Paused: a line waits on the server, Clear drops it.
        body = {"platform": "web", "channel": "test", "username": "waiting", "text": "held while paused"}
        assert httpx.post(f"{live_server.url}/api/danmaku/enqueue", json=body, timeout=10).status_code == 202
        pg.click("#dm-clear")
        pg.wait_for_function(
            "fetch('/api/danmaku/status').then(r => r.json()).then(s => s.queued === 0)", timeout=10000
        )
        pg.click("#dm-pause")
        pg.wait_for_function("document.querySelector('#dm-pause').textContent === 'Pause'", timeout=10000)
        assert pg.is_hidden("#dm-paused")
    finally:
        httpx.post(f"{live_server.url}/api/danmaku/control", json={"action": "resume"}, timeout=10)
    assert httpx.get(f"{live_server.url}/api/danmaku/status", timeout=10).json()["paused"] is False
    pg.wait_for_timeout(500)
    assert pg.evaluate("window.ishowtts.queue.played.length") == 0  # the cleared line never played
    assert errors.all() == []
