"""Start-up clean-up of what killed uploads leave in the voice store: ``*.tmp`` files and audio that no
index names go; every file an index names (and anything else) stays."""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import numpy as np
import soundfile as sf

from ishowtts.config import VoiceConfig
from ishowtts.voices.index import AUDIO_NAME_RE
from ishowtts.voices.litter import sweep
from ishowtts.voices.shared_dir import LOCK_NAME
from ishowtts.voices.store import VoiceStore

SR = 24_000


def wav(freq: float = 220.0, seconds: float = 1.0) -> bytes:
    t = np.arange(int(seconds * SR)) / SR
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), SR, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != LOCK_NAME}


def make_store(data: Path, ref: Path) -> VoiceStore:
    return VoiceStore(
        data, [VoiceConfig(id="zeta", reference_audio=ref, reference_text="words")], "espeak", "E"
    )


def litter(data: Path) -> dict[str, int]:
    """What a killed upload can leave, by relative path -> size."""
    items = {
        "voices/.voices.json.k2j3.tmp": b'{"format": 1, "voi',
        "voices/audio/.Late-00112233445566ff.wav.a8f1.tmp": wav(600.0)[:5000],
        "voices/audio/Late-00112233445566ff.wav": wav(610.0),  # written, but the index never named it
        "overrides/.overrides.json.zz.tmp": b"{",
        "overrides/audio/zeta-aabbccddeeff0011.wav": wav(620.0),
        "overrides/audio/.zeta-aabbccddeeff0011.wav.q.tmp": b"RIFF",
    }
    for rel, blob in items.items():
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        (data / rel).write_bytes(blob)
    return {rel: len(blob) for rel, blob in items.items()}


def test_only_litter_is_removed_at_start_up(tmp_path: Path, caplog) -> None:
    ref = tmp_path / "ref.wav"
    ref.write_bytes(wav())
    data = tmp_path / "data"
    store = make_store(data, ref)
    mine = store.create_voice("Mine", wav(300.0), "m.wav", "my words")
    store.set_override("zeta", audio=wav(400.0), text="override words")
    store.set_override(mine.id, audio=wav(450.0))
    valid = files(data)
    assert len(valid) == 5  # two indexes, one created voice, two override clips
    assert (data / LOCK_NAME).is_file()  # the writers' lock (not voice data: files() leaves it out)
    junk = litter(data)
    keepers = {  # not litter: other names, and anything outside the store's folders
        "voices/audio/README.txt": b"notes",
        "stray.tmp": b"not in a store folder",
        "cache/x.tmp": b"someone else's",
    }
    for rel, blob in keepers.items():
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        (data / rel).write_bytes(blob)

    with caplog.at_level(logging.WARNING, logger="ishowtts.voices.store"):
        again = make_store(data, ref)
    assert files(data) == valid | set(keepers)
    (rec,) = [r for r in caplog.records if "interrupted upload" in r.getMessage()]
    assert rec.fields["files"] == len(junk) and rec.fields["bytes"] == sum(junk.values())  # type: ignore[attr-defined]
    # everything still works as before
    assert again.get("zeta").text == "override words"
    assert again.get(mine.id).text == "my words"
    assert again.reference_info(mine.id)["override_audio_available"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ishowtts.voices.store"):
        make_store(data, ref)
    assert not [r for r in caplog.records if "interrupted upload" in r.getMessage()]  # nothing to say


def test_crash_before_the_first_index_leaves_nothing(tmp_path: Path) -> None:
    ref = tmp_path / "ref.wav"
    ref.write_bytes(wav())
    data = tmp_path / "data"
    litter(data)  # no index exists yet: every store audio file is unnamed
    make_store(data, ref)
    assert files(data) == set()


def test_audio_is_kept_when_an_index_is_corrupt(tmp_path: Path) -> None:
    ref = tmp_path / "ref.wav"
    ref.write_bytes(wav())
    data = tmp_path / "data"
    store = make_store(data, ref)
    store.create_voice("Mine", wav(300.0), None, "words")
    store.set_override("zeta", audio=wav(400.0))
    (data / "voices" / "voices.json").write_text("{broken")
    (data / "overrides" / "overrides.json").write_text("{broken")
    audio = {f for f in files(data) if "/audio/" in f}
    litter(data)
    for _ in range(2):  # the moved-aside copy still protects the files on the next start
        make_store(data, ref)
        left = files(data)
        assert audio <= left  # the files the corrupt indexes named may still be wanted
        assert not [f for f in left if f.endswith(".tmp")]
        assert len([f for f in left if ".corrupt-" in f]) == 2


def test_a_configured_reference_inside_the_store_is_never_removed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ref = data / "voices" / "audio" / "zeta-0123456789abcdef.wav"  # looks like unnamed store audio
    ref.parent.mkdir(parents=True)
    ref.write_bytes(wav())
    make_store(data, ref)
    assert ref.exists()


def test_sweep_unit(tmp_path: Path) -> None:
    (tmp_path / "a-0123456789abcdef.wav").write_bytes(b"x" * 10)
    (tmp_path / "b-0123456789abcdef.wav").write_bytes(b"y" * 20)
    (tmp_path / "c.tmp").write_bytes(b"z" * 5)
    (tmp_path / "d.tmp").mkdir()  # not a file
    (tmp_path / "e.txt").write_bytes(b"keep")
    (tmp_path / "link.tmp").symlink_to(tmp_path / "e.txt")
    only_tmp = sweep(tmp_path, None, AUDIO_NAME_RE)
    assert [p.name for p in only_tmp.removed] == ["c.tmp"] and only_tmp.bytes == 5
    result = sweep(tmp_path, {"a-0123456789abcdef.wav"}, AUDIO_NAME_RE)
    assert [p.name for p in result.removed] == ["b-0123456789abcdef.wav"] and result.bytes == 20
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a-0123456789abcdef.wav",
        "d.tmp",
        "e.txt",
        "link.tmp",
    ]
    assert sweep(tmp_path / "missing", set(), re.compile(".*")).removed == []
