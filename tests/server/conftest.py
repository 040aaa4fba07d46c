"""HTTP server test fixtures: the real app (real scheduler, voice store, config) with a controllable fake
engine for control-flow tests, the espeak engine and a tiny random-weight F5 engine for real audio."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import load_module

# the helpers module, registered under the name the test files import it by (``from _server_helpers ...``)
_server_helpers = load_module(Path(__file__).with_name("_server_helpers.py"), "_server_helpers")
FakeBackend = _server_helpers.FakeBackend
f5_engine_section = _server_helpers.f5_engine_section
make_config = _server_helpers.make_config


@pytest.fixture
def fake_backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def fake_app(tmp_path: Path, fake_backend: FakeBackend) -> Any:
    """The real app (default config, data dir under tmp_path, the web page) on the fake engine."""
    from ishowtts.server.app import create_app

    return create_app(make_config(tmp_path / "data"), fake_backend)


# ---------------------------------------------------------------------------------------------- real engines
@pytest.fixture(scope="session")
def espeak_backend() -> Any:
    from ishowtts.engine.espeak import EspeakBackend

    return EspeakBackend()


@pytest.fixture(scope="session")
def f5_paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from ishowtts.engine.random_weights import save_random_checkpoint

    out = tmp_path_factory.mktemp("f5tiny")
    paths = save_random_checkpoint(out, config="tiny", seed=0)
    return {k: str(v) for k, v in paths.items()}


@pytest.fixture(scope="session")
def f5_backend(f5_paths: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Any:
    from ishowtts.engine.factory import build_backend

    cfg = make_config(tmp_path_factory.mktemp("f5cfg"), engine=f5_engine_section(f5_paths))
    backend, reason = build_backend(cfg.engine)
    assert reason is None and backend.name == "f5"
    return backend
