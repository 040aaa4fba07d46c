"""Reliability tests: fault injection, hostile input, security checks and the load-harness smoke run.

They reuse the HTTP test helpers of tests/server (the real app with a controllable fake engine) and the
load harness in benchmarks/load.py."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "server"))

from _server_helpers import FakeBackend  # noqa: E402


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake_backend() -> FakeBackend:
    return FakeBackend()


def load_module(name: str, path: Path) -> ModuleType:
    """Import a file that is not on the package path (benchmarks/load.py, fuzz targets)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def load_harness() -> ModuleType:
    return load_module("ishowtts_load_harness", ROOT / "benchmarks" / "load.py")


@pytest.fixture(scope="session")
def ngircd_mod() -> ModuleType:
    """tests/danmaku/ngircd.py (the real ngircd IRC server as a fixture class)."""
    return load_module("_ishowtts_reliability_ngircd", ROOT / "tests" / "danmaku" / "ngircd.py")


@pytest.fixture(scope="session")
def fuzz_targets() -> dict[str, ModuleType]:
    """The atheris targets in fuzz/ (their ``check(data: bytes)`` runs without atheris too)."""
    sys.path.insert(0, str(ROOT / "fuzz"))
    return {
        name: load_module(f"_ishowtts_{name}", ROOT / "fuzz" / f"{name}.py")
        for name in ("fuzz_resample", "fuzz_wav")
    }
