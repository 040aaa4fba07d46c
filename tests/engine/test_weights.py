"""Weights resolution: explicit paths, then a (fake) Hugging Face cache, then a clear offline error."""

from __future__ import annotations

from pathlib import Path

import pytest

from ishowtts.engine.weights import (
    MODELS,
    VOCOS_FILES,
    VOCOS_REPO,
    HubFile,
    WeightsNotFound,
    cache_layout_path,
    download_weights,
    resolve_weights,
)

REV = "0123456789abcdef0123456789abcdef01234567"


def _put(cache: Path, repo_id: str, filename: str, content: bytes = b"x") -> Path:
    repo_dir = cache / ("models--" + repo_id.replace("/", "--"))
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / "main").write_text(REV)
    path = repo_dir / "snapshots" / REV / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _fake_cache(cache: Path, model: str = "F5TTS_v1_Base", vocoder: bool = True) -> dict[str, Path]:
    spec = MODELS[model]
    out = {
        "ckpt": _put(cache, spec.ckpt.repo_id, spec.ckpt.filename),
        "vocab": _put(cache, spec.vocab.repo_id, spec.vocab.filename, b" \na\n"),
    }
    if vocoder:
        for name in VOCOS_FILES:
            out[name] = _put(cache, VOCOS_REPO, name)
    return out


def test_resolves_from_hf_cache(tmp_path: Path) -> None:
    files = _fake_cache(tmp_path)
    w = resolve_weights("F5TTS_v1_Base", cache_dir=tmp_path, allow_download=False)
    assert w.model == "F5TTS_v1_Base"
    assert w.ckpt == files["ckpt"] and w.ckpt.name == "model_1250000.safetensors"
    assert w.vocab == files["vocab"]
    assert w.vocoder == files["config.yaml"].parent
    assert w.sources == {"checkpoint": "cache", "vocab": "cache", "vocoder": "cache"}


def test_f5tts_base_file_names(tmp_path: Path) -> None:
    _fake_cache(tmp_path, "F5TTS_Base")
    w = resolve_weights("F5TTS_Base", cache_dir=tmp_path, allow_download=False)
    assert w.ckpt.as_posix().endswith("F5TTS_Base/model_1200000.safetensors")
    assert w.model == "F5TTS_Base"


def test_explicit_paths_win_over_cache(tmp_path: Path) -> None:
    _fake_cache(tmp_path / "hf")
    own = tmp_path / "own"
    own.mkdir()
    (own / "my.safetensors").write_bytes(b"x")
    (own / "vocab.txt").write_text(" \n")
    voc = tmp_path / "voc"
    voc.mkdir()
    for name in VOCOS_FILES:
        (voc / name).write_bytes(b"x")
    w = resolve_weights(
        "F5TTS_v1_Base",
        ckpt=own / "my.safetensors",
        vocoder=voc,
        cache_dir=tmp_path / "hf",
        allow_download=False,
    )
    assert w.ckpt == own / "my.safetensors"
    assert w.vocab == own / "vocab.txt"  # found next to the explicit checkpoint
    assert w.vocoder == voc
    assert w.sources == {"checkpoint": "explicit", "vocab": "explicit", "vocoder": "explicit"}


def test_model_directory(tmp_path: Path) -> None:
    _fake_cache(tmp_path / "hf")
    d = tmp_path / "m"
    d.mkdir()
    (d / "model_5.safetensors").write_bytes(b"x")
    (d / "vocab.txt").write_text(" \n")
    w = resolve_weights(str(d), config="tiny", cache_dir=tmp_path / "hf", allow_download=False)
    assert w.ckpt == d / "model_5.safetensors" and w.vocab == d / "vocab.txt" and w.model == "tiny"
    assert w.sources["vocoder"] == "cache"


def test_offline_and_absent_is_a_clear_error(tmp_path: Path) -> None:
    _fake_cache(tmp_path, vocoder=False)
    with pytest.raises(WeightsNotFound) as info:
        resolve_weights("F5TTS_v1_Base", cache_dir=tmp_path, allow_download=False)
    msg = str(info.value)
    assert "hf://charactr/vocos-mel-24khz/config.yaml" in msg
    assert "hf://charactr/vocos-mel-24khz/pytorch_model.bin" in msg
    assert "F5TTS_v1_Base/model_1250000" not in msg  # the checkpoint was found
    assert "python -m ishowtts download --model F5TTS_v1_Base" in msg
    assert "--ckpt" in msg and "--vocoder" in msg and "HF_HOME" in msg
    assert str(tmp_path) in msg


def test_env_offline_blocks_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsNotFound, match="HF_HUB_OFFLINE"):
        resolve_weights("F5TTS_v1_Base", cache_dir=tmp_path)


def test_bad_explicit_paths(tmp_path: Path) -> None:
    _fake_cache(tmp_path)
    with pytest.raises(WeightsNotFound, match="does not exist"):
        resolve_weights(ckpt=tmp_path / "nope.safetensors", cache_dir=tmp_path, allow_download=False)
    empty = tmp_path / "voc"
    empty.mkdir()
    with pytest.raises(WeightsNotFound, match=r"lacks config\.yaml, pytorch_model\.bin"):
        resolve_weights(vocoder=empty, cache_dir=tmp_path, allow_download=False)
    with pytest.raises(WeightsNotFound, match="unknown model"):
        resolve_weights("F5TTS_v9", cache_dir=tmp_path, allow_download=False)


