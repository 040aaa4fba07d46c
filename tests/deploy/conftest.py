"""Ray Serve test fixtures: one local Ray on loopback for the session (``ray_local``); the helpers
(``_ray_helpers.py``) deploy the server on it and run the one-process server it is compared with."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import load_module

ray = pytest.importorskip("ray", reason="the scale extra: pip install '.[scale]'")
_ray_helpers = load_module(Path(__file__).with_name("_ray_helpers.py"), "_ray_helpers")


@pytest.fixture(scope="session")
def ray_local() -> Iterator[None]:
    with _ray_helpers.local_ray("ishowtts-tests"):
        yield
