from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest

from ishowtts.config import VoiceConfig
from ishowtts.voices import atomic
from ishowtts.voices.shared_dir import LOCK_NAME
from ishowtts.voices.store import InvalidAudio, VoiceNotDeletable, VoiceNotFound, VoiceStore

INFO_KEYS = {
    "voice_id",
    "engine",
    "engine_label",
    "language",
    "active_reference_text",
    "baseline_reference_text",
    "override_reference_text",
    "baseline_audio_available",
    "override_audio_available",
    "override_updated_at",
    "created_at",
}


@pytest.fixture
def setup(tmp_path: Path, h):
    ref = tmp_path / "ref.wav"
    ref.write_bytes(h.encode(h.tone(1.0, freq=200.0)))
    voices = [
        VoiceConfig(id="zeta", reference_audio=ref, reference_text="baseline words", language="en"),
        VoiceConfig(id="alpha", reference_audio=None, reference_text="", language="zh", preload=False),
    ]
    data = tmp_path / "data"

    def make() -> VoiceStore:
        return VoiceStore(data, voices, "espeak", "espeak-ng (fallback)")

    return make, data, ref


def files_under(path: Path) -> list[str]:
    if not path.exists():
        return []
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file() and p.name != LOCK_NAME)


def test_list_get_and_info(setup) -> None:
    make, _, ref = setup
    store = make()
    entries = store.list()
    assert [e.id for e in entries] == ["alpha", "zeta"]
    z = entries[1]
    assert (z.engine, z.engine_label, z.language, z.reference_text, z.has_override) == (
        "espeak",
        "espeak-ng (fallback)",
        "en",
        "baseline words",
        False,
    )
    assert store.default_voice_id() == "zeta"  # first configured voice
    v = store.get("zeta")
    assert v.id == "zeta" and v.text == "baseline words" and v.sample_rate == 24_000
    assert v.audio is not None and v.audio.dtype == np.float32 and v.audio.shape == (24_000,)
    assert v.version and store.get("zeta").version == v.version
    a = store.get("alpha")
    assert a.audio is None and a.language == "zh"
    info = store.reference_info("zeta")
    assert set(info) == INFO_KEYS
    assert info["baseline_audio_available"] is True and info["override_audio_available"] is False
    assert info["active_reference_text"] == "baseline words" and info["override_reference_text"] is None
    data, media = store.audio_bytes("zeta", "baseline")
    assert data == ref.read_bytes() and media == "audio/wav"


@pytest.mark.parametrize("bad", ["nope", "../zeta", "a/b", "", "..", "zeta/../../etc"])
def test_unknown_and_malicious_ids(setup, bad: str) -> None:
    store = setup[0]()
    for call in (
        lambda: store.get(bad),
        lambda: store.reference_info(bad),
        lambda: store.set_override(bad, text="x"),
        lambda: store.clear_override(bad),
        lambda: store.audio_bytes(bad, "baseline"),
    ):
        with pytest.raises(VoiceNotFound):
            call()


def test_text_override_set_clear_and_versions(setup) -> None:
    store = setup[0]()
    base_version = store.get("zeta").version
    info = store.set_override("zeta", text="  new words ")
    assert info["active_reference_text"] == "new words" and info["override_reference_text"] == "new words"
    assert info["baseline_reference_text"] == "baseline words" and info["override_updated_at"]
    v = store.get("zeta")
    assert v.text == "new words" and v.version != base_version
    assert store.list()[1].has_override and store.list()[1].reference_text == "new words"
    info = store.set_override("zeta", text="")  # "" clears the text override
    assert info["override_reference_text"] is None and info["active_reference_text"] == "baseline words"
    assert store.get("zeta").version == base_version
    assert not store.list()[1].has_override


