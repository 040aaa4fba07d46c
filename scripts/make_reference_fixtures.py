"""Write the upstream parity fixtures under ``tests/fixtures/``.

Run with the reference venv (f5-tts 1.1.22, vocos 0.1.0, torch + torchaudio), never with our package::

    /work/refvenv/bin/python scripts/make_reference_fixtures.py [--out tests/fixtures] [--check]

Everything is computed on CPU in fp32 with one thread and fixed seeds, so a rerun writes the same bytes
(``--check`` regenerates into a temporary directory and fails if any file differs). The format is
described in ``tests/fixtures/README.md``. Every parameter of the upstream models is re-randomised,
including the layers upstream initialises to zero (adaLN, ``norm_out``, ``proj_out``), so the fixtures
actually exercise every weight.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import logging
import math
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

log = logging.getLogger("make_reference_fixtures")

UPSTREAM_VERSIONS = {"f5_tts": "1.1.22", "vocos": "0.1.0"}

# ---------------------------------------------------------------------------------------------------------
# vocab and configs
# ---------------------------------------------------------------------------------------------------------

PINYIN = [
    "ni3", "hao3", "shi4", "de5", "wo3", "men5", "zhong1", "guo2", "ren2", "da4",
    "jia1", "xie4", "zai4", "jian4", "bu4", "ma5", "le5", "yi1", "er4", "san1",
    "lü4", "nü3", "zhi1", "chi1", "ri4", "xue2", "sheng1", "kuai4", "qing3", "zao3",
]  # fmt: skip
CJK_PUNCT = ["，", "。", "！", "？", "、", "：", "；"]


def build_vocab() -> list[str]:
    """Line 0 is ' ' (upstream maps unknown symbols to id 0), then ASCII, pinyin and CJK punctuation."""
    ascii_syms = [chr(c) for c in range(33, 127)]  # printable ASCII without space
    vocab = [" ", *ascii_syms, *PINYIN, *CJK_PUNCT]
    assert len(set(vocab)) == len(vocab)
    return vocab


def model_configs(vocab_size: int) -> dict[str, dict[str, Any]]:
    common: dict[str, Any] = {
        "dim": 64,
        "depth": 2,
        "heads": 4,
        "dim_head": 16,
        "ff_mult": 2,
        "text_dim": 32,
        "conv_layers": 2,
        "qk_norm": None,
        "text_num_embeds": vocab_size,
        "mel_dim": 100,
    }
    return {
        "tiny_v1": {**common, "text_mask_padding": True, "pe_attn_head": None},
        "tiny_base": {**common, "text_mask_padding": False, "pe_attn_head": 1},
    }


VOCOS_CONFIG: dict[str, Any] = {
    "feature_extractor": {
        "class_path": "vocos.feature_extractors.MelSpectrogramFeatures",
        "init_args": {
            "sample_rate": 24000,
            "n_fft": 1024,
            "hop_length": 256,
            "n_mels": 100,
            "padding": "center",
        },
    },
    "backbone": {
        "class_path": "vocos.models.VocosBackbone",
        "init_args": {"input_channels": 100, "dim": 32, "intermediate_dim": 64, "num_layers": 2},
    },
    "head": {
        "class_path": "vocos.heads.ISTFTHead",
        "init_args": {"dim": 32, "n_fft": 1024, "hop_length": 256, "padding": "center"},
    },
}

# ---------------------------------------------------------------------------------------------------------
# weight randomisation
# ---------------------------------------------------------------------------------------------------------


def randomise_parameters(module: torch.nn.Module, generator: torch.Generator) -> None:
    """Redraw every parameter so activations stay O(1).

    Matrices / conv kernels: N(0, 1/fan_in) (fan_in = numel of one output row), so each layer keeps unit
    scale. Embeddings: N(0, 1). Vectors: norm scales 1 + N(0, 0.1), everything else (biases, GRN
    gamma/beta, Vocos layer scale) N(0, 0.1).
    """
    with torch.no_grad():
        for name, p in module.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            is_vector = p.ndim == 1 or all(s == 1 for s in p.shape[:-1])
            if isinstance(_owner(module, name), torch.nn.Embedding):
                p.copy_(torch.randn(p.shape, generator=generator))
            elif not is_vector:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=generator) / math.sqrt(fan_in))
            elif leaf == "weight" and isinstance(_owner(module, name), torch.nn.LayerNorm):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=generator))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=generator))


def _owner(root: torch.nn.Module, param_name: str) -> torch.nn.Module:
    path = param_name.rsplit(".", 1)[0] if "." in param_name else ""
    return root.get_submodule(path) if path else root


def _stats(t: torch.Tensor) -> str:
    return f"shape={tuple(t.shape)} std={t.std().item():.4g} absmax={t.abs().max().item():.4g}"


def _require(cond: bool, what: str) -> None:
    if not cond:
        raise SystemExit(f"fixture sanity check failed: {what}")


# ---------------------------------------------------------------------------------------------------------
# F5 (DiT + CFM)
# ---------------------------------------------------------------------------------------------------------


def build_cfm(cfg: dict[str, Any], vocab: list[str], seed: int) -> torch.nn.Module:
    from f5_tts.model import CFM, DiT

    torch.manual_seed(seed)
    transformer = DiT(**cfg)  # arch keys + text_num_embeds + mel_dim, exactly as upstream's load_model
    cfm = CFM(
        transformer=transformer,
        mel_spec_kwargs=dict(
            n_fft=1024,
            hop_length=256,
            win_length=1024,
            n_mel_channels=100,
            target_sample_rate=24000,
            mel_spec_type="vocos",
        ),
        odeint_kwargs=dict(method="euler"),
        vocab_char_map={s: i for i, s in enumerate(vocab)},
    )
    randomise_parameters(cfm, torch.Generator().manual_seed(seed + 1))
    return cfm.eval()


def ema_state_dict(cfm: torch.nn.Module, *, old_mel_keys: bool) -> dict[str, torch.Tensor]:
    """The dict upstream's trainer stores as ``ema_model_state_dict`` (ema_pytorch's EMA.state_dict()).

    ``old_mel_keys`` adds the two mel front-end buffers that checkpoints from before upstream commit
    305e3ea (e.g. the released F5TTS_Base model_1200000.pt) carry and that upstream's load_checkpoint
    deletes.
    """
    from ema_pytorch import EMA

    ema = EMA(cfm, include_online_model=False)
    ema.copy_params_from_model_to_ema()
    sd = {k: v.detach().clone().contiguous() for k, v in ema.state_dict().items()}
    if old_mel_keys:
        import torchaudio

        mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=24000,
            n_fft=1024,
            win_length=1024,
            hop_length=256,
            n_mels=100,
            power=1,
            center=True,
            normalized=False,
            norm=None,
        )
        sd["ema_model.mel_spec.mel_stft.spectrogram.window"] = mel.spectrogram.window.clone()
        sd["ema_model.mel_spec.mel_stft.mel_scale.fb"] = mel.mel_scale.fb.clone()
    return sd


def check_upstream_loads(cfg: dict[str, Any], vocab: list[str], ckpt: Path, ref: torch.nn.Module) -> None:
    """Upstream's own load_checkpoint must load the file strictly and reproduce the weights."""
    from f5_tts.infer.utils_infer import load_checkpoint

    fresh = build_cfm(cfg, vocab, seed=12345)
    fresh = load_checkpoint(fresh, str(ckpt), "cpu", dtype=torch.float32, use_ema=True)
    for (ka, a), (kb, b) in zip(fresh.state_dict().items(), ref.state_dict().items(), strict=True):
        _require(ka == kb and torch.equal(a, b), f"upstream reload of {ckpt.name} differs at {ka}")


