"""Strict checkpoint loading: both upstream formats, state dicts, mismatches with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from ishowtts.model import CheckpointMismatchError, load_f5, load_vocos, random_f5, random_vocos
from ishowtts.model.configs import F5Config, resolve_config

from .conftest import Fixtures


def _same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_safetensors_ema_layout_loads_strictly(fixtures: Fixtures) -> None:
    model = load_f5(fixtures.checkpoint("tiny_v1"), fixtures.arch("tiny_v1"), vocab=fixtures.vocab_path)
    raw = fixtures.tensors(fixtures.manifest["checkpoints"]["tiny_v1"])
    expected = {
        k.removeprefix("ema_model."): v for k, v in raw.items() if k.startswith("ema_model.transformer.")
    }
    assert _same_weights(model.upstream_state_dict(), expected)
    assert len(model.vocab) == 132 and model.config.text_mask_padding


def test_pt_layout_drops_ema_bookkeeping_and_mel_buffers(fixtures: Fixtures) -> None:
    path = fixtures.checkpoint("tiny_base")
    raw = torch.load(path, map_location="cpu", weights_only=True)["ema_model_state_dict"]
    assert {"initted", "step"} <= raw.keys() and any(k.startswith("ema_model.mel_spec.") for k in raw)
    model = load_f5(path, fixtures.arch("tiny_base"))
    expected = {
        k.removeprefix("ema_model."): v for k, v in raw.items() if k.startswith("ema_model.transformer.")
    }
    assert _same_weights(model.upstream_state_dict(), expected)
    assert model.config.pe_attn_head == 1 and not model.config.text_mask_padding


def test_state_dict_input_and_bare_dit_keys(fixtures: Fixtures) -> None:
    ref = load_f5(fixtures.checkpoint("tiny_v1"), fixtures.arch("tiny_v1"))
    sd = ref.upstream_state_dict()
    again = load_f5(sd, fixtures.arch("tiny_v1"))
    assert _same_weights(again.upstream_state_dict(), sd)
    with torch.no_grad():
        again.transformer.proj_out.weight.zero_()
    assert ref.transformer.proj_out.weight.abs().max() > 0  # loading from a dict never aliases it
    bare = {k.removeprefix("transformer."): v for k, v in sd.items()}
    assert _same_weights(load_f5(bare, fixtures.arch("tiny_v1")).upstream_state_dict(), sd)


def test_text_num_embeds_inferred_from_checkpoint_or_vocab(fixtures: Fixtures) -> None:
    arch = fixtures.arch("tiny_v1")
    del arch["text_num_embeds"]
    assert load_f5(fixtures.checkpoint("tiny_v1"), arch).config.text_num_embeds == 132
    assert (
        load_f5(fixtures.checkpoint("tiny_v1"), arch, vocab=fixtures.vocab_path).config.text_num_embeds == 132
    )


def test_mismatched_config_names_keys_and_config(fixtures: Fixtures) -> None:
    arch = fixtures.arch("tiny_v1") | {"depth": 3, "text_dim": 48}
    with pytest.raises(CheckpointMismatchError) as err:
        load_f5(fixtures.checkpoint("tiny_v1"), arch)
    msg = str(err.value)
    assert "missing" in msg and "transformer.transformer_blocks.2." in msg
    assert "mis-shaped" in msg and "text_embed" in msg
    assert "depth=3" in msg and "text_dim=48" in msg  # says which config was assumed


def test_named_config_against_tiny_checkpoint_fails_clearly(fixtures: Fixtures) -> None:
    with pytest.raises(CheckpointMismatchError, match="F5TTS_v1_Base"):
        load_f5(fixtures.checkpoint("tiny_v1"), "F5TTS_v1_Base")


def test_unexpected_keys_are_reported(fixtures: Fixtures, tmp_path: Path) -> None:
    raw = fixtures.tensors(fixtures.manifest["checkpoints"]["tiny_v1"])
    raw["ema_model.transformer.extra.weight"] = torch.zeros(3)
    path = tmp_path / "bad.safetensors"
    save_file(raw, str(path))
    with pytest.raises(CheckpointMismatchError, match=r"1 unexpected key\(s\): transformer\.extra\.weight"):
        load_f5(path, fixtures.arch("tiny_v1"))


def test_vocab_size_must_match_config(fixtures: Fixtures, tmp_path: Path) -> None:
    small = tmp_path / "vocab.txt"
    small.write_text(" \na\nb\n", encoding="utf-8")
    with pytest.raises(ValueError, match="vocab has 3 symbols"):
        load_f5(fixtures.checkpoint("tiny_v1"), fixtures.arch("tiny_v1"), vocab=small)


def test_missing_file_and_bad_config() -> None:
    with pytest.raises(FileNotFoundError):
        load_f5("/nonexistent/model.safetensors")
    with pytest.raises(ValueError, match="unknown F5 config"):
        resolve_config("F5TTS_v9")
    with pytest.raises(ValueError, match="unknown F5 config keys"):
        resolve_config({"dim": 64, "depth": 2, "heads": 4, "bogus": 1})
    with pytest.raises(ValueError, match="lacks required keys"):
        resolve_config({"dim": 64})


def test_named_configs_match_upstream_architecture() -> None:
    v1 = resolve_config("F5TTS_v1_Base")
    assert (v1.dim, v1.depth, v1.heads, v1.dim_head, v1.ff_mult, v1.text_dim, v1.conv_layers) == (
        1024,
        22,
        16,
        64,
        2,
        512,
        4,
    )
    assert v1.text_mask_padding and v1.pe_attn_head is None and v1.text_num_embeds == 2545
    base = resolve_config("F5TTS_Base")
    assert not base.text_mask_padding and base.pe_attn_head == 1
    # upstream DiT constructor defaults apply to keys an arch dict leaves out
    d = resolve_config({"dim": 64, "depth": 1, "heads": 2})
    assert (d.dim_head, d.ff_mult, d.conv_layers, d.text_dim) == (64, 4, 0, 100)
    assert isinstance(resolve_config(v1), F5Config)


def test_v1_base_parameter_count() -> None:
    """~337 M parameters as documented upstream (built on the meta device: no memory)."""
    from ishowtts.model import F5Model

    with torch.device("meta"):
        model = F5Model(resolve_config("F5TTS_v1_Base"))
    n = sum(p.numel() for p in model.parameters())
    assert 330e6 < n < 345e6


def test_upstream_state_dict_round_trip(tmp_path: Path) -> None:
    model = random_f5("tiny", vocab_size=40, seed=3)
    path = tmp_path / "ckpt.pt"
    sd = {f"ema_model.{k}": v for k, v in model.upstream_state_dict().items()} | {
        "initted": torch.tensor(True),
        "step": torch.tensor(7),
    }
    torch.save({"ema_model_state_dict": sd}, path)
    loaded = load_f5(path, "tiny")
    assert loaded.config.text_num_embeds == 40
    assert _same_weights(loaded.upstream_state_dict(), model.upstream_state_dict())


def test_vocos_dir_ignores_feature_extractor(fixtures: Fixtures) -> None:
    vdir = fixtures.root / fixtures.manifest["vocos"]["dir"]
    raw = torch.load(vdir / "pytorch_model.bin", map_location="cpu", weights_only=True)
    assert any(k.startswith("feature_extractor.") for k in raw)
    dec = load_vocos(vdir)
    assert dec.config.dim == 32 and dec.config.num_layers == 2
    from_sd = load_vocos(raw, fixtures.manifest["vocos"]["config"])
    assert _same_weights(dec.state_dict(), from_sd.state_dict())


def test_vocos_mismatch_is_clear(fixtures: Fixtures) -> None:
    vdir = fixtures.root / fixtures.manifest["vocos"]["dir"]
    raw = torch.load(vdir / "pytorch_model.bin", map_location="cpu", weights_only=True)
    with pytest.raises(CheckpointMismatchError, match=r"mis-shaped.*backbone\.embed\.weight"):
        load_vocos(raw)  # default config is the 512-dim mel-24khz model
    model = random_vocos(seed=1)
    sd = model.state_dict()
    del sd["backbone.convnext.7.gamma"]
    with pytest.raises(CheckpointMismatchError, match=r"missing key\(s\): backbone\.convnext\.7\.gamma"):
        load_vocos(sd)
