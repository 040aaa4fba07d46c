"""Shared pytest configuration. Area-specific fixtures live in each tests/<area>/conftest.py."""

import os

# Tests never reach the network: make huggingface_hub fail fast instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
