"""Hostile text for the synthesis routes, found by the schemathesis run: text made only of control
characters passes the routes' emptiness check but is empty for the engine, which raises; the client gets
502 (engine failure) instead of 400 (bad input)."""

from __future__ import annotations

import pytest
from _server_helpers import make_config, serve_app

from ishowtts.server.app import create_app

pytestmark = pytest.mark.anyio

CONTROL_ONLY = ["\u0005", "\x00", "\x01\x02\x03", "\x07 \x1b"]


@pytest.fixture
def espeak_app(tmp_path):
    return create_app(make_config(tmp_path / "data", engine={"kind": "espeak"}))


@pytest.mark.parametrize("text", CONTROL_ONLY)
async def test_control_only_text_is_a_400(espeak_app, text) -> None:
    async with serve_app(espeak_app) as client:
        r = await client.post("/api/tts", json={"text": text})
        r2 = await client.post("/v1/audio/speech", json={"input": text, "response_format": "wav"})
    assert (r.status_code, r2.status_code) == (400, 400), (r.text, r2.text)


@pytest.mark.parametrize("text", ["\u200b", "\ufeff", "...", "-", "\U0001f642", "a\u0301" * 50, "\u202eevil"])
async def test_odd_but_harmless_text_is_answered(espeak_app, text) -> None:
    """Zero-width, BOM, punctuation only, emoji, combining marks, bidi override: a 200 or a 400, never 5xx."""
    async with serve_app(espeak_app) as client:
        r = await client.post("/api/tts", json={"text": text})
        r2 = await client.post("/v1/audio/speech", json={"input": text, "response_format": "pcm"})
        assert r.status_code in (200, 400) and r2.status_code in (200, 400), (r.text, r2.text)
        assert (await client.post("/api/tts", json={"text": "still fine"})).status_code == 200
