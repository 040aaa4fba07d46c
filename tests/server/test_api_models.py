"""``GET /v1/models``: the README's ``f5-tts`` and OpenAI's TTS model names, each usable as the ``model`` of
``/v1/audio/speech`` and each a single token (no spaces), whatever the engine reports as its own name."""

from __future__ import annotations

from typing import Any

import pytest
from _server_helpers import FakeBackend, make_config, serve_app

from ishowtts.server.app import create_app
from ishowtts.server.schemas import MODEL_IDS, SpeechRequest

pytestmark = pytest.mark.anyio


class SpacedNameBackend(FakeBackend):
    """An engine whose own model name has spaces, like espeak-ng's "espeak-ng 1.51"."""

    def info(self) -> dict[str, Any]:
        return {**super().info(), "model": "espeak-ng 1.51 (fallback)"}


async def test_models_list_f5_tts_and_openai_aliases(tmp_path):
    app = create_app(make_config(tmp_path), SpacedNameBackend())
    async with serve_app(app) as client:
        r = await client.get("/v1/models")
        assert r.status_code == 200
        body = r.json()
        ids = [m["id"] for m in body["data"]]
        assert body["object"] == "list"
        assert ids == ["f5-tts", "tts-1", "tts-1-hd", "gpt-4o-mini-tts"] == list(MODEL_IDS)
        assert all(m["object"] == "model" and m["owned_by"] == "ishowtts" for m in body["data"])
        assert all(isinstance(m["created"], int) for m in body["data"])
        assert not [i for i in ids if any(ch.isspace() for ch in i)]
        for model in ids:  # every listed id is accepted by the speech route
            s = await client.post(
                "/v1/audio/speech", json={"model": model, "input": "Hi", "response_format": "pcm"}
            )
            assert s.status_code == 200 and s.content, (model, s.text)
        # the engine's own name stays in /api/health, not among the model ids
        assert (await client.get("/api/health")).json()["model"] == "espeak-ng 1.51 (fallback)"


def test_speech_request_default_model_is_listed():
    assert SpeechRequest(input="x").model == "f5-tts" == MODEL_IDS[0]
