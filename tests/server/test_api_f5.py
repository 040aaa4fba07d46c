"""The API with a tiny random-weight F5 engine built from upstream-layout files on disk (the real loading
code): health, /api/tts, streamed /v1/audio/speech, seeded determinism + the finished-audio cache, and a
voice override reaching the engine. Random weights make noise, not speech: only shape-level checks."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from _server_helpers import (
    SR,
    STREAMED_SIZE,
    assert_exact_wav,
    decode,
    f5_engine_section,
    make_config,
    parse_sse,
    serve_app,
    wav_sizes,
)

from ishowtts.server.app import create_app

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def f5_app(tmp_path, backend, paths, **sections):
    return create_app(make_config(tmp_path, engine=f5_engine_section(paths), **sections), backend)


async def test_f5_health_tts_and_cache(tmp_path, f5_backend, f5_paths):
    app = f5_app(tmp_path, f5_backend, f5_paths)
    async with serve_app(app) as client:
        h = (await client.get("/api/health")).json()
        assert (h["engine"], h["model"], h["device"], h["fallback"]) == ("f5", "tiny", "cpu", False)
        # what "auto" chose and why, and the CPU that decided it (tests pin a plain AVX2 CPU: conftest.py)
        assert (h["dtype"], h["compile"]) == ("float32", False)
        assert h["decided"]["dtype"].startswith("auto: fp32") and h["decided"]["compile"].startswith("auto: off")
        assert h["quantize"] is None and h["decided"]["quantize"].startswith("auto: off")
        assert h["cpu"]["matrix_unit"] == "none" and h["cpu"]["isa"] == ["avx2", "fma"]
        body = {"text": "Hi there.", "seed": 11, "nfe_step": 2}
        first = await client.post("/api/tts", json=body)
        assert first.status_code == 200, first.text
        second = await client.post("/api/tts", json=body)
        assert second.json()["audio_base64"] == first.json()["audio_base64"]  # seeded: identical
        stats = app.state.ishowtts.scheduler.stats()
        assert stats["cache_hits"] == 1 and stats["completed"] == 1  # the repeat came from the cache
    for r in (first, second):  # synthesised and cache hit: exact WAV sizes
        assert_exact_wav(base64.b64decode(r.json()["audio_base64"]), first.json()["waveform_len"])
    audio, sr = decode(base64.b64decode(first.json()["audio_base64"]), "wav")
    assert sr == SR and first.json()["engine"] == "f5"
    assert len(audio) == first.json()["waveform_len"] > SR // 10
    assert np.all(np.isfinite(audio)) and np.max(np.abs(audio)) > 0


async def test_f5_streamed_speech_and_sse(tmp_path, f5_backend, f5_paths):
    app = f5_app(tmp_path, f5_backend, f5_paths)
    async with serve_app(app) as client:
        r = await client.post(
            "/v1/audio/speech",
            json={"input": "One sentence. And another one.", "response_format": "wav", "seed": 5},
        )
        assert r.status_code == 200 and r.content[4:8] == b"\xff\xff\xff\xff"
        audio, sr = decode(r.content, "wav")
        assert sr == SR and len(audio) > SR // 10 and np.all(np.isfinite(audio))
        sse = await client.post(
            "/v1/audio/speech",
            json={
                "input": "One sentence. And another one.",
                "response_format": "pcm",
                "stream_format": "sse",
                "seed": 5,
            },
        )
        events = parse_sse(sse.content)
        assert events[-1]["type"] == "speech.audio.done"
        pcm = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
        same, _ = decode(pcm, "pcm")
        assert len(same) == len(audio) and np.allclose(same, audio, atol=1 / 32768)  # same seed, same audio


async def test_f5_stream_false_and_cache_hit_wav_sizes(tmp_path, f5_backend, f5_paths):
    app = f5_app(tmp_path, f5_backend, f5_paths)
    body = {"input": "One sentence. And another one.", "response_format": "wav", "seed": 9}
    async with serve_app(app) as client:
        whole = await client.post("/v1/audio/speech", json={**body, "stream": False})
        hit = await client.post("/v1/audio/speech", json=body)  # streamed request, served from the cache
        fresh = await client.post("/v1/audio/speech", json={**body, "seed": 10})
        stats = app.state.ishowtts.scheduler.stats()
    assert stats["cache_hits"] == 1 and stats["completed"] == 2
    n = assert_exact_wav(whole.content)
    assert n > SR // 10 and int(whole.headers["content-length"]) == len(whole.content)
    assert hit.content == whole.content and int(hit.headers["content-length"]) == len(hit.content)
    assert wav_sizes(fresh.content) == (STREAMED_SIZE, STREAMED_SIZE)  # synthesised as it streams
    audio, _ = decode(whole.content, "wav")
    assert np.all(np.isfinite(audio)) and np.max(np.abs(audio)) > 0


async def test_f5_override_reaches_the_engine(tmp_path, f5_backend, f5_paths):
    app = f5_app(tmp_path, f5_backend, f5_paths)
    body = {"text": "Hi.", "seed": 3, "nfe_step": 2}
    async with serve_app(app) as client:
        before = (await client.post("/api/tts", json=body)).json()
        r = await client.post(
            "/api/voices/default/reference", data={"text": "A completely different transcript here."}
        )
        assert r.status_code == 200
        after = (await client.post("/api/tts", json=body)).json()
    # the reference text drives F5's duration estimate: a different transcript, a different output
    assert after["audio_base64"] != before["audio_base64"]