def test_download_used_only_when_allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ishowtts.engine.weights as weights

    calls: list[str] = []

    def fake_download(f, cache_dir):  # stands in for the network
        calls.append(f.filename)
        return _put(Path(cache_dir), f.repo_id, f.filename)

    monkeypatch.setattr(weights, "_download", fake_download)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(weights, "hub_offline", lambda: False)
    monkeypatch.setattr(weights, "hub_reachable", lambda: True)
    _fake_cache(tmp_path, vocoder=False)
    w = resolve_weights("F5TTS_v1_Base", cache_dir=tmp_path)
    assert calls == list(VOCOS_FILES)  # only what the cache lacked
    assert w.sources == {"checkpoint": "cache", "vocab": "cache", "vocoder": "download"}


def test_unreachable_hub_fails_fast_without_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline without HF_HUB_OFFLINE: one probe, no per-file retry backoff, a clear error."""
    import ishowtts.engine.weights as weights

    def no_download(f, cache_dir):
        raise AssertionError("must not try to download when the hub is unreachable")

    monkeypatch.setattr(weights, "_download", no_download)
    monkeypatch.setattr(weights, "hub_offline", lambda: False)
    monkeypatch.setattr(weights, "hub_reachable", lambda: False)
    with pytest.raises(WeightsNotFound, match="not reachable"):
        resolve_weights("F5TTS_v1_Base", cache_dir=tmp_path)


def test_cache_layout_path_is_where_the_lookup_finds_files(tmp_path: Path) -> None:
    """Without a download ever having run, files put at the printed paths (``snapshots/main``) are found."""
    spec = MODELS["F5TTS_v1_Base"]
    files = [spec.ckpt, spec.vocab, *(HubFile(VOCOS_REPO, name) for name in VOCOS_FILES)]
    for f in files:
        path = cache_layout_path(f, tmp_path)
        assert path.parts[-len(Path(f.filename).parts) - 1] == "main"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    w = resolve_weights("F5TTS_v1_Base", cache_dir=tmp_path, allow_download=False)
    assert w.ckpt == cache_layout_path(spec.ckpt, tmp_path)
    assert w.sources == {"checkpoint": "cache", "vocab": "cache", "vocoder": "cache"}


def test_cache_layout_path_follows_refs_main(tmp_path: Path) -> None:
    put = _put(tmp_path, VOCOS_REPO, "config.yaml")  # writes refs/main -> REV
    assert put.parent.name == REV
    assert (
        cache_layout_path(HubFile(VOCOS_REPO, "pytorch_model.bin"), tmp_path)
        == put.parent / "pytorch_model.bin"
    )


def test_not_found_carries_what_is_missing(tmp_path: Path) -> None:
    _fake_cache(tmp_path, vocoder=False)
    with pytest.raises(WeightsNotFound) as info:
        resolve_weights("F5TTS_v1_Base", cache_dir=tmp_path, allow_download=False)
    assert [m.name for m in info.value.missing] == list(VOCOS_FILES)
    assert info.value.cache == str(tmp_path)
    first = str(info.value).splitlines()[0]
    assert first == "F5-TTS weights for 'F5TTS_v1_Base' not found: missing config.yaml, pytorch_model.bin."


def test_download_offline_says_where_files_go_not_to_rerun(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _fake_cache(tmp_path, vocoder=False)
    with pytest.raises(WeightsNotFound) as info:
        download_weights("F5TTS_v1_Base", cache_dir=tmp_path)
    msg = str(info.value)
    assert "python -m ishowtts download" not in msg  # does not send the user round in a circle
    assert "HF_HUB_OFFLINE is set" in msg
    for name in VOCOS_FILES:  # the exact cache path of each missing file, and its URL
        assert f"-> {tmp_path}/models--charactr--vocos-mel-24khz/snapshots/main/{name}" in msg
        assert f"https://huggingface.co/{VOCOS_REPO}/resolve/main/{name}" in msg
    assert "model_1250000" not in msg  # only what is missing
    assert "[engine] ckpt" in msg and "vocoder" in msg  # or the config keys


def test_download_unreachable_hub_says_where_files_go(tmp_path: Path, monkeypatch) -> None:
    import ishowtts.engine.weights as weights

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(weights, "hub_offline", lambda: False)
    monkeypatch.setattr(weights, "hub_reachable", lambda: False)
    with pytest.raises(WeightsNotFound) as info:
        weights.download_weights("F5TTS_v1_Base", cache_dir=tmp_path)
    msg = str(info.value)
    assert msg.startswith("cannot download the F5-TTS weights: the Hugging Face hub is not reachable")
    assert "python -m ishowtts download" not in msg
    assert (
        f"-> {tmp_path}/models--SWivid--F5-TTS/snapshots/main/F5TTS_v1_Base/model_1250000.safetensors" in msg
    )
