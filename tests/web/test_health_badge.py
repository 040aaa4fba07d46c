"""The page's health badge shows the whole fallback reason, not its first 57 characters."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow

REASON = (
    "F5-TTS weights not found (missing model_1250000.safetensors, vocab.txt, config.yaml, pytorch_model.bin; "
    "looked in /home/u/.cache/huggingface/hub and the config's [engine] ckpt/vocab/vocoder); "
    "run `python -m ishowtts download` or set those keys"
)


def test_badge_shows_the_whole_fallback_reason(page: Any, live_server: Any) -> None:
    pg, errors = page
    state = live_server.app.state.ishowtts
    state.fallback_reason = REASON  # what /api/health reports from now on
    try:
        pg.goto(live_server.url + "/")
        pg.wait_for_function(
            "document.querySelector('#health').textContent.includes('fallback')", timeout=15000
        )
        badge = pg.inner_text("#health")
        assert badge.endswith(f"fallback: {REASON}") and "…" not in badge
        assert pg.get_attribute("#health", "class").split()[-1] == "pill-warn"
        assert pg.get_attribute("#health", "title") == f"Fallback engine in use: {REASON}"
    finally:
        state.fallback_reason = None
    assert errors.page == []
