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
from ishowtts.engine.engine import Engine
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
        ckpt["ckpt"], vocab=ckpt["vocab"], vocoder=ckpt["vocoder"], config="tiny", device="cpu"
    )
    expected = engine.synthesize(
        "Hello from the command line.", engine.prepare_voice(ref_wav, REF_TEXT), nfe=2, seed=5
    )
    assert len(audio) == len(expected)
    np.testing.assert_allclose(audio, np.clip(expected, -1, 1), atol=1.5 / 32768)  # 16-bit PCM


def test_synth_subprocess(ckpt: dict[str, str], ref_wav: Path, tmp_path: Path) -> None:
    out = tmp_path / "sub.wav"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT / "python")}
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
