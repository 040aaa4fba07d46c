"""Voice reference overrides and created voices through HTTP: upload, read back, reset, persistence across
a restart (a new app on the same data dir), and bad uploads refused with nothing stored."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from _server_helpers import SR, FakeBackend, make_config, serve_app

from ishowtts.server.app import create_app

pytestmark = pytest.mark.anyio


def tone_bytes(seconds: float = 1.5, fmt: str = "WAV", freq: float = 330.0, sr: int = SR) -> bytes:
    t = np.arange(int(seconds * sr)) / sr
    x = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    buf = io.BytesIO()
    subtype = {"WAV": "PCM_16", "FLAC": "PCM_16", "OGG": "VORBIS", "MP3": "MPEG_LAYER_III"}[fmt]
    sf.write(buf, x, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def stored_files(data_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*") if p.is_file())


async def test_override_roundtrip_and_persistence(tmp_path, fake_backend):
    data = tmp_path / "data"
    upload = tone_bytes(fmt="FLAC")
    async with serve_app(create_app(make_config(data), fake_backend)) as client:
        info = (await client.get("/api/voices/default/reference")).json()
        assert info["voice_id"] == "default" and info["engine"] == "fake"
        assert info["baseline_audio_available"] is True and info["override_audio_available"] is False
        baseline_text = info["baseline_reference_text"]
        assert info["active_reference_text"] == baseline_text and info["override_reference_text"] is None
        baseline = await client.get("/api/voices/default/reference/audio", params={"source": "baseline"})
        assert baseline.status_code == 200 and baseline.headers["content-type"].startswith("audio/")
        assert sf.info(io.BytesIO(baseline.content)).frames > 0
        missing = await client.get("/api/voices/default/reference/audio", params={"source": "override"})
        assert missing.status_code == 404

        r = await client.post(
            "/api/voices/default/reference",
            data={"text": "A new transcript."},
            files={"audio": ("ref.flac", upload, "audio/flac")},
        )
        assert r.status_code == 200, r.text
        info = r.json()
        assert info["active_reference_text"] == "A new transcript."
        assert info["override_audio_available"] is True and info["override_updated_at"]
        got = await client.get("/api/voices/default/reference/audio", params={"source": "override"})
        assert got.status_code == 200 and got.content == upload
        voices = (await client.get("/api/voices")).json()
        assert voices[0]["reference_text"] == "A new transcript."
        # the engine now gets the override reference
        await client.post("/api/tts", json={"text": "hi"})
    async with serve_app(create_app(make_config(data), fake_backend)) as client:  # restart
        info = (await client.get("/api/voices/default/reference")).json()
        assert info["active_reference_text"] == "A new transcript." and info["override_audio_available"]
        got = await client.get("/api/voices/default/reference/audio", params={"source": "override"})
        assert got.content == upload
        # empty text clears only the text override
        r = await client.post("/api/voices/default/reference", data={"text": ""})
        assert r.status_code == 200, r.text
        info = r.json()
        assert info["override_reference_text"] is None and info["override_audio_available"] is True
        assert info["active_reference_text"] == baseline_text
        r = await client.delete("/api/voices/default/reference")
        assert r.status_code == 200
        info = r.json()
        assert info["override_audio_available"] is False and info["active_reference_text"] == baseline_text
    async with serve_app(create_app(make_config(data), fake_backend)) as client:  # reset persists too
        info = (await client.get("/api/voices/default/reference")).json()
        assert info["override_audio_available"] is False and info["override_reference_text"] is None
    assert not [f for f in stored_files(data) if f.startswith("overrides/audio/")]


async def test_override_changes_the_reference_the_engine_sees(tmp_path, fake_backend):
    refs = []
    original = fake_backend.stream

    def spy(text, voice, params, cancel=None):
        refs.append(voice)
        return original(text, voice, params, cancel)

    fake_backend.stream = spy  # type: ignore[method-assign]
    async with serve_app(create_app(make_config(tmp_path), fake_backend)) as client:
        await client.post("/api/tts", json={"text": "one", "seed": 3})
        await client.post("/api/voices/default/reference", data={"text": "Changed words."})
        r = await client.post("/api/tts", json={"text": "one", "seed": 3})  # not a stale cache hit
        assert r.status_code == 200
    assert len(refs) == 2
    assert refs[1].text == "Changed words." and refs[0].version != refs[1].version


@pytest.mark.parametrize(
    ("form", "files", "status", "needle"),
    [
        ({}, None, 400, "provide 'text' and/or 'audio'"),
        ({}, {"audio": ("x.wav", b"this is not audio at all" * 10, "audio/wav")}, 400, "invalid audio"),
        ({}, {"audio": ("x.wav", b"", "audio/wav")}, 400, "empty"),
        ({"text": "ok"}, {"audio": ("x.wav", b"RIFF\x00\x00", "audio/wav")}, 400, "invalid audio"),
        ({}, {"audio": ("big.wav", b"\x00" * (10 * 1024 * 1024 + 10), "audio/wav")}, 413, "upload limit"),
    ],
)
async def test_bad_override_uploads_store_nothing(tmp_path, fake_backend, form, files, status, needle):
    data = tmp_path / "data"
    async with serve_app(create_app(make_config(data), fake_backend)) as client:
        before = stored_files(data)
        r = await client.post("/api/voices/default/reference", data=form, files=files)
        assert r.status_code == status, r.text
        assert needle in r.json()["detail"]
        info = (await client.get("/api/voices/default/reference")).json()
        assert info["override_audio_available"] is False and info["override_reference_text"] is None
    assert stored_files(data) == before


async def test_silent_upload_is_refused(tmp_path, fake_backend):
    silent = io.BytesIO()
    sf.write(silent, np.zeros(SR, np.float32), SR, format="WAV", subtype="PCM_16")
    async with serve_app(create_app(make_config(tmp_path), fake_backend)) as client:
        r = await client.post("/api/voices/default/reference", files={"audio": ("s.wav", silent.getvalue())})
    assert r.status_code == 400 and "invalid audio" in r.json()["detail"]


async def test_unknown_voice_routes_are_404(tmp_path, fake_backend):
    async with serve_app(create_app(make_config(tmp_path), fake_backend)) as client:
        assert (await client.get("/api/voices/nobody/reference")).status_code == 404
        assert (await client.delete("/api/voices/nobody/reference")).status_code == 404
        r = await client.post("/api/voices/nobody/reference", data={"text": "x"})
        assert r.status_code == 404 and "unknown voice" in r.json()["detail"]
        assert (await client.get("/api/voices/nobody/reference/audio")).status_code == 404
        assert (await client.get("/api/voices/..%2F..%2Fetc/reference")).status_code == 404
        r = await client.get("/api/voices/default/reference/audio", params={"source": "elsewhere"})
        assert r.status_code == 422


async def test_create_voice_openai(tmp_path, fake_backend):
    data = tmp_path / "data"
    sample = tone_bytes(fmt="WAV")
    async with serve_app(create_app(make_config(data), fake_backend)) as client:
        r = await client.post(
            "/v1/audio/voices",
            data={"name": "My Voice", "reference_text": "Some words."},
            files={"audio_sample": ("me.wav", sample, "audio/wav")},
        )
        assert r.status_code == 200, r.text
        created = r.json()
        assert created["object"] == "audio.voice" and created["name"] == "My Voice"
        assert isinstance(created["created_at"], int) and created["created_at"] > 1_600_000_000
        vid = created["id"]
        listed = (await client.get("/v1/audio/voices")).json()["voices"]
        assert {"id": vid, "name": "My Voice"} in listed
        r = await client.post(
            "/v1/audio/speech", json={"input": "Hello", "voice": vid, "response_format": "pcm"}
        )
        assert r.status_code == 200 and r.headers["x-voice-id"] == vid
        before = stored_files(data)
        bad = await client.post(
            "/v1/audio/voices", data={"name": "Broken"}, files={"audio_sample": ("b.wav", b"nope" * 100)}
        )
        assert bad.status_code == 400 and "audio_sample" in bad.json()["error"]["message"]
        missing = await client.post("/v1/audio/voices", data={"name": "NoAudio"})
        assert missing.status_code == 422 and "audio_sample" in missing.json()["error"]["message"]
        blank = await client.post(
            "/v1/audio/voices", data={"name": "  "}, files={"audio_sample": ("a.wav", sample)}
        )
        assert blank.status_code == 400 and "name" in blank.json()["error"]["message"]
        assert stored_files(data) == before  # nothing stored by the refused uploads
        assert len((await client.get("/v1/audio/voices")).json()["voices"]) == 2
    async with serve_app(create_app(make_config(data), FakeBackend())) as client:  # persisted
        ids = [v["id"] for v in (await client.get("/api/voices")).json()]
        assert vid in ids and len(ids) == 2
