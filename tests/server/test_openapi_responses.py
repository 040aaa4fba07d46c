"""The published schema declares the responses the server really sends: ``{"detail"}`` errors on /api,
OpenAI's error object on /v1 (no FastAPI list-form 422 left), the statuses each operation can answer
with, and the media types of non-JSON successes. (tests/reliability/test_schemathesis.py checks real
answers against this schema.)"""

from __future__ import annotations

from typing import Any

import pytest
from _server_helpers import API_KEY, make_config, serve_app

from ishowtts.server.app import create_app
from ishowtts.server.openapi_responses import EXTRA_ERRORS, OTHER_RESPONSES, SUCCESS_MEDIA
from ishowtts.server.schemas import ErrorDetail, OpenAIError, OpenAIErrorObject, error_body

pytestmark = pytest.mark.anyio
DETAIL_REF = "#/components/schemas/ErrorDetail"
OPENAI_REF = "#/components/schemas/OpenAIError"


async def published(app: Any) -> dict[str, Any]:
    async with serve_app(app) as client:
        r = await client.get("/openapi.json")
    assert r.status_code == 200
    return r.json()


def operations(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": op
        for path, item in schema["paths"].items()
        for method, op in item.items()
    }


def error_ref(op: dict[str, Any], status: int) -> str:
    return op["responses"][str(status)]["content"]["application/json"]["schema"]["$ref"]


async def test_every_error_response_is_the_real_error_body(fake_app):
    schema = await published(fake_app)
    ops = operations(schema)
    assert len(ops) >= 15
    for key, op in ops.items():
        want = OPENAI_REF if key.split(" ", 1)[1].startswith("/v1/") else DETAIL_REF
        errors = [int(s) for s in op["responses"] if int(s) >= 400]
        assert 500 in errors, key
        for status in errors:
            if key == "GET /ready" and status == 503:
                continue  # warming up: {"status": ...}, not an error body
            assert error_ref(op, status) == want, (key, status)
    assert (
        "HTTPValidationError" not in str(schema) and "ValidationError" not in schema["components"]["schemas"]
    )


async def test_the_error_components_are_the_error_models(fake_app):
    components = (await published(fake_app))["components"]["schemas"]
    assert components["ErrorDetail"] == ErrorDetail.model_json_schema()
    assert components["OpenAIErrorObject"]["required"] == ["message", "type", "param", "code"]
    assert (
        components["OpenAIError"]["properties"]["error"]["$ref"] == "#/components/schemas/OpenAIErrorObject"
    )
    # what the handlers build fits the models exactly (extra keys are forbidden)
    ErrorDetail.model_validate(error_body("m", openai=False))
    assert OpenAIError.model_validate(error_body("m", openai=True, code="c", param="p")).error == (
        OpenAIErrorObject(message="m", type="invalid_request_error", param="p", code="c")
    )


async def test_each_operation_declares_the_statuses_it_can_send(fake_app):
    ops = operations(await published(fake_app))

    def statuses(key: str) -> set[int]:
        return {int(s) for s in ops[key]["responses"]}

    assert statuses("POST /api/tts") == {200, 400, 404, 413, 415, 422, 429, 500, 502, 503, 504}
    assert statuses("POST /v1/audio/speech") == {200, 400, 404, 413, 415, 422, 429, 500, 502, 503, 504}
    assert statuses("POST /api/voices/{voice_id}/reference") == {200, 400, 404, 413, 415, 422, 500, 507}
    assert statuses("GET /api/voices") == {200, 500}
    assert statuses("GET /api/danmaku/status") == {200, 500}
    assert statuses("POST /api/danmaku/enqueue") == {202, 204, 400, 413, 415, 422, 500, 503}
    assert statuses("GET /ready") == {200, 500, 503}
    assert "Retry-After" in ops["POST /api/tts"]["responses"]["429"]["headers"]
    assert 401 not in statuses("GET /api/voices") and "security" not in ops["GET /api/voices"]
    # a status the route declares itself keeps its words and gets the error body
    delete = ops["DELETE /v1/audio/voices/{voice_id}"]["responses"]
    assert "cannot be deleted" in delete["409"]["description"]
    assert delete["409"]["content"]["application/json"]["schema"]["$ref"] == OPENAI_REF


async def test_the_tables_name_only_operations_that_exist(fake_app):
    ops = operations(await published(fake_app))
    stale = [key for key in (*EXTRA_ERRORS, *OTHER_RESPONSES, *SUCCESS_MEDIA) if key not in ops]
    assert stale == []


async def test_non_json_successes_declare_their_media_types(fake_app):
    ops = operations(await published(fake_app))
    speech = ops["POST /v1/audio/speech"]["responses"]["200"]["content"]
    assert {"audio/mpeg", "audio/wav", "audio/pcm", "audio/ogg", "audio/flac", "text/event-stream"} <= set(
        speech
    )
    assert "application/json" not in speech
    tts = ops["POST /api/tts"]["responses"]["200"]["content"]
    assert tts["application/json"]["schema"]["$ref"] == "#/components/schemas/TTSResponse"
    assert "audio/wav" in tts
    assert set(ops["GET /metrics"]["responses"]["200"]["content"]) == {"text/plain"}


async def test_with_an_api_key_the_schema_declares_401_and_bearer(tmp_path, fake_backend):
    app = create_app(make_config(tmp_path, server={"api_key": API_KEY}), fake_backend)
    async with serve_app(app) as client:
        r = await client.get("/openapi.json", headers={"Authorization": f"Bearer {API_KEY}"})
    schema = r.json()
    ops = operations(schema)
    assert schema["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert error_ref(ops["POST /api/tts"], 401) == DETAIL_REF and ops["POST /api/tts"]["security"]
    assert error_ref(ops["POST /v1/audio/speech"], 401) == OPENAI_REF
    for public in ("GET /api/health", "GET /ready"):
        assert "401" not in ops[public]["responses"] and "security" not in ops[public], public