def dit_forward_case(cfm: torch.nn.Module, vocab: list[str], seed: int) -> dict[str, torch.Tensor]:
    from f5_tts.model.utils import list_str_to_idx

    g = torch.Generator().manual_seed(seed)
    b, n = 2, 40
    x = torch.randn(b, n, 100, generator=g)
    cond = torch.randn(b, n, 100, generator=g) * 2.0 - 4.0  # log-mel-like scale
    cond[:, 25:] = 0.0  # reference part then zeros, as in sampling
    texts = [[*"Hello, world!", " ", "ni3", " ", "hao3", "。"], [*"ok ", "shi4", "de5"]]
    text = list_str_to_idx(texts, {s: i for i, s in enumerate(vocab)})  # -1 padded
    time = torch.tensor([0.3, 0.85])
    mask = torch.ones(b, n, dtype=torch.bool)
    mask[1, 33:] = False  # batch padding as upstream batch inference passes it
    dit = cfm.transformer
    outs = {}
    with torch.no_grad():
        for key, dac, dt in [
            ("out_cond", False, False),
            ("out_uncond", True, True),
            ("out_drop_audio", True, False),
        ]:
            dit.clear_cache()
            outs[key] = dit(
                x=x,
                cond=cond,
                text=text,
                time=time,
                mask=mask,
                drop_audio_cond=dac,
                drop_text=dt,
                cache=False,
            )
    dit.clear_cache()
    for key, t in outs.items():
        log.info("dit_forward %s %s", key, _stats(t))
        _require(t.abs().max() > 0.1 and t.std() > 0.05, f"{key} trivially small")
        _require(bool(torch.isfinite(t).all()), f"{key} not finite")
    _require(not torch.allclose(outs["out_cond"], outs["out_uncond"], atol=1e-3), "out_cond == out_uncond")
    _require(
        not torch.allclose(outs["out_cond"], outs["out_drop_audio"], atol=1e-3), "out_cond == out_drop_audio"
    )
    _require(
        not torch.allclose(outs["out_uncond"], outs["out_drop_audio"], atol=1e-3), "drop_text had no effect"
    )
    return {"x": x, "cond": cond, "text": text.to(torch.int64), "time": time, "mask": mask, **outs}


