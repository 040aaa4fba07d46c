"""Regenerate ``data/upstream_pipeline.npz``: upstream's whole inference pipeline (reference preprocessing,
text layout, duration, chunking, RMS handling, vocoder slice) on our random tiny checkpoint.

Two stages, because upstream needs the reference venv (torch 2.9 + torchaudio) and the checkpoint is
written by our code in the dev venv::

    python tests/engine/make_upstream_pipeline_fixture.py prepare /tmp/upf        # dev venv
    /work/refvenv/bin/python tests/engine/make_upstream_pipeline_fixture.py upstream /tmp/upf

Upstream is only the oracle; package code never imports it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

SR = 24_000
SEED = 7
NFE = 16
CKPT_SEED = 5
STRIDE = 16  # keep every 16th output sample (the fixture stays small; lengths are kept exactly)
CASES = [
    # name, reference builder, reference text, generated text
    ("en", "loud", "Some reference words here", "Hello there, my friend."),
    ("zh_quiet", "quiet", "你好，这是参考音频", "主播今天玩得真好，加油！Let us go 吧。"),
]


def reference(kind: str) -> np.ndarray:
    """Deterministic int16 reference clips: a loud one with edge silence, a quiet one with a long gap."""
    t = np.arange(int((2.5 if kind == "loud" else 3.0) * SR)) / SR
    if kind == "loud":
        x = 0.3 * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) * np.sin(2 * np.pi * 220 * t)
        x = np.concatenate([np.zeros(int(0.3 * SR)), x, np.zeros(int(0.4 * SR))])
    else:
        x = 0.05 * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) * np.sin(2 * np.pi * 180 * t)
        x = np.concatenate(
            [np.zeros(int(0.2 * SR)), x, np.zeros(int(1.3 * SR)), x[:SR], np.zeros(int(0.5 * SR))]
        )
    return (x * 32767).astype(np.int16)


def prepare(work: Path) -> None:
    import soundfile as sf

    from ishowtts.engine.random_weights import save_random_checkpoint

    save_random_checkpoint(work / "ckpt", "tiny", seed=CKPT_SEED)
    for kind in ("loud", "quiet"):
        sf.write(work / f"{kind}.wav", reference(kind), SR, subtype="PCM_16")


def upstream(work: Path) -> None:
    import soundfile as sf
    import torch
    import torchaudio
    from f5_tts.infer.utils_infer import infer_process, load_model, preprocess_ref_audio_text
    from f5_tts.model import DiT
    from vocos import Vocos

    def _load(path: str) -> tuple[torch.Tensor, int]:  # torchaudio's codec backend is unavailable here
        data, sr = sf.read(path, dtype="float32", always_2d=True)
        return torch.from_numpy(data.T.copy()), sr

    torchaudio.load = _load
    arch = {"dim": 64, "depth": 2, "heads": 4, "dim_head": 16, "ff_mult": 2, "text_dim": 32, "conv_layers": 2}
    ckpt = work / "ckpt"
    model = load_model(
        DiT, arch, str(ckpt / "model.safetensors"), vocab_file=str(ckpt / "vocab.txt"), device="cpu"
    )
    voc = Vocos.from_hparams(str(ckpt / "vocos" / "config.yaml"))
    state = torch.load(ckpt / "vocos" / "pytorch_model.bin", map_location="cpu", weights_only=True)
    voc.load_state_dict(state, strict=False)  # our file has no feature-extractor buffers
    voc.eval()
    out: dict[str, np.ndarray] = {}
    for name, kind, ref_text, gen_text in CASES:
        ref_audio, ref_text_final = preprocess_ref_audio_text(
            str(work / f"{kind}.wav"), ref_text, show_info=lambda *a: None
        )
        torch.manual_seed(SEED)  # upstream draws the noise from the global RNG: the same numbers as seed=SEED
        wave, _, _ = infer_process(
            ref_audio, ref_text_final, gen_text, model, voc, nfe_step=NFE, cfg_strength=2.0,
            sway_sampling_coef=-1.0, speed=1.0, device="cpu", show_info=lambda *a: None, progress=None,
        )  # fmt: skip
        wave = np.asarray(wave, dtype=np.float32)
        out[f"{name}_len"] = np.array(len(wave))
        out[f"{name}_strided"] = wave[::STRIDE].copy()
    path = Path(__file__).parent / "data" / "upstream_pipeline.npz"
    np.savez_compressed(path, **out)
    print(f"wrote {path}")


if __name__ == "__main__":
    stage, work_dir = sys.argv[1], Path(sys.argv[2])
    work_dir.mkdir(parents=True, exist_ok=True)
    {"prepare": prepare, "upstream": upstream}[stage](work_dir)
