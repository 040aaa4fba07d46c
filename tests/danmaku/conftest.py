"""Fixtures for the danmaku tests: the real ngircd server (``ngircd.py``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


def _load(name: str):
    path = Path(__file__).with_name(f"{name}.py")
    modname = f"_ishowtts_tests_danmaku_{name}"
    if modname in sys.modules:
        return sys.modules[modname]
    spec = importlib.util.spec_from_file_location(modname, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    spec.loader.exec_module(module)
    return module


_ngircd = _load("ngircd")
ngircd = _ngircd.ngircd
ngircd_factory = _ngircd.ngircd_factory
NgircdServer = _ngircd.NgircdServer
free_port = _ngircd.free_port
_helpers = _load("helpers")


@pytest.fixture
def h():
    """The shared test doubles (``helpers.py``): FakeSynth, encode_wav, make_settings, make_app."""
    return _helpers