def test_audio_override_and_persistence(setup, h) -> None:
    make, data, _ = setup
    store = make()
    base = store.get("zeta")
    upload = h.encode(h.tone(2.0, 16_000, freq=440.0), 16_000, "FLAC", "PCM_16")
    info = store.set_override("zeta", audio=upload, filename="me.flac", text="override words")
    assert info["override_audio_available"] and info["override_reference_text"] == "override words"
    v = store.get("zeta")
    assert v.sample_rate == 16_000 and v.audio.shape == (32_000,) and v.version != base.version
    blob, media = store.audio_bytes("zeta", "override")
    assert blob == upload and media == "audio/flac"
    # a new store on the same data dir re-applies everything
    again = make()
    v2 = again.get("zeta")
    assert v2.version == v.version and v2.text == "override words"
    np.testing.assert_array_equal(v2.audio, v.audio)
    doc = json.loads((data / "overrides" / "overrides.json").read_text())
    assert doc["format"] == 1 and set(doc["voices"]) == {"zeta"}
    # replacing the audio removes the old file; clearing removes everything
    store.set_override("zeta", audio=h.encode(h.tone(1.0, freq=300.0)))
    assert len(list((data / "overrides" / "audio").iterdir())) == 1
    info = store.clear_override("zeta")
    assert not info["override_audio_available"] and info["override_updated_at"] is None
    assert list((data / "overrides" / "audio").iterdir()) == []
    assert store.get("zeta").version == base.version
    assert make().get("zeta").version == base.version
    with pytest.raises(VoiceNotFound, match="no override reference audio"):
        store.audio_bytes("zeta", "override")
    with pytest.raises(VoiceNotFound, match="no baseline reference audio"):
        store.audio_bytes("alpha", "baseline")
    with pytest.raises(ValueError, match="source"):
        store.audio_bytes("zeta", "other")  # type: ignore[arg-type]


def test_invalid_upload_stores_nothing(setup, h) -> None:
    make, data, _ = setup
    store = make()
    before = store.get("zeta").version
    with pytest.raises(InvalidAudio, match="not a decodable audio file"):
        store.set_override("zeta", text="should not be stored", audio=b"\x00garbage" * 50, filename="x.wav")
    with pytest.raises(InvalidAudio, match="silent"):
        store.set_override("zeta", audio=h.encode(np.zeros(24_000, np.float32)))
    with pytest.raises(ValueError, match="nothing to update"):
        store.set_override("zeta")
    with pytest.raises(ValueError, match="over the 2000 limit"):
        store.set_override("zeta", text="x" * 2001)
    assert files_under(data) == []
    assert (
        store.get("zeta").version == before
        and store.reference_info("zeta")["override_reference_text"] is None
    )


def test_upload_size_limit(tmp_path: Path, h) -> None:
    store = VoiceStore(tmp_path, [VoiceConfig(id="a")], "espeak", "x", max_upload_bytes=2048)
    with pytest.raises(InvalidAudio, match="over the 2048-byte limit"):
        store.set_override("a", audio=h.encode(h.tone(1.0)))


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"format": 1, "voices": []}',
        '{"format": 99, "voices": {}}',
        '{"format": 1, "voices": {"zeta": {"text": 5}}}',
        '{"format": 1, "voices": {"../x": {"text": "a"}}}',
        '{"format": 1, "voices": {"zeta": {"text": "a", "audio": "../../etc/passwd"}}}',
    ],
)
def test_corrupt_overrides_are_ignored_and_moved_aside(setup, content: str, caplog) -> None:
    make, data, _ = setup
    (data / "overrides").mkdir(parents=True)
    (data / "overrides" / "overrides.json").write_text(content)
    with caplog.at_level(logging.ERROR):
        store = make()
    assert "ignoring corrupt voice overrides" in caplog.text
    assert store.get("zeta").text == "baseline words"
    assert not (data / "overrides" / "overrides.json").exists()
    assert len(list((data / "overrides").glob("overrides.json.corrupt-*"))) == 1
    store.set_override("zeta", text="fresh")  # usable afterwards
    assert make().get("zeta").text == "fresh"


def test_half_valid_overrides_are_never_half_applied(setup, h) -> None:
    make, data, _ = setup
    store = make()
    store.set_override("zeta", text="one", audio=h.encode(h.tone(1.0, freq=500.0)))
    store.set_override("alpha", text="two")
    # the audio of one entry goes missing: nothing of the file may be applied
    for f in (data / "overrides" / "audio").iterdir():
        f.unlink()
    again = make()
    assert again.get("zeta").text == "baseline words"
    assert again.get("alpha").text == ""


def test_overrides_for_unconfigured_voices_are_kept(tmp_path: Path) -> None:
    s1 = VoiceStore(tmp_path, [VoiceConfig(id="a"), VoiceConfig(id="b")], "espeak", "x")
    s1.set_override("b", text="bee")
    s2 = VoiceStore(tmp_path, [VoiceConfig(id="a")], "espeak", "x")
    s2.set_override("a", text="ay")
    s3 = VoiceStore(tmp_path, [VoiceConfig(id="a"), VoiceConfig(id="b")], "espeak", "x")
    assert s3.get("a").text == "ay" and s3.get("b").text == "bee"


