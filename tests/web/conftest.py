"""Browser tests: the real server (``create_app`` with the espeak engine) served by uvicorn on a free port,
driven by Playwright for Python with Debian's ``/usr/bin/chromium`` (no ``playwright install``).

Needs: Debian packages ``chromium`` (and ``espeak-ng`` data comes from the ``espeakng-loader`` wheel);
pip packages ``playwright`` and ``websockets`` (uvicorn's WebSocket support).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from live_server import ThreadServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def make_backend() -> Any:
    from ishowtts.engine.espeak import EspeakBackend

    return EspeakBackend()


@dataclass
class LiveServer:
    url: str
    app: Any
    data_dir: Path
    api_key: str | None = None
    _server: Any = None  # live_server.ThreadServer

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


def start_server(api_key: str | None = None) -> LiveServer:
    from ishowtts.config import load_config
    from ishowtts.server.app import create_app

    data_dir = Path(tempfile.mkdtemp(prefix="ishowtts-web-"))
    server_cfg: dict[str, Any] = {"data_dir": str(data_dir)}
    if api_key:
        server_cfg["api_key"] = api_key
    cfg = load_config(
        None,
        env={},
        overrides={
            "server": server_cfg,
            "engine": {"kind": "espeak"},
            "danmaku": {"cooldown_s": 0.0, "dedupe_window_s": 0.0, "rate_limit": 0.0},
        },
    )
    app = create_app(cfg, make_backend())
    srv = ThreadServer(app, start_timeout=30, log_level="warning", ws="websockets-sansio").start()
    return LiveServer(srv.url, app, data_dir, api_key, srv)


def stop_server(live: LiveServer) -> None:
    live._server.stop(15)
    shutil.rmtree(live.data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def live_server() -> Iterator[LiveServer]:
    live = start_server()
    try:
        yield live
    finally:
        stop_server(live)


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[LiveServer]:
    live = start_server(api_key="s3cret-key")
    try:
        yield live
    finally:
        stop_server(live)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--autoplay-policy=no-user-gesture-required", "--no-sandbox", "--mute-audio"],
        )
        try:
            yield b
        finally:
            b.close()


@dataclass
class PageErrors:
    console: list[str] = field(default_factory=list)
    page: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return self.console + self.page


@pytest.fixture
def page(browser: Any) -> Iterator[tuple[Any, PageErrors]]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    errors = PageErrors()
    pg.on("console", lambda m: errors.console.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.page.append(str(e)))
    try:
        yield pg, errors
    finally:
        with contextlib.suppress(Exception):
            context.close()
