"""CFM sampler: t grids, masking (padded == unpadded), seeds, host-sync-free loop, cancel hook, dtypes."""

from __future__ import annotations

import math

import pytest
import torch

from ishowtts.model import (
    EPSS_SCHEDULES,
    SamplingCancelled,
    euler_loop,
    prepare_sampling,
    random_f5,
    time_grid,
)

from .conftest import max_err

VOCAB = 60


@pytest.fixture(scope="module", params=["v1", "base"])
def model(request):
    cfg = {
        "v1": "tiny",
        "base": {
            "dim": 64,
            "depth": 2,
            "heads": 4,
            "dim_head": 16,
            "ff_mult": 2,
            "text_dim": 32,
            "conv_layers": 2,
            "text_mask_padding": False,
            "pe_attn_head": 1,
        },
    }[request.param]
    return random_f5(cfg, vocab_size=VOCAB, seed=11)


def _ids(*lengths: int, seed: int = 0) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(1, VOCAB, (n,), generator=g).tolist() for n in lengths]


# ------------------------------------------------------------------------------------------ t grid


@pytest.mark.parametrize("steps", sorted(EPSS_SCHEDULES))
def test_epss_schedules(steps: int) -> None:
    t = time_grid(steps, None)
    assert t.dtype == torch.float32 and t.shape == (steps + 1,)
    assert t.tolist() == [k / 32 for k in EPSS_SCHEDULES[steps]]
    assert t[0] == 0 and t[-1] == 1 and bool((t[1:] > t[:-1]).all())


@pytest.mark.parametrize("steps", (1, 8, 32))
def test_uniform_grid_when_no_schedule(steps: int) -> None:
    t = time_grid(steps, None)
    assert torch.allclose(t, torch.linspace(0, 1, steps + 1))
    assert torch.allclose(time_grid(7, None, use_epss=False), torch.linspace(0, 1, 8))


def test_sway_transform() -> None:
    base = time_grid(16, None)
    swayed = time_grid(16, -1.0)
    expected = torch.tensor([_sway(float(t), -1.0) for t in base])
    assert torch.allclose(swayed, expected, atol=1e-6)
    # s = -1 gives 1 - cos(pi t / 2): crowds the early steps, keeps the endpoints
    assert torch.allclose(swayed, 1 - torch.cos(math.pi / 2 * base), atol=1e-6)
    assert swayed[0] == 0 and abs(float(swayed[-1]) - 1) < 1e-6
    with pytest.raises(ValueError):
        time_grid(0)


# ------------------------------------------------------------------------------------------ masking


def test_dit_forward_padded_equals_unpadded(model) -> None:
    dit = model.transformer
    torch.manual_seed(0)
    n, bucket = 37, 52
    x, cond = torch.randn(1, n, 100), torch.randn(1, n, 100)
    text = torch.tensor(_ids(14))
    time = torch.tensor([0.4])
    pad = bucket - n
    xp = torch.cat([x, 5 * torch.randn(1, pad, 100)], dim=1)  # garbage in the padding must not leak
    cp = torch.cat([cond, 5 * torch.randn(1, pad, 100)], dim=1)
    mask = torch.arange(bucket)[None] < n
    for flags in [(False, False), (True, True), (True, False)]:
        with torch.no_grad():
            ref = dit(x, cond, text, time, *flags)
            padded = dit(xp, cp, text, time, *flags, mask=mask)
        assert max_err(padded[:, :n], ref) <= 1e-5


def test_upstream_mask_mode_leaks_padding(model) -> None:
    """Documents why "full" masking exists: upstream's masked path lets padded keys change the output."""
    dit = model.transformer
    torch.manual_seed(1)
    n, bucket = 30, 45
    x, cond = torch.randn(1, n, 100), torch.randn(1, n, 100)
    text = torch.tensor(_ids(10))
    xp, cp = (
        torch.nn.functional.pad(x, (0, 0, 0, bucket - n)),
        torch.nn.functional.pad(cond, (0, 0, 0, bucket - n)),
    )
    mask = torch.arange(bucket)[None] < n
    with torch.no_grad():
        ref = dit(x, cond, text, torch.tensor([0.5]))
        dit.mask_mode = "upstream"
        try:
            leaky = dit(xp, cp, text, torch.tensor([0.5]), mask=mask)
        finally:
            dit.mask_mode = "full"
    assert max_err(leaky[:, :n], ref) > 1e-3


def test_sample_padded_to_bucket_equals_unpadded(model) -> None:
    cond = torch.randn(1, 20, 100)
    text = _ids(12)
    ref = model.sample(cond, text, 41, nfe_step=7, seed=5)
    bucket = model.sample(cond, text, 41, nfe_step=7, seed=5, max_frames=64)
    assert bucket.shape == (1, 64, 100)
    assert max_err(bucket[:, :41], ref) <= 1e-5


def test_batched_requests_equal_single_requests(model) -> None:
    """Per-sample seeds and masks make each row independent of its batch mates."""
    g = torch.Generator().manual_seed(2)
    conds = [torch.randn(1, 18, 100, generator=g), torch.randn(1, 25, 100, generator=g)]
    texts = _ids(9, 15, seed=3)
    durs, seeds = [40, 57], [101, 202]
    singles = [
        model.sample(c, [t], d, nfe_step=6, seed=s) for c, t, d, s in zip(conds, texts, durs, seeds, strict=True)
    ]
    cond = torch.zeros(2, 25, 100)
    cond[0, :18], cond[1] = conds[0][0], conds[1][0]
    batch = model.sample(
        cond, texts, torch.tensor(durs), nfe_step=6, seed=seeds, lens=torch.tensor([18, 25]), max_frames=64
    )
    for i, (single, d) in enumerate(zip(singles, durs, strict=True)):
        assert max_err(batch[i : i + 1, :d], single) <= 1e-5