def test_failed_write_keeps_the_old_state(setup, h, monkeypatch) -> None:
    make, data, _ = setup
    store = make()
    store.set_override("zeta", text="kept")
    index = data / "overrides" / "overrides.json"
    before = index.read_bytes()

    real_replace = os.replace

    def broken_replace(src, dst):  # the audio file lands, the index write fails
        if str(dst).endswith("overrides.json"):
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        store.set_override("zeta", text="lost", audio=h.encode(h.tone(1.0, freq=600.0)))
    monkeypatch.undo()
    assert index.read_bytes() == before
    assert store.get("zeta").text == "kept" and not store.reference_info("zeta")["override_audio_available"]
    assert [p.name for p in data.rglob(".*.tmp") if p.is_file()] == []  # no temp files
    assert list((data / "overrides" / "audio").glob("*")) == []  # no orphan audio
    assert make().get("zeta").text == "kept"


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "f.json"
    atomic.atomic_write_text(target, "one")
    atomic.atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two" and os.listdir(target.parent) == ["f.json"]


def test_create_voice_persists_and_ids_are_unique(setup, h) -> None:
    make, _data, _ = setup
    store = make()
    sample = h.encode(h.tone(3.0, freq=250.0), h.SR, "OGG", "VORBIS")
    entry = store.create_voice("My Voice!", sample, "me.ogg", "hello from me")
    assert entry.id == "My-Voice" and entry.name == "My Voice!" and entry.created_at
    assert entry.reference_text == "hello from me" and entry.engine == "espeak" and entry.language == "en"
    second = store.create_voice("My Voice!", sample, "me.ogg", None)
    assert second.id == "My-Voice-2" and second.reference_text == ""
    zh = store.create_voice("../../zeta", sample, None, "你好世界")
    assert zh.id == "zeta-2" and zh.language == "zh"
    assert [e.id for e in store.list()] == ["My-Voice", "My-Voice-2", "alpha", "zeta", "zeta-2"]
    assert store.get("My-Voice").audio.shape[0] == pytest.approx(3 * h.SR, abs=2000)
    again = make()
    assert [e.id for e in again.list()] == ["My-Voice", "My-Voice-2", "alpha", "zeta", "zeta-2"]
    assert again.get("My-Voice").version == store.get("My-Voice").version
    assert again.audio_bytes("My-Voice", "baseline") == (sample, "audio/ogg")
    again.set_override("My-Voice", text="changed")  # overrides work on created voices too
    assert make().get("My-Voice").text == "changed"


def test_create_voice_rejects_bad_input_and_stores_nothing(setup, h) -> None:
    make, data, _ = setup
    store = make()
    with pytest.raises(InvalidAudio):
        store.create_voice("x", b"RIFF....WAVEfmt broken", "x.wav", None)
    with pytest.raises(ValueError, match="name"):
        store.create_voice("  ", h.encode(h.tone(1.0)), None, None)
    with pytest.raises(ValueError, match="name"):
        store.create_voice("n" * 65, h.encode(h.tone(1.0)), None, None)
    assert files_under(data) == []
    assert [e.id for e in store.list()] == ["alpha", "zeta"]


def test_corrupt_created_index_is_ignored(setup, caplog) -> None:
    make, data, _ = setup
    (data / "voices").mkdir(parents=True)
    (data / "voices" / "voices.json").write_text('{"format": 1, "voices": [{"id": "x", "audio": "x-0.wav"}]}')
    with caplog.at_level(logging.ERROR):
        store = make()
    assert "ignoring corrupt created-voices index" in caplog.text
    assert [e.id for e in store.list()] == ["alpha", "zeta"]


def test_default_voice_and_bad_config(tmp_path: Path) -> None:
    s = VoiceStore(tmp_path, [VoiceConfig(id="a"), VoiceConfig(id="b")], "e", "E", default_voice="b")
    assert s.default_voice_id() == "b"
    with pytest.raises(VoiceNotFound):
        VoiceStore(tmp_path, [VoiceConfig(id="a")], "e", "E", default_voice="zz")
    with pytest.raises(ValueError, match="duplicate"):
        VoiceStore(tmp_path, [VoiceConfig(id="a"), VoiceConfig(id="a")], "e", "E")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"junk" * 100)
    with pytest.raises(InvalidAudio, match="voice 'a'"):
        VoiceStore(tmp_path, [VoiceConfig(id="a", reference_audio=bad)], "e", "E")