SAMPLE_TEXT = [*"Hi, ", "ni3", " ", "hao3", "，", " ", *"TTS", "é", "！"]  # "é" is OOV -> id 0


def cfm_sample_case(
    cfm: torch.nn.Module, *, n_ref: int, duration: int, steps: int, seed: int, cond_seed: int
) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(cond_seed)
    cond = torch.randn(1, n_ref, 100, generator=g) * 2.0 - 4.0
    with torch.no_grad():
        out, trajectory = cfm.sample(
            cond=cond,
            text=[SAMPLE_TEXT],
            duration=duration,
            steps=steps,
            cfg_strength=2.0,
            sway_sampling_coef=-1.0,
            seed=seed,
        )
    noise = trajectory[0]
    # the noise upstream drew: torch.manual_seed(seed); torch.randn(duration, 100)
    torch.manual_seed(seed)
    _require(torch.equal(noise[0], torch.randn(duration, 100)), "recorded noise is not upstream's draw")
    _require(out.shape == (1, duration, 100), f"unexpected sample shape {tuple(out.shape)}")
    _require(torch.equal(out[:, :n_ref], cond), "reference frames not copied through")
    gen = out[:, n_ref:]
    log.info("cfm_sample steps=%d generated %s", steps, _stats(gen))
    _require(bool(torch.isfinite(out).all()), "sample not finite")
    _require(gen.std() > 0.05, "generated part trivially small")
    _require((gen - noise[:, n_ref:]).abs().max() > 0.1, "sample equals its noise")
    return {"cond": cond, "duration": torch.tensor(duration, dtype=torch.int64), "out": out, "noise": noise}


# ---------------------------------------------------------------------------------------------------------
# Vocos and mel
# ---------------------------------------------------------------------------------------------------------


def write_vocos(out_dir: Path, seed: int) -> torch.nn.Module:
    import yaml
    from vocos import Vocos

    vdir = out_dir / "vocos_tiny"
    vdir.mkdir(parents=True, exist_ok=True)
    cfg_path = vdir / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(VOCOS_CONFIG, sort_keys=False))
    torch.manual_seed(seed)
    model = Vocos.from_hparams(str(cfg_path))
    randomise_parameters(model, torch.Generator().manual_seed(seed + 1))
    model.eval()
    sd = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    torch.save(sd, vdir / "pytorch_model.bin")
    # reload exactly like upstream's load_vocoder(is_local=True) / from_pretrained
    reloaded = Vocos.from_hparams(str(cfg_path))
    reloaded.load_state_dict(torch.load(vdir / "pytorch_model.bin", map_location="cpu", weights_only=True))
    return reloaded.eval()