# ----------------------------------------------------------------------------------- determinism


def test_seeded_sampling_is_deterministic_and_seed_sensitive(model) -> None:
    cond = torch.randn(1, 15, 100)
    text = _ids(8)
    a = model.sample(cond, text, 30, nfe_step=5, seed=7)
    b = model.sample(cond, text, 30, nfe_step=5, seed=7)
    c = model.sample(cond, text, 30, nfe_step=5, seed=8)
    assert torch.equal(a, b)
    assert max_err(a, c) > 1e-2
    state = torch.get_rng_state()
    model.sample(cond, text, 30, nfe_step=5, seed=7)
    assert torch.equal(state, torch.get_rng_state())  # a seeded call leaves the global RNG alone


def test_duration_is_at_least_text_and_reference_plus_one(model) -> None:
    out = model.sample(torch.randn(1, 10, 100), _ids(25), 5, nfe_step=5, seed=0)
    assert out.shape[1] == 26


# ------------------------------------------------------------------------------ loop properties


def _state(model, cfg: float = 2.0, nfe_step: int = 6):
    ids = model.tokenize(_ids(10))
    return prepare_sampling(
        model.transformer, torch.randn(1, 12, 100), ids, 30, nfe_step=nfe_step, cfg_strength=cfg, seed=1
    )


def test_loop_body_never_syncs_with_host(model, monkeypatch) -> None:
    state = _state(model)
    expected = euler_loop(model.transformer, state)

    def forbidden(*_a, **_k):
        raise AssertionError("host sync inside the sampler loop")

    for name in ("item", "tolist", "__bool__", "__int__", "__float__", "__index__", "numpy", "cpu"):
        monkeypatch.setattr(torch.Tensor, name, forbidden)
    monkeypatch.setattr(torch.cuda, "synchronize", forbidden)
    out = euler_loop(model.transformer, state)
    monkeypatch.undo()
    assert torch.equal(out, expected)


def test_cancel_hook_is_checked_between_steps(model) -> None:
    state = _state(model, nfe_step=6)
    calls: list[int] = []

    def should_stop() -> bool:
        calls.append(1)
        return len(calls) == 4

    with pytest.raises(SamplingCancelled, match="before step 4/6"):
        euler_loop(model.transformer, state, should_stop)
    assert len(calls) == 4
    with pytest.raises(SamplingCancelled):
        model.sample(torch.randn(1, 12, 100), _ids(5), 30, nfe_step=5, should_stop=lambda: True)


def test_guidance_batches_cond_and_uncond_once_per_step(model, monkeypatch) -> None:
    dit = model.transformer
    seen: list[int] = []
    orig = dit.denoise

    def spy(x, c, mod):
        out = orig(x, c, mod)
        seen.append(out.shape[0])
        return out

    monkeypatch.setattr(dit, "denoise", spy)
    euler_loop(dit, _state(model, cfg=2.0, nfe_step=5))
    assert seen == [2] * 5  # one 2B call per step
    seen.clear()
    state = _state(model, cfg=0.0, nfe_step=5)
    euler_loop(dit, state)
    assert seen == [1] * 5  # below 1e-5 only the cond pass runs
    assert state.conditioning.static.shape[0] == 1


def test_text_is_embedded_once_per_request(model, monkeypatch) -> None:
    calls: list[bool] = []
    text_embed = model.transformer.text_embed
    orig = text_embed.forward

    def spy(*a, **k):
        calls.append(True)
        return orig(*a, **k)

    monkeypatch.setattr(text_embed, "forward", spy)
    model.sample(torch.randn(1, 12, 100), _ids(6), 30, nfe_step=16, seed=0)
    assert len(calls) == 2  # cond + null text, not 2 per step


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_autocast_keeps_state_fp32_and_stays_close(model, dtype) -> None:
    cond = torch.randn(1, 14, 100)
    text = _ids(9)
    ref = model.sample(cond, text, 32, nfe_step=5, seed=3)
    with torch.autocast("cpu", dtype=dtype):
        low = model.sample(cond, text, 32, nfe_step=5, seed=3)
    assert low.dtype == torch.float32 and torch.isfinite(low).all()
    rel = (low - ref).norm() / ref.norm()
    assert rel < 0.1, f"{dtype} relative error {rel:.3f}"


def test_bad_inputs_are_rejected(model) -> None:
    with pytest.raises(ValueError, match="cond must be"):
        model.sample(torch.randn(1, 12, 80), _ids(3), 20)
    with pytest.raises(ValueError, match="max_frames"):
        model.sample(torch.randn(1, 12, 100), _ids(3), 40, max_frames=30)
    with pytest.raises(ValueError, match="noise must be"):
        model.sample(torch.randn(1, 12, 100), _ids(3), 40, noise=torch.randn(1, 20, 100))
    with pytest.raises(ValueError, match="no vocab"):
        model.sample(torch.randn(1, 12, 100), ["hello"], 40)
    with pytest.raises(ValueError, match="seeds for a batch"):
        model.sample(torch.randn(2, 12, 100), _ids(3, 4), 40, seed=[1])


def _sway(t: float, coef: float) -> float:
    """Upstream's sway transform, written out: ``t + s (cos(pi t / 2) - 1 + t)``."""
    return t + coef * (math.cos(math.pi / 2 * t) - 1 + t)