def test_delete_created_voice(setup, h) -> None:
    make, data, _ = setup
    store = make()
    gone = store.create_voice("Gone", h.encode(h.tone(1.0, freq=300.0)), None, "bye")
    kept = store.create_voice("Kept", h.encode(h.tone(1.0, freq=350.0)), None, "hi")
    store.set_override(gone.id, text="x", audio=h.encode(h.tone(1.0, freq=700.0)))
    store.set_override("zeta", text="zeta override")
    store.delete_voice(gone.id)
    assert [e.id for e in store.list()] == ["Kept", "alpha", "zeta"]
    with pytest.raises(VoiceNotFound):
        store.get(gone.id)
    with pytest.raises(VoiceNotFound):
        store.delete_voice(gone.id)  # a second delete: unknown
    assert not [f for f in files_under(data) if "Gone" in f]
    index = json.loads((data / "voices" / "voices.json").read_text())
    assert [v["id"] for v in index["voices"]] == [kept.id]
    assert set(json.loads((data / "overrides" / "overrides.json").read_text())["voices"]) == {"zeta"}
    again = make()
    assert [e.id for e in again.list()] == ["Kept", "alpha", "zeta"]
    assert again.get("zeta").text == "zeta override" and again.get(kept.id).text == "hi"
    # the id is free again, and a new voice under it starts clean
    assert store.create_voice("Gone", h.encode(h.tone(1.0)), None, "new").id == "Gone"
    assert store.get("Gone").text == "new" and not store.reference_info("Gone")["override_audio_available"]


def test_configured_and_default_voices_cannot_be_deleted(tmp_path: Path, h) -> None:
    s = VoiceStore(tmp_path, [VoiceConfig(id="a")], "e", "E")
    with pytest.raises(VoiceNotDeletable, match="'a' comes from the config"):
        s.delete_voice("a")
    created = s.create_voice("Mine", h.encode(h.tone(1.0)), None, "t")
    s2 = VoiceStore(tmp_path, [VoiceConfig(id="a")], "e", "E", default_voice=created.id)
    with pytest.raises(VoiceNotDeletable, match="is the default voice"):
        s2.delete_voice(created.id)
    assert created.id in s2 and created.id in VoiceStore(tmp_path, [VoiceConfig(id="a")], "e", "E")


def test_failed_delete_changes_nothing(setup, h, monkeypatch) -> None:
    make, data, _ = setup
    store = make()
    v = store.create_voice("V", h.encode(h.tone(1.0)), None, "t")
    before = files_under(data)
    monkeypatch.setattr(atomic.os, "replace", lambda src, dst: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        store.delete_voice(v.id)
    monkeypatch.undo()
    assert v.id in store and files_under(data) == before and v.id in make()


def test_shadowed_created_voice_survives_other_writes(tmp_path: Path, h) -> None:
    s = VoiceStore(tmp_path, [VoiceConfig(id="a")], "e", "E")
    hidden = s.create_voice("b", h.encode(h.tone(1.0)), None, "hidden one")
    s2 = VoiceStore(tmp_path, [VoiceConfig(id="a"), VoiceConfig(id="b")], "e", "E")  # config now has "b"
    s2.create_voice("c", h.encode(h.tone(1.0, freq=500.0)), None, "another")
    s3 = VoiceStore(tmp_path, [VoiceConfig(id="a")], "e", "E")  # "b" left the config again
    assert s3.get(hidden.id).text == "hidden one" and "c" in s3


def test_kept_override_does_not_attach_to_a_new_voice(tmp_path: Path, h) -> None:
    VoiceStore(tmp_path, [VoiceConfig(id="a"), VoiceConfig(id="b")], "e", "E").set_override("b", text="bee")
    s = VoiceStore(tmp_path, [VoiceConfig(id="a")], "e", "E")
    created = s.create_voice("b", h.encode(h.tone(1.0)), None, "mine")
    assert created.id == "b-2" and s.get(created.id).text == "mine"


@pytest.mark.parametrize("bad", ["a\x00b", "\x1b", "x\x7fy"])
def test_control_characters_in_texts_are_refused(setup, h, bad: str) -> None:
    make, data, _ = setup
    store = make()
    with pytest.raises(ValueError, match="text: contains the control character"):
        store.set_override("zeta", text=bad)
    with pytest.raises(ValueError, match="text: contains the control character"):
        store.create_voice("x", h.encode(h.tone(1.0)), None, bad)
    with pytest.raises(ValueError, match="name: contains the control character"):
        store.create_voice(bad, h.encode(h.tone(1.0)), None, "ok")
    assert files_under(data) == [] and store.get("zeta").text == "baseline words"
    assert (
        store.set_override("zeta", text="tab\there\nnewline")["active_reference_text"] == "tab here newline"
    )
