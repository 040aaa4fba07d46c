"""Shared pytest configuration. Area-specific fixtures live in each tests/<area>/conftest.py."""

import logging
import os

import pytest

# Tests never reach the network: make huggingface_hub fail fast instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


# --- logging isolation --------------------------------------------------------------------------------
# Tests that run the CLI in-process (``ishowtts.cli.main``) configure the root logger with a handler on
# the sys.stderr of that moment, which is pytest's per-test capture, closed afterwards; later tests
# would then log into a closed file. Restore the root logger after every test.


@pytest.fixture(autouse=True)
def _restore_root_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
