"""`/api/health` label and fallback flag agree: espeak chosen in the config is "espeak-ng" and not a
fallback; espeak because the F5 weights are missing is "espeak-ng (fallback)", a fallback, with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from _server_helpers import make_config, serve_app

from ishowtts.server.app import create_app

pytestmark = pytest.mark.anyio


@pytest.fixture
def no_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from huggingface_hub import constants

    cache = tmp_path / "hf"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


async def test_espeak_chosen_in_config_is_not_a_fallback(tmp_path: Path, no_weights: Path) -> None:
    app = create_app(make_config(tmp_path, engine={"kind": "espeak"}))
    async with serve_app(app) as client:
        h = (await client.get("/api/health")).json()
        voices = (await client.get("/api/voices")).json()
    assert h["engine"] == "espeak" and h["engine_label"] == "espeak-ng"
    assert h["fallback"] is False and h["fallback_reason"] is None
    assert {v["engine_label"] for v in voices} == {"espeak-ng"}


async def test_espeak_for_missing_weights_is_a_fallback(tmp_path: Path, no_weights: Path) -> None:
    app = create_app(make_config(tmp_path, engine={"kind": "auto"}))
    async with serve_app(app) as client:
        h = (await client.get("/api/health")).json()
    assert h["engine"] == "espeak" and h["engine_label"] == "espeak-ng (fallback)"
    assert h["fallback"] is True
    reason = h["fallback_reason"]
    assert reason.startswith("F5-TTS weights not found (missing model_1250000.safetensors, vocab.txt, ")
    assert f"looked in {no_weights} " in reason and reason.endswith("or set those keys")
