"""The API docs work offline: /docs (Swagger UI) loads every script and style from this server, in
headless Chromium with every request to another host blocked, and lists the API's operations."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

pytestmark = pytest.mark.slow


def block_other_hosts(pg: Any, server_url: str) -> list[str]:
    """Abort every request that does not go to the live server; returns the list of blocked URLs."""
    own = urlsplit(server_url).netloc
    blocked: list[str] = []

    def handle(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).netloc == own or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort("internetdisconnected")

    pg.route("**/*", handle)
    return blocked


def test_swagger_ui_lists_the_operations_offline(page: Any, live_server: Any) -> None:
    pg, errors = page
    blocked = block_other_hosts(pg, live_server.url)
    pg.goto(f"{live_server.url}/docs")
    pg.wait_for_selector(".opblock", timeout=20000)
    paths = pg.eval_on_selector_all(".opblock .opblock-summary-path", "els => els.map(e => e.textContent)")
    paths = [p.replace("\u200b", "") for p in paths]  # Swagger UI puts zero-width spaces into long paths
    for expected in ("/api/tts", "/v1/audio/speech", "/api/voices/{voice_id}/reference", "/api/health"):
        assert expected in paths, paths
    assert blocked == []
    assert errors.all() == []


def test_there_is_no_redoc_page(live_server: Any) -> None:
    # ReDoc's bundle fetches its logo from a CDN, so it is not served at all (Swagger UI at /docs is)
    r = httpx.get(f"{live_server.url}/redoc", timeout=10)
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}
