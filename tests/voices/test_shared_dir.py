"""One data directory, several processes (the replicas of ``serve --ray``): no write is lost when they
write at once, and each sees the others' voices and overrides on its next query."""

from __future__ import annotations

import io
import multiprocessing as mp
import os
from pathlib import Path

import numpy as np
import soundfile as sf

from ishowtts.config import VoiceConfig
from ishowtts.voices.shared_dir import DirLock, stamp
from ishowtts.voices.store import VoiceStore

SR = 24_000
WRITERS = 4
VOICES_EACH = 3


def wav(freq: float) -> bytes:
    t = np.arange(SR // 2) / SR
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), SR, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def make_store(data: Path, ref: Path) -> VoiceStore:
    return VoiceStore(data, [VoiceConfig(id="base", reference_audio=ref, reference_text="words")], "espeak", "E")


def _writer(data: str, ref: str, n: int, start: mp.synchronize.Event) -> None:  # type: ignore[name-defined]
    store = make_store(Path(data), Path(ref))
    start.wait()
    for i in range(VOICES_EACH):
        store.create_voice(f"w{n}", wav(200.0 + 40 * n + 7 * i), "v.wav", f"writer {n} voice {i}")
    store.set_override("base", text=f"writer {n}")


def test_concurrent_writers_in_other_processes_lose_nothing(tmp_path: Path) -> None:
    ref = tmp_path / "ref.wav"
    ref.write_bytes(wav(150.0))
    data = tmp_path / "data"
    reader = make_store(data, ref)
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(str(data), str(ref), n, start)) for n in range(WRITERS)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    ids = {v.id for v in reader.list()}  # this process wrote nothing: it re-reads the shared indexes
    assert len(ids) == 1 + WRITERS * VOICES_EACH, ids
    texts = {reader.get(vid).text for vid in ids if vid != "base"}
    assert texts == {f"writer {n} voice {i}" for n in range(WRITERS) for i in range(VOICES_EACH)}
    assert reader.get("base").text in {f"writer {n}" for n in range(WRITERS)}  # the last override won
    assert len(list((data / "voices" / "audio").iterdir())) == WRITERS * VOICES_EACH  # no audio lost/swept


def test_a_store_starting_on_a_fresh_directory_sweeps_nothing_another_process_is_writing(
    tmp_path: Path, monkeypatch
) -> None:
    """The start-up sweep runs under the lock only where something was stored when the store started. On a
    fresh directory the files that appear meanwhile are another process's write in progress: not litter."""
    ref = tmp_path / "ref.wav"
    ref.write_bytes(wav(150.0))
    data = tmp_path / "data"
    index_tmp = data / "voices" / ".voices.json.k3y9.tmp"
    audio = data / "voices" / "audio" / "other-0123456789abcdef.wav"
    load = VoiceStore._load_created

    def other_process_writes_meanwhile(self: VoiceStore, **kw: object) -> object:
        audio.parent.mkdir(parents=True, exist_ok=True)
        audio.write_bytes(wav(600.0))
        index_tmp.write_text("{}")
        return load(self, **kw)

    monkeypatch.setattr(VoiceStore, "_load_created", other_process_writes_meanwhile)
    make_store(data, ref)
    assert audio.exists() and index_tmp.exists()
    monkeypatch.undo()
    make_store(data, ref)  # this start finds the directory stored and nobody writing: litter is swept
    assert not audio.exists() and not index_tmp.exists()


def test_a_change_by_one_store_reaches_the_other_with_a_new_content_hash(tmp_path: Path) -> None:
    ref = tmp_path / "ref.wav"
    ref.write_bytes(wav(150.0))
    a, b = make_store(tmp_path / "d", ref), make_store(tmp_path / "d", ref)
    before = b.get("base").version
    a.set_override("base", audio=wav(330.0), text="new words")
    after = b.get("base")
    assert after.text == "new words" and after.version != before
    made = a.create_voice("Fresh", wav(500.0), "f.wav", "fresh words")
    assert made.id in b and b.get(made.id).version == a.get(made.id).version
    b.delete_voice(made.id)
    assert made.id not in a
    a.clear_override("base")
    assert b.get("base").version == before


def test_an_unchanged_directory_is_not_read_again(tmp_path: Path, monkeypatch) -> None:
    ref = tmp_path / "ref.wav"
    ref.write_bytes(wav(150.0))
    store = make_store(tmp_path / "d", ref)
    store.create_voice("One", wav(400.0), "o.wav", "one")
    store.list()
    calls = []
    monkeypatch.setattr(store, "_load_created", lambda **kw: calls.append(kw))
    store.list()
    store.get("base")
    assert calls == []


def test_stamp_changes_on_replace_and_is_none_when_missing(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    assert stamp(p) is None
    p.write_text("{}")
    first = stamp(p)
    tmp = tmp_path / "x.tmp"
    tmp.write_text("{}")
    tmp.replace(p)
    assert stamp(p) == first  # the same bytes: nothing to read again
    st = p.stat()
    p.write_text("[]")  # same inode, same size, and the mtime put back: what a reused inode looks like
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (p.stat().st_ino, p.stat().st_mtime_ns, p.stat().st_size) == (st.st_ino, st.st_mtime_ns, st.st_size)
    assert stamp(p) != first


def test_dir_lock_is_reentrant_in_one_process(tmp_path: Path) -> None:
    lock = DirLock(tmp_path)
    with lock(), lock():
        assert lock.path.exists()
    with lock():  # released above, so this does not block
        pass
