"""Normalization through both APIs: the engine receives the spoken text, ``/api/tts`` says what it was,
request options change it, and the config's ``[normalize]`` sets the server's defaults."""

from __future__ import annotations

import pytest
from _server_helpers import make_config, serve_app

from ishowtts.config import ConfigError
from ishowtts.server.app import create_app
from ishowtts.text.normalize import DEFAULTS, normalize

pytestmark = pytest.mark.anyio

TEXT = "Room 12 opens at 10:30, bring $5 🎉"


async def test_api_tts_speaks_and_returns_the_normalized_text(fake_app, fake_backend):
    async with serve_app(fake_app) as client:
        r = await client.post("/api/tts", json={"text": TEXT})
    assert r.status_code == 200, r.text
    spoken = normalize(TEXT).text
    assert r.json()["spoken_text"] == spoken
    assert fake_backend.texts == [spoken]
    assert not any(ch.isdigit() for ch in spoken) and "🎉" not in spoken


async def test_api_tts_normalize_false_and_options(fake_app, fake_backend):
    async with serve_app(fake_app) as client:
        off = await client.post("/api/tts", json={"text": "Room 12", "normalize": False})
        emoji = await client.post("/api/tts", json={"text": "gg 🎉", "normalize": {"emoji": "drop"}})
        bad = await client.post("/api/tts", json={"text": "x", "normalize": {"emoji": "shout"}})
        unknown = await client.post("/api/tts", json={"text": "x", "normalize": {"colour": True}})
    assert off.json()["spoken_text"] == "Room 12"
    assert emoji.json()["spoken_text"] == "gg"
    assert bad.status_code == 422 and unknown.status_code == 422
    assert fake_backend.texts == ["Room 12", "gg"]  # nothing reached the engine for the bad ones


async def test_nothing_left_to_speak_is_a_400(fake_app, fake_backend):
    async with serve_app(fake_app) as client:
        r = await client.post("/api/tts", json={"text": "🎉🎉", "normalize": {"emoji": "drop"}})
        s = await client.post("/v1/audio/speech", json={"input": "½ ¼", "response_format": "wav"})
    assert r.status_code == 400 and "nothing to speak" in r.json()["detail"]
    assert s.status_code == 400 and s.json()["error"]["param"] == "input"
    assert fake_backend.texts == []


async def test_openai_speech_takes_kokoros_normalization_options(fake_app, fake_backend):
    body = {"input": "Mail me@example.com 😀", "response_format": "wav", "stream": False}
    async with serve_app(fake_app) as client:
        default = await client.post("/v1/audio/speech", json=body)
        kokoro = await client.post(
            "/v1/audio/speech",
            json={**body, "normalization_options": {"email_normalization": False, "remove_emoji": True}},
        )
        off = await client.post(
            "/v1/audio/speech",
            json={**body, "input": "Room 12", "normalization_options": {"normalize": False}},
        )
    assert default.status_code == kokoro.status_code == off.status_code == 200
    assert fake_backend.texts == [
        normalize("Mail me@example.com 😀").text,  # "Mail email grinning face"
        "Mail me at example dot com",
        "Room 12",
    ]


async def test_config_normalize_section_sets_the_server_defaults(tmp_path, fake_backend):
    app = create_app(make_config(tmp_path, normalize={"emoji": "drop", "numbers": False}), fake_backend)
    async with serve_app(app) as client:
        r = await client.post("/api/tts", json={"text": "Room 12 🎉"})
        again = await client.post("/api/tts", json={"text": "Room 12 🎉", "normalize": {"numbers": True}})
    assert r.json()["spoken_text"] == "Room 12"
    assert again.json()["spoken_text"] == normalize("Room 12", DEFAULTS.replace(emoji="drop")).text


def test_a_bad_config_normalize_key_is_a_config_error(tmp_path, fake_backend):
    with pytest.raises(ConfigError, match="unknown normalize option"):
        create_app(make_config(tmp_path, normalize={"colour": True}), fake_backend)
    with pytest.raises(ConfigError, match=r"normalize\.lang"):
        create_app(make_config(tmp_path, normalize={"lang": "fr"}), fake_backend)


async def test_unreadable_characters_are_counted_in_metrics(fake_app):
    async with serve_app(fake_app) as client:
        await client.post("/api/tts", json={"text": "Café ½ привет ok"})
        metrics = (await client.get("/metrics")).text
    assert 'ishowtts_normalize_characters_total{action="mapped"} 1.0' in metrics
    assert 'ishowtts_normalize_characters_total{action="dropped"} 7.0' in metrics
