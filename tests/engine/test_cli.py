"""`python -m ishowtts synth` / `download` end to end on a random checkpoint in upstream layout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ishowtts.cli import main
from ishowtts.engine.backend import SynthesisParams
from ishowtts.engine.engine import Engine
from ishowtts.engine.options import EngineOptions
from ishowtts.engine.random_weights import save_random_checkpoint

from .conftest import REF_TEXT, SR, ref_clip

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return save_random_checkpoint(tmp_path_factory.mktemp("ckpt"), "tiny", seed=1)


@pytest.fixture(scope="module")
def ref_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ref") / "ref.wav"
    sf.write(path, ref_clip(), SR, subtype="FLOAT")
    return path


def _args(
    ckpt: dict[str, str], ref_wav: Path, out: Path, text: str = "Hello from the command line."
) -> list[str]:
    return [
        "synth", text, "--voice", str(ref_wav), "--ref-text", REF_TEXT, "-o", str(out),
        "--ckpt", ckpt["ckpt"], "--vocab", ckpt["vocab"], "--vocoder", ckpt["vocoder"], "--config", "tiny",
        "--nfe", "2", "--seed", "5", "--device", "cpu",
    ]  # fmt: skip


def test_synth_writes_the_engine_output(ckpt: dict[str, str], ref_wav: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    assert main(_args(ckpt, ref_wav, out)) == 0
    audio, rate = sf.read(out, dtype="float32")
    assert rate == SR
    engine = Engine.from_pretrained(
        ckpt["ckpt"], vocab=ckpt["vocab"], vocoder=ckpt["vocoder"], config="tiny", options=EngineOptions(device="cpu")
    )
    expected = engine.synthesize("Hello from the command line.", engine.prepare_voice(ref_wav, REF_TEXT), SynthesisParams(nfe_step=2, seed=5))
    assert len(audio) == len(expected)
    np.testing.assert_allclose(audio, np.clip(expected, -1, 1), atol=1.5 / 32768)  # 16-bit PCM


def test_synth_subprocess(ckpt: dict[str, str], ref_wav: Path, tmp_path: Path) -> None:
    out = tmp_path / "sub.wav"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}  # the installed package (its native core included)
    proc = subprocess.run(
        [sys.executable, "-m", "ishowtts", *_args(ckpt, ref_wav, out)],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert out.is_file() and sf.info(out).samplerate == SR
    assert "seed 5" in proc.stdout


def test_synth_missing_weights_is_clear(
    ref_wav: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["synth", "hi there", "--voice", str(ref_wav), "--ref-text", "x", "-o", str(tmp_path / "o.wav"),
               "--ckpt", str(tmp_path / "missing.safetensors")])  # fmt: skip
    assert rc == 1
    err = capsys.readouterr().err
    assert "missing.safetensors" in err and "python -m ishowtts download" in err
    assert 'python -m ishowtts synth "text" --engine espeak -o out.wav' in err  # the way on without weights


def test_synth_espeak_needs_no_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ishowtts.engine.backend import SynthesisParams
    from ishowtts.engine.espeak import EspeakBackend
    from ishowtts.voices.reference import VoiceReference

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    text = "Hello from espeak. A second sentence."
    out = tmp_path / "espeak.wav"
    assert main(["synth", text, "--engine", "espeak", "-o", str(out)]) == 0
    audio, rate = sf.read(out, dtype="float32")
    ref = VoiceReference(id="x", audio=None, sample_rate=0, text="", language="en")
    expected = EspeakBackend().synthesize(text, ref, SynthesisParams())
    assert rate == SR and len(audio) > SR  # over a second of speech
    assert abs(len(audio) - len(expected)) < 0.05 * len(expected)  # espeak-ng's, give or take its pauses
    assert float(np.sqrt(np.mean(audio**2))) > 0.01
    assert str(out) in capsys.readouterr().out


def test_synth_f5_needs_a_reference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth", "hi", "-o", str(tmp_path / "o.wav")]) == 2
    err = capsys.readouterr().err
    assert "--voice and --ref-text are required with --engine f5" in err and "--engine espeak" in err
    assert not (tmp_path / "o.wav").exists()


def test_synth_bad_voice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(
        [
            "synth",
            "hi",
            "--voice",
            str(tmp_path / "none.wav"),
            "--ref-text",
            "x",
            "-o",
            str(tmp_path / "o.wav"),
        ]
    )
    assert rc == 2 and "does not exist" in capsys.readouterr().err


def test_download_offline_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["download", "--model", "F5TTS_Base", "--cache-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "HF_HUB_OFFLINE" in err and "F5TTS_Base/model_1200000.safetensors" in err
    assert "python -m ishowtts download" not in err  # says what to do instead of "run me again"
    assert "[engine] ckpt" in err
    # the paths it names are where the files belong: put them there and the same command succeeds
    targets = [Path(line.split("-> ", 1)[1]) for line in err.splitlines() if line.strip().startswith("-> ")]
    assert len(targets) == 4 and all(str(t).startswith(str(tmp_path)) for t in targets)
    for t in targets:
        t.parent.mkdir(parents=True, exist_ok=True)
        t.write_bytes(b"x")
    assert main(["download", "--model", "F5TTS_Base", "--cache-dir", str(tmp_path)]) == 0
    assert f"checkpoint: {targets[0]}" in capsys.readouterr().out


def test_serve_prints_one_banner_with_the_reason_health_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`serve` without weights: one banner; its reason, the log field and /api/health are the same line."""
    import uvicorn
    from fastapi.testclient import TestClient
    from huggingface_hub import constants

    cache = tmp_path / "hf"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    served: list = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append(app))
    assert main(["serve", "--data-dir", str(tmp_path / "data"), "--port", "1"]) == 0
    err = capsys.readouterr().err
    assert (
        err.count("RUNNING ON THE espeak-ng FALLBACK ENGINE") == 1 and err.count("=" * 78) == 2
    )  # one banner
    reason = next(line for line in err.splitlines() if line.startswith("Reason: "))[len("Reason: ") :]
    assert reason.endswith("run `python -m ishowtts download` or set those keys") and str(cache) in reason
    assert f'fallback_reason="{reason}"' in err  # the log field: the same, whole
    with TestClient(served[0]) as client:
        health = client.get("/api/health").json()
    assert health["fallback"] is True and health["fallback_reason"] == reason
    assert health["engine_label"] == "espeak-ng (fallback)"
