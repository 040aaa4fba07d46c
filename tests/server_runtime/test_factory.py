from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ishowtts.config import EngineConfig
from ishowtts.engine import factory
from ishowtts.engine.factory import BackendUnavailable, build_backend, f5_model_args


@pytest.fixture
def empty_hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "hf"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


class Marker:
    name = "espeak"
    label = "espeak-ng (fallback)"


def test_auto_without_weights_falls_back_loudly(empty_hf_cache, monkeypatch, caplog) -> None:
    monkeypatch.setattr(factory, "_build_espeak", Marker)
    with caplog.at_level(logging.WARNING, logger="ishowtts.engine.factory"):
        backend, reason = build_backend(EngineConfig(kind="auto"))
    assert isinstance(backend, Marker)
    assert reason is not None and reason.startswith("F5 engine unavailable: ") and "F5TTS_v1_Base" in reason
    record = next(r for r in caplog.records if r.levelno == logging.WARNING)
    assert "FALLING BACK TO espeak-ng" in record.getMessage()
    assert "python -m ishowtts download" in record.getMessage()  # the full explanation is logged


def test_f5_without_weights_raises(empty_hf_cache) -> None:
    with pytest.raises(BackendUnavailable, match=r"engine\.kind is 'f5' but the F5 engine cannot start"):
        build_backend(EngineConfig(kind="f5"))


def test_explicit_missing_ckpt_is_named(tmp_path: Path, empty_hf_cache) -> None:
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(BackendUnavailable, match=r"nope\.safetensors"):
        build_backend(EngineConfig(kind="f5", model="tiny", ckpt=missing))


def test_model_args() -> None:
    assert f5_model_args(EngineConfig())["model"] == "F5TTS_v1_Base"
    assert f5_model_args(EngineConfig())["config"] is None
    args = f5_model_args(EngineConfig(model="tiny", ckpt=Path("/w/model.safetensors")))
    assert args["model"] == "/w/model.safetensors" and args["config"] == "tiny"
    args = f5_model_args(EngineConfig(model="F5TTS_Base", ckpt=Path("/w/m.pt")))
    assert args["model"] == "F5TTS_Base" and args["config"] is None


def test_espeak_kind_builds_espeak() -> None:
    backend, reason = build_backend(EngineConfig(kind="espeak"))
    assert backend.name == "espeak" and reason is None


@pytest.mark.slow
def test_auto_with_a_random_checkpoint_builds_f5(tmp_path: Path, empty_hf_cache) -> None:
    from ishowtts.engine import random_weights

    paths = random_weights.save_random_checkpoint(tmp_path / "w", config="tiny")
    cfg = EngineConfig(
        kind="auto",
        model="tiny",
        ckpt=Path(paths["ckpt"]),
        vocab=Path(paths["vocab"]),
        vocoder=Path(paths["vocoder"]),
        device="cpu",
        nfe=4,
    )
    backend, reason = build_backend(cfg)
    assert reason is None and backend.name == "f5"
    assert backend.engine.default_nfe == 4  # engine.nfe reaches the engine
