"""Fixtures for the danmaku tests: the real ngircd server (``ngircd.py``) and the test doubles
(``helpers.py``, as the ``h`` fixture)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import load_module

HERE = Path(__file__).resolve().parent

_ngircd = load_module(HERE / "ngircd.py")
ngircd = _ngircd.ngircd
ngircd_factory = _ngircd.ngircd_factory
_helpers = load_module(HERE / "helpers.py")


@pytest.fixture
def h() -> ModuleType:
    """The shared test doubles (``helpers.py``): FakeSynth, encode_wav, make_settings, make_app."""
    return _helpers
