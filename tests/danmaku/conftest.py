"""Fixtures for the danmaku tests: the real ngircd server (``ngircd.py``) and the test doubles
(``helpers.py``, as the ``h`` fixture) and the scripted Twitch server (``twitch_server.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import load_module

HERE = Path(__file__).resolve().parent

_ngircd = load_module(HERE / "ngircd.py")
ngircd = _ngircd.ngircd
ngircd_factory = _ngircd.ngircd_factory
_helpers = load_module(HERE / "helpers.py")
_twitch_server = load_module(HERE / "twitch_server.py")


@pytest.fixture
def twitch_server() -> Iterator[object]:
    """A scripted Twitch-style IRC server on loopback (``twitch_server.py``), any token, any channel."""
    server = _twitch_server.ScriptedTwitch().start()
    yield server
    server.close()


@pytest.fixture
def twitch_server_factory() -> Iterator[Callable[..., object]]:
    """``make(token=..., channels={...})``: scripted servers that check the token / know the channels."""
    servers: list[object] = []

    def make(**kw: object) -> object:
        server = _twitch_server.ScriptedTwitch(**kw).start()  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()  # type: ignore[attr-defined]


@pytest.fixture
def h() -> ModuleType:
    """The shared test doubles (``helpers.py``): FakeSynth, encode_wav, make_settings, make_app."""
    return _helpers