def vocos_decode_case(vocos: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    t = 20
    mel = torch.randn(1, 100, t, generator=g) * 1.5 - 3.0
    audio = vocos.decode(mel).clone()
    log.info("vocos_decode audio %s", _stats(audio))
    _require(audio.shape == (1, (t - 1) * 256), f"unexpected audio shape {tuple(audio.shape)}")
    _require(audio.std() > 1e-3 and audio.abs().max() < 50, "vocos output trivially small or blown up")
    return {"mel": mel, "audio": audio}


def mel_case(seed: int) -> dict[str, torch.Tensor]:
    from f5_tts.model.modules import MelSpec

    sr, n = 24000, 12000
    tt = torch.arange(n, dtype=torch.float64) / sr
    f0, f1, dur = 100.0, 6000.0, n / sr
    phase = 2 * math.pi * (f0 * tt + (f1 - f0) / (2 * dur) * tt**2)
    g = torch.Generator().manual_seed(seed)
    audio = (0.5 * torch.sin(phase)).float() + 0.02 * torch.randn(n, generator=g)
    audio = audio.unsqueeze(0)
    mel = MelSpec(mel_spec_type="vocos")(audio)
    log.info("mel %s", _stats(mel))
    _require(mel.shape == (1, 100, n // 256 + 1), f"unexpected mel shape {tuple(mel.shape)}")
    return {"audio": audio, "mel": mel}


# ---------------------------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------------------------


def save(tensors: dict[str, torch.Tensor], path: Path) -> None:
    save_file({k: v.detach().contiguous() for k, v in tensors.items()}, str(path))


def generate(out_dir: Path) -> None:
    import f5_tts  # noqa: F401
    import torchaudio
    import vocos

    torch.set_num_threads(1)  # bitwise reproducible reductions
    out_dir.mkdir(parents=True, exist_ok=True)
    vocab = build_vocab()
    (out_dir / "vocab_tiny.txt").write_text("".join(s + "\n" for s in vocab), encoding="utf-8")
    configs = model_configs(len(vocab))
    manifest: dict[str, Any] = {
        "upstream": {
            **UPSTREAM_VERSIONS,
            "f5_tts_installed": _dist_version("f5-tts"),
            "vocos_installed": getattr(vocos, "__version__", "?"),
            "torch": torch.__version__,
            "torchaudio": torchaudio.__version__,
        },
        "vocab": "vocab_tiny.txt",
        "configs": configs,
        "checkpoints": {"tiny_v1": "f5_tiny_v1.safetensors", "tiny_base": "f5_tiny_base.pt"},
        "vocos": {"dir": "vocos_tiny", "config": VOCOS_CONFIG},
        "cases": {},
    }
    cases = manifest["cases"]

    for ci, (cname, cfg) in enumerate(configs.items()):
        cfm = build_cfm(cfg, vocab, seed=1000 + 100 * ci)
        ckpt = out_dir / manifest["checkpoints"][cname]
        if cname == "tiny_v1":
            save(ema_state_dict(cfm, old_mel_keys=False), ckpt)
        else:
            torch.save({"ema_model_state_dict": ema_state_dict(cfm, old_mel_keys=True)}, ckpt)
        check_upstream_loads(cfg, vocab, ckpt, cfm)

        case = f"dit_forward_{cname}"
        save(dit_forward_case(cfm, vocab, seed=2000 + ci), out_dir / f"{case}.safetensors")
        cases[case] = {"file": f"{case}.safetensors", "config": cname, "cache": False}

        samples = {}
        for steps in (7, 16):
            case = f"cfm_sample_{cname}_nfe{steps}"
            seed = 4242 + ci
            tensors = cfm_sample_case(cfm, n_ref=30, duration=60, steps=steps, seed=seed, cond_seed=3000 + ci)
            samples[steps] = tensors["out"]
            save(tensors, out_dir / f"{case}.safetensors")
            cases[case] = {
                "file": f"{case}.safetensors",
                "config": cname,
                "text": [SAMPLE_TEXT],
                "seed": seed,
                "steps": steps,
                "cfg_strength": 2.0,
                "sway_sampling_coef": -1.0,
                "use_epss": True,
                "ode_method": "euler",
            }
        diff = (samples[7] - samples[16]).abs().max().item()
        log.info("cfm_sample %s nfe7 vs nfe16 max abs diff %.4g", cname, diff)
        _require(diff > 1e-2, "sample output identical for nfe 7 and 16")

    vocos_model = write_vocos(out_dir, seed=5000)
    save(vocos_decode_case(vocos_model, seed=5100), out_dir / "vocos_decode.safetensors")
    cases["vocos_decode"] = {"file": "vocos_decode.safetensors", "vocos": "vocos_tiny"}
    save(mel_case(seed=6000), out_dir / "mel.safetensors")
    cases["mel"] = {
        "file": "mel.safetensors",
        "mel_spec_type": "vocos",
        "sample_rate": 24000,
        "n_fft": 1024,
        "hop_length": 256,
        "win_length": 1024,
        "n_mels": 100,
    }

    (out_dir / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    total = sum(p.stat().st_size for p in out_dir.rglob("*") if p.is_file())
    log.info("fixtures written to %s total_bytes=%d", out_dir, total)


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


GENERATED = [
    "manifest.json", "vocab_tiny.txt", "f5_tiny_v1.safetensors", "f5_tiny_base.pt",
    "dit_forward_tiny_v1.safetensors", "dit_forward_tiny_base.safetensors",
    "cfm_sample_tiny_v1_nfe7.safetensors", "cfm_sample_tiny_v1_nfe16.safetensors",
    "cfm_sample_tiny_base_nfe7.safetensors", "cfm_sample_tiny_base_nfe16.safetensors",
    "vocos_tiny/config.yaml", "vocos_tiny/pytorch_model.bin", "vocos_decode.safetensors", "mel.safetensors",
]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "tests" / "fixtures")
    ap.add_argument("--check", action="store_true", help="regenerate into a temp dir and compare with --out")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.check:
        generate(args.out)
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="fixtures_check_"))
    try:
        generate(tmp)
        differ = [f for f in GENERATED if not filecmp.cmp(tmp / f, args.out / f, shallow=False)]
    finally:
        shutil.rmtree(tmp)
    if differ:
        log.error("fixtures differ from a fresh run: %s", differ)
        return 1
    log.info("fixtures reproduce bit for bit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
