"""Vocab, mel front end, Vocos decoder and random initialisation."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ishowtts.model import F5Model, VocosDecoder, log_mel_spectrogram, random_f5, random_vocos, resolve_config
from ishowtts.model.mel import htk_mel_filterbank
from ishowtts.text.vocab import PAD_ID, Vocab

from .conftest import Fixtures

# ---------------------------------------------------------------------------------------------- vocab


def test_vocab_file_line_index_is_id(tmp_path: Path) -> None:
    path = tmp_path / "vocab.txt"
    path.write_text(" \na\nni3\n，\n", encoding="utf-8")
    v = Vocab.from_file(path)
    assert len(v) == 4 and v.symbols == [" ", "a", "ni3", "，"]
    assert v.encode(["ni3", "a", "zzz", " "]) == [2, 1, 0, 0]  # unknown -> 0
    assert v.encode("a，") == [1, 3]  # a string maps character by character


def test_vocab_batch_ids_are_minus_one_padded(fixtures: Fixtures) -> None:
    v = Vocab.from_file(fixtures.vocab_path)
    assert len(v) == fixtures.manifest["configs"]["tiny_v1"]["text_num_embeds"]
    ids = v.batch_ids(["Hi", ["ni3", "hao3", "é"]])
    assert ids.dtype == torch.long and ids.shape == (2, 3)
    assert ids[0, 2] == PAD_ID and ids[1, 2] == 0  # padding -1, out-of-vocab 0
    assert ids[1, 0] == v.index["ni3"] and ids[0, 0] == v.index["H"]
    with pytest.raises(TypeError):
        v.batch_ids("not a list")


def test_vocab_coerce_and_duplicates() -> None:
    assert Vocab.coerce({" ": 0, "b": 1}).symbols == [" ", "b"]
    dup = Vocab([" ", "a", "a"])
    assert len(dup) == 2 and dup.index["a"] == 2  # last line wins, like upstream's dict
    with pytest.raises(ValueError):
        Vocab([])


# ------------------------------------------------------------------------------------------------ mel


def test_filterbank_shape_and_triangles() -> None:
    fb = htk_mel_filterbank()
    assert fb.shape == (513, 100) and (fb >= 0).all() and fb.max() <= 1.0
    assert (fb.sum(dim=0) > 0).all()  # no empty band at 24 kHz / 1024 bins
    peaks = fb.argmax(dim=0)
    assert (peaks[1:] >= peaks[:-1]).all()  # bands ascend in frequency


def test_log_mel_shape_tone_and_errors() -> None:
    sr, f = 24000, 1000.0
    t = torch.arange(sr // 2) / sr
    mel = log_mel_spectrogram(0.5 * torch.sin(2 * torch.pi * f * t))
    assert mel.shape == (1, 100, 1 + (sr // 2) // 256)
    fb = htk_mel_filterbank()
    band = int(fb[round(f / (sr / 1024))].argmax())
    assert int(mel[0, :, 10:-10].mean(dim=-1).argmax()) == band  # energy lands in the 1 kHz band
    silent = log_mel_spectrogram(torch.zeros(2, 4000))
    assert silent.shape[0] == 2 and torch.allclose(silent, torch.log(torch.tensor(1e-5)))
    with pytest.raises(ValueError):
        log_mel_spectrogram(torch.zeros(100))
    assert log_mel_spectrogram(torch.zeros(1000, dtype=torch.float16)).dtype == torch.float32


# ---------------------------------------------------------------------------------------------- vocos


def test_vocos_decode_length_and_validation() -> None:
    dec = random_vocos(seed=0)
    assert isinstance(dec, VocosDecoder)
    audio = dec.decode(torch.randn(2, 100, 12))
    assert audio.shape == (2, 11 * 256) and torch.isfinite(audio).all() and audio.std() > 0
    with pytest.raises(ValueError):
        dec.decode(torch.randn(1, 80, 12))


# ----------------------------------------------------------------------------------------- random init


def test_random_f5_randomises_every_parameter_incl_zero_inits() -> None:
    model = random_f5("tiny", vocab_size=30, seed=0)
    fresh = F5Model(resolve_config("tiny", text_num_embeds=30))
    fresh_sd = dict(fresh.named_parameters())
    for name, p in model.named_parameters():
        assert not torch.equal(p, fresh_sd[name].to(p.dtype)) or p.numel() == 0, name
        assert p.std() > 0 if p.numel() > 1 else True, name
    assert model.transformer.proj_out.weight.abs().max() > 0  # upstream zero-inits this one
    again = random_f5("tiny", vocab_size=30, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters(), strict=True))


def test_random_models_give_nontrivial_outputs() -> None:
    model = random_f5("tiny", vocab_size=30, seed=1)
    out = model.transformer(
        torch.randn(1, 20, 100), torch.randn(1, 20, 100), torch.tensor([[1, 2, 3]]), torch.tensor(0.5)
    )
    assert torch.isfinite(out).all() and 0.1 < out.std() < 100
