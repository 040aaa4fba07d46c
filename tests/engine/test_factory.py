from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ishowtts import defaults
from ishowtts.config import EngineConfig
from ishowtts.engine import factory
from ishowtts.engine.factory import BackendUnavailable, build_backend, f5_model_args


@pytest.fixture
def empty_hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from huggingface_hub import constants

    cache = tmp_path / "hf"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))  # read at import; the lookup uses this
    return cache


class Marker:
    name = "espeak"

    def __init__(self, label: str) -> None:
        self.label = label


def test_auto_without_weights_falls_back_loudly(empty_hf_cache, monkeypatch, caplog) -> None:
    monkeypatch.setattr(factory, "_build_espeak", Marker)
    with caplog.at_level(logging.WARNING, logger="ishowtts.engine.factory"):
        backend, reason = build_backend(EngineConfig(kind="auto"))
    assert isinstance(backend, Marker) and backend.label == "espeak-ng (fallback)"
    assert reason is not None and reason.startswith("F5-TTS weights not found")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # one banner
    banner = warnings[0].getMessage()
    assert "RUNNING ON THE espeak-ng FALLBACK ENGINE" in banner and f"\nReason: {reason}\n" in banner
    assert "python -m ishowtts download --model F5TTS_v1_Base" in banner  # the full explanation is logged
    assert warnings[0].fields["fallback_reason"] == reason  # the log field is the same complete reason


def test_fallback_reason_is_one_complete_line(empty_hf_cache) -> None:
    """Not the first line of a longer message (which ended in "... download`. Missing:")."""
    _, reason = build_backend(EngineConfig(kind="auto"))
    assert reason is not None and "\n" not in reason
    assert not reason.rstrip().endswith(":") and "Missing:" not in reason
    for name in ("model_1250000.safetensors", "vocab.txt", "config.yaml", "pytorch_model.bin"):
        assert name in reason  # every missing file is named
    assert f"looked in {empty_hf_cache} and the config's [engine] ckpt/vocab/vocoder" in reason
    assert reason.endswith("run `python -m ishowtts download` or set those keys")


def test_fallback_reason_names_an_explicit_missing_file(tmp_path: Path, empty_hf_cache) -> None:
    missing = tmp_path / "nope.safetensors"
    _, reason = build_backend(EngineConfig(kind="auto", model="tiny", ckpt=missing))
    assert reason is not None and str(missing) in reason and "\n" not in reason


def test_fallback_reason_of_other_failures_is_whole() -> None:
    reason = factory.fallback_reason(RuntimeError("CUDA error: out of memory\nwhile loading the DiT"))
    assert reason == "F5 engine unavailable: CUDA error: out of memory while loading the DiT"


def test_labels_agree_with_the_fallback_flag(empty_hf_cache) -> None:
    chosen, reason = build_backend(EngineConfig(kind="espeak"))
    assert (chosen.label, reason) == ("espeak-ng", None)
    fallen, reason = build_backend(EngineConfig(kind="auto"))
    assert fallen.name == "espeak" and fallen.label == "espeak-ng (fallback)" and reason


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
    assert backend.name == "espeak" and backend.label == "espeak-ng" and reason is None


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
    assert backend.default_nfe == 4  # engine.nfe reaches the engine


@pytest.mark.slow
def test_build_batches_f5_by_default_on_the_cpu(tmp_path: Path, empty_hf_cache) -> None:
    """The default config gives F5 the static renderer and a scheduler that batches up to max_batch,
    with graph capture off (batching is on by default on every device)."""
    from ishowtts.config import Config
    from ishowtts.engine import random_weights
    from ishowtts.engine.factory import build

    paths = random_weights.save_random_checkpoint(tmp_path / "w", config="tiny")
    engine = EngineConfig(
        model="tiny", ckpt=Path(paths["ckpt"]), vocab=Path(paths["vocab"]), vocoder=Path(paths["vocoder"]),
        device="cpu",
    )  # fmt: skip
    backend, scheduler, reason = build(Config(engine=engine))
    assert reason is None and backend.name == "f5"
    assert backend.info()["render"]["renderer"] == "static" and backend.info()["render"]["graphs"] is False
    assert scheduler.can_batch and scheduler.max_batch == defaults.MAX_BATCH
    assert scheduler.batch_window_s == pytest.approx(defaults.BATCH_WINDOW_MS / 1000)
    eager = EngineConfig(**{**engine.__dict__, "renderer": "eager"})
    _, scheduler, _ = build(Config(engine=eager))
    assert not scheduler.can_batch  # the eager renderer renders one request at a time


def test_engine_options_carry_every_engine_key() -> None:
    from ishowtts.engine.factory import engine_options

    cfg = EngineConfig(
        device="cpu", dtype="bf16", nfe=9, renderer="eager", buckets=[300, 600], max_batch=3, graphs=None,
        compile=False, quantize=None, memory_cap=0.5,
    )  # fmt: skip
    o = engine_options(cfg)
    assert (o.device, o.dtype, o.nfe_step, o.renderer, o.buckets, o.max_batch, o.graphs, o.memory_cap) == (
        "cpu", "bf16", 9, "eager", (300, 600), 3, None, 0.5,
    )  # fmt: skip
    d = engine_options(EngineConfig())
    assert (d.renderer, d.buckets, d.max_batch, d.graphs, d.nfe_step, d.quantize) == (
        defaults.RENDERER, defaults.BUCKETS, defaults.MAX_BATCH, defaults.GRAPHS, defaults.NFE_STEP, defaults.QUANTIZE,
    )  # fmt: skip
