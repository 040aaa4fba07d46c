"""Reliability tests: fault injection, hostile input, security checks and the load-harness smoke run.

They reuse the HTTP test helpers of tests/server (the real app with a controllable fake engine) and the
load harness in benchmarks/load.py."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.conftest import REPO, load_module

_server_helpers = load_module(REPO / "tests" / "server" / "_server_helpers.py", "_server_helpers")
FakeBackend = _server_helpers.FakeBackend


@pytest.fixture
def fake_backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture(scope="session")
def load_harness() -> ModuleType:
    return load_module(REPO / "benchmarks" / "load.py")


@pytest.fixture(scope="session")
def ngircd_mod() -> ModuleType:
    """tests/danmaku/ngircd.py (the real ngircd IRC server as a fixture class)."""
    return load_module(REPO / "tests" / "danmaku" / "ngircd.py")


@pytest.fixture(scope="session")
def fuzz_targets() -> dict[str, ModuleType]:
    """The atheris targets in fuzz/ (their ``check(data: bytes)`` runs without atheris too)."""
    return {name: load_module(REPO / "fuzz" / f"{name}.py") for name in ("fuzz_resample", "fuzz_wav")}
