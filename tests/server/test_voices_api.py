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
from ishowtts.voices.shared_dir import LOCK_NAME

pytestmark = pytest.mark.anyio


def tone_bytes(seconds: float = 1.5, fmt: str = "WAV", freq: float = 330.0, sr: int = SR) -> bytes:
    t = np.arange(int(seconds * sr)) / sr
    x = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    buf = io.BytesIO()
    subtype = {"WAV": "PCM_16", "FLAC": "PCM_16", "OGG": "VORBIS", "MP3": "MPEG_LAYER_III"}[fmt]
    sf.write(buf, x, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def stored_files(data_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*") if p.is_file() and p.name != LOCK_NAME)


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


# ---------------------------------------------------------------------------------------------- espeak warning
WARNING_START = "stored; voice cloning needs the F5-TTS weights: "


async def test_fallback_upload_is_stored_with_a_warning_logged_once(tmp_path, fake_backend, caplog):
    reason = "F5 engine unavailable: no F5-TTS weights found"
    app = create_app(make_config(tmp_path), fake_backend, fallback_reason=reason)
    async with serve_app(app) as client:
        with caplog.at_level("WARNING", logger="ishowtts.server.route_helpers"):
            r = await client.post(
                "/api/voices/default/reference",
                data={"text": "Words."},
                files={"audio": ("r.wav", tone_bytes(), "audio/wav")},
            )
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["warning"].startswith(WARNING_START + reason)
            assert body["override_audio_available"] is True  # stored all the same
            r = await client.post(
                "/v1/audio/voices",
                data={"name": "Mine", "reference_text": "Hi."},
                files={"audio_sample": ("m.wav", tone_bytes(), "audio/wav")},
            )
            assert r.status_code == 200, r.text
            assert (
                r.json()["warning"].startswith(WARNING_START + reason) and r.json()["object"] == "audio.voice"
            )
            r = await client.post("/api/voices/default/reference", data={"text": "Again."})
            assert r.json()["warning"].startswith(WARNING_START)
        logged = [rec for rec in caplog.records if "cannot clone" in rec.getMessage()]
        assert len(logged) == 1  # once per server, not per upload
        assert logged[0].fields["reason"] == reason  # type: ignore[attr-defined]
        info = (await client.get("/api/voices/default/reference")).json()
        assert info["active_reference_text"] == "Again." and info["override_audio_available"] is True
        assert "warning" not in info  # only on uploads


async def test_espeak_by_choice_warns_and_names_the_setting(tmp_path, fake_backend):
    fake_backend.name = "espeak"  # engine.kind = "espeak": no fallback reason, still no cloning
    async with serve_app(create_app(make_config(tmp_path), fake_backend)) as client:
        r = await client.post("/api/voices/default/reference", data={"text": "Words."})
    assert r.status_code == 200
    assert r.json()["warning"].startswith(WARNING_START) and 'engine.kind = "espeak"' in r.json()["warning"]


async def test_no_warning_when_f5_runs(tmp_path, fake_backend, caplog):
    fake_backend.name = "f5"
    async with serve_app(create_app(make_config(tmp_path), fake_backend)) as client:
        with caplog.at_level("WARNING", logger="ishowtts.server.route_helpers"):
            r = await client.post(
                "/api/voices/default/reference",
                data={"text": "Words."},
                files={"audio": ("r.wav", tone_bytes(), "audio/wav")},
            )
            c = await client.post(
                "/v1/audio/voices", data={"name": "X"}, files={"audio_sample": ("x.wav", tone_bytes())}
            )
    assert r.status_code == 200 and "warning" not in r.json()
    assert c.status_code == 200 and "warning" not in c.json()
    assert not [rec for rec in caplog.records if "cannot clone" in rec.getMessage()]


# ---------------------------------------------------------------------------------------------- deleting voices
async def test_delete_created_voice(tmp_path, fake_backend):
    data = tmp_path / "data"
    async with serve_app(create_app(make_config(data), fake_backend)) as client:
        ids = []
        for name, freq in (("Gone", 300.0), ("Kept", 500.0)):
            r = await client.post(
                "/v1/audio/voices",
                data={"name": name, "reference_text": f"{name} words."},
                files={"audio_sample": (f"{name}.wav", tone_bytes(freq=freq), "audio/wav")},
            )
            assert r.status_code == 200, r.text
            ids.append(r.json()["id"])
        gone, kept = ids
        r = await client.post("/api/voices/default/reference", data={"text": "Default override."})
        assert r.status_code == 200
        r = await client.post(  # an override of the voice to delete goes with it
            f"/api/voices/{gone}/reference", files={"audio": ("o.wav", tone_bytes(freq=700.0))}
        )
        assert r.status_code == 200
        before = stored_files(data)
        assert len([f for f in before if f.startswith("voices/audio/")]) == 2

        r = await client.delete(f"/v1/audio/voices/{gone}")
        assert r.status_code == 200, r.text
        assert r.json() == {"id": gone, "object": "audio.voice.deleted", "deleted": True}
        after = stored_files(data)
        assert not [f for f in after if f.startswith(("voices/audio/Gone", "overrides/audio/Gone"))]
        assert [f for f in before if gone not in f] == after  # nothing else removed
        listed = [v["id"] for v in (await client.get("/v1/audio/voices")).json()["voices"]]
        assert gone not in listed and kept in listed
        r = await client.post(
            "/v1/audio/speech", json={"input": "Hi", "voice": gone, "response_format": "pcm"}
        )
        assert r.status_code == 404

        again = await client.delete(f"/v1/audio/voices/{gone}")
        assert again.status_code == 404 and "unknown voice" in again.json()["error"]["message"]
        configured = await client.delete("/v1/audio/voices/default")
        assert configured.status_code == 409
        err = configured.json()["error"]
        assert "comes from the config" in err["message"] and err["code"] == "voice_not_deletable"
        assert (await client.delete("/v1/audio/voices/.hidden")).status_code == 404  # invalid id
        assert stored_files(data) == after
    async with serve_app(create_app(make_config(data), FakeBackend())) as client:  # after a restart
        ids = [v["id"] for v in (await client.get("/api/voices")).json()]
        assert gone not in ids and kept in ids
        info = (await client.get("/api/voices/default/reference")).json()
        assert info["active_reference_text"] == "Default override."
        r = await client.post(
            "/v1/audio/speech", json={"input": "Hi", "voice": kept, "response_format": "pcm"}
        )
        assert r.status_code == 200


# ---------------------------------------------------------------------------------------------- reference texts
@pytest.mark.parametrize("bad", ["nul\x00byte", "esc\x1b[31m", "del\x7f", "c1\x85"])
async def test_control_characters_in_reference_text_are_refused(tmp_path, fake_backend, bad):
    data = tmp_path / "data"
    async with serve_app(create_app(make_config(data), fake_backend)) as client:
        r = await client.post("/api/voices/default/reference", data={"text": bad})
        assert r.status_code == 400, r.text
        assert "control character U+" in r.json()["detail"]
        r = await client.post(
            "/v1/audio/voices",
            data={"name": "Ctl", "reference_text": bad},
            files={"audio_sample": ("c.wav", tone_bytes(), "audio/wav")},
        )
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["param"] == "reference_text" and "control character U+" in err["message"]
        assert err["type"] == "invalid_request_error"
        r = await client.post(
            "/v1/audio/voices", data={"name": f"N{bad}"}, files={"audio_sample": ("c.wav", tone_bytes())}
        )
        assert r.status_code == 400 and r.json()["error"]["param"] == "name"
        assert len((await client.get("/api/voices")).json()) == 1
    assert stored_files(data) == []


async def test_tabs_and_line_breaks_become_spaces(tmp_path, fake_backend):
    async with serve_app(create_app(make_config(tmp_path), fake_backend)) as client:
        r = await client.post("/api/voices/default/reference", data={"text": "line one\r\n\tline two\n"})
        assert r.status_code == 200, r.text
        assert r.json()["active_reference_text"] == "line one line two"
        r = await client.post(
            "/v1/audio/voices",
            data={"name": "Tabbed", "text": "a\tb\nc"},
            files={"audio_sample": ("t.wav", tone_bytes(), "audio/wav")},
        )
        assert r.status_code == 200, r.text
        voices = {v["id"]: v for v in (await client.get("/api/voices")).json()}
        assert voices[r.json()["id"]]["reference_text"] == "a b c"
