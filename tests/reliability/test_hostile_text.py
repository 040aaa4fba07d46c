"""Hostile text for the synthesis routes. Found by the schemathesis run: text made only of control
characters passed the routes' emptiness check but was empty for the engine, which raised; the client got
502 (engine failure) instead of 400 (bad input). Odd but harmless text gets exactly one answer each."""

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


NOTHING_PRINTABLE = "must not be empty (nothing to speak: only spaces or control characters)"
ODD_TEXT = [
    # (text, the spoken_text of a 200, or None: a 400 empty_text)
    pytest.param("\u200b", None, id="zero-width-space"),  # a format character only: nothing printable
    pytest.param("\ufeff", None, id="bom"),
    pytest.param("...", "...", id="punctuation-dots"),  # printable: kept by the normalizer, spoken as a pause
    pytest.param("-", "-", id="punctuation-dash"),
    pytest.param("\U0001f642", "slightly smiling face", id="emoji"),  # [normalize] emoji = "names"
    pytest.param("a\u0301" * 50, " ".join(["a"] * 50), id="combining-marks"),  # marks dropped, letters read
    pytest.param("\u202eevil", "evil", id="bidi-override"),  # the override is dropped, the word is spoken
]


@pytest.mark.parametrize(("text", "spoken"), ODD_TEXT)
async def test_odd_but_harmless_text_is_answered(espeak_app, text: str, spoken: str | None) -> None:
    """Zero-width, BOM, punctuation only, emoji, combining marks, bidi override: text with nothing printable
    is a 400 ``empty_text`` on both APIs; the rest is spoken (200) as the normalizer reads it."""
    async with serve_app(espeak_app) as client:
        r = await client.post("/api/tts", json={"text": text})
        r2 = await client.post("/v1/audio/speech", json={"input": text, "response_format": "pcm"})
        assert (await client.post("/api/tts", json={"text": "still fine"})).status_code == 200
    if spoken is None:
        assert (r.status_code, r2.status_code) == (400, 400), (r.text, r2.text)
        assert r.json() == {"detail": f"text: {NOTHING_PRINTABLE}"}
        error = r2.json()["error"]
        assert (error["code"], error["param"], error["message"]) == (
            "empty_text", "input", f"input: {NOTHING_PRINTABLE}"
        )  # fmt: skip
    else:
        assert (r.status_code, r2.status_code) == (200, 200), (r.text, r2.text)
        assert r.json()["spoken_text"] == spoken
        assert r2.headers["content-type"] == "audio/pcm" and r2.content
