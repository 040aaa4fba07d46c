"""Conditional flow matching sampler: a plain Euler loop over a precomputed t grid.

Per request, :func:`prepare_sampling` does everything that may touch the host (durations, noise, text
embeddings, the t grid, time modulations, masks); :func:`euler_loop` then runs the steps with no host
synchronisation: no ``.item()``, no branching on tensor values, dt and adaLN parameters are read from
precomputed tensors. The sampler state ``x`` and the t grid are fp32; the network input is cast to the
model's parameter dtype at the boundary (a no-op under autocast with fp32 weights, where autocast picks
the compute dtype), and the network output is cast back to fp32 before the guidance and Euler update.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ishowtts import defaults

from .dit import Conditioning, DiT, TimeModulation

#: upstream's Empirically Pruned Step Sampling schedules, in units of 1/32
EPSS_SCHEDULES: dict[int, tuple[int, ...]] = {
    5: (0, 2, 4, 8, 16, 32),
    6: (0, 2, 4, 6, 8, 16, 32),
    7: (0, 2, 4, 6, 8, 16, 24, 32),
    10: (0, 2, 4, 6, 8, 12, 16, 20, 24, 28, 32),
    12: (0, 2, 4, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32),
    16: (0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32),
}
MAX_DURATION = 65536
CFG_OFF_BELOW = 1e-5


class SamplingCancelled(RuntimeError):
    """Raised between sampler steps when the ``should_stop`` hook returns True."""


def time_grid(
    steps: int,
    sway_sampling_coef: float | None = defaults.SWAY_SAMPLING_COEF,
    *,
    use_epss: bool = True,
    device: torch.device | str | None = None,
) -> Tensor:
    """The (steps + 1,) fp32 t grid: EPSS for 5/6/7/10/12/16 steps, else uniform; then sway
    ``t + s * (cos(pi t / 2) - 1 + t)``."""
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    sched = EPSS_SCHEDULES.get(steps) if use_epss else None
    if sched is not None:
        t = (1 / 32) * torch.tensor(sched, device=device, dtype=torch.float32)
    else:
        t = torch.linspace(0, 1, steps + 1, device=device, dtype=torch.float32)
    if sway_sampling_coef is not None:
        t = t + sway_sampling_coef * (torch.cos(torch.pi / 2 * t) - 1 + t)
    return t


@dataclass
class SamplingState:
    """Everything :func:`euler_loop` needs; built by :func:`prepare_sampling`."""

    x0: Tensor  # (B, N, mel) fp32 initial noise (zero beyond each sample's duration)
    cond: Tensor  # (B, N, mel) reference mel, zero-padded
    cond_mask: Tensor  # (B, N, 1) bool, True on reference frames
    duration: Tensor  # (B,) int64 frames per sample
    valid: Tensor | None  # (B, N) bool or None (no padding anywhere)
    conditioning: Conditioning
    step_mods: list[TimeModulation]
    dts: list[Tensor]  # 0-d fp32 tensors t[i+1] - t[i]
    t_grid: Tensor
    cfg_strength: float
    compute_dtype: torch.dtype

    @property
    def steps(self) -> int:
        return len(self.dts)

    @property
    def guided(self) -> bool:
        return self.cfg_strength >= CFG_OFF_BELOW


def lens_to_mask(lens: Tensor, length: int) -> Tensor:
    return torch.arange(length, device=lens.device)[None, :] < lens[:, None]


def draw_noise(
    durations: Sequence[int],
    total: int,
    channels: int,
    seed: int | Sequence[int] | None,
    device: torch.device,
) -> Tensor:
    """Upstream's initial noise: per sample ``manual_seed(seed)`` then ``randn(frames, channels)``, zero
    padded to ``total`` frames. A per-sample seed list makes each sample independent of its batch mates.
    Uses a private generator when seeded, so the global RNG is left alone (same numbers as upstream's
    ``torch.manual_seed`` on CPU)."""
    seeds: list[int | None]
    if seed is None or isinstance(seed, numbers.Integral):
        seeds = [seed] * len(durations)
    else:
        seeds = list(seed)
        if len(seeds) != len(durations):
            raise ValueError(f"got {len(seeds)} seeds for a batch of {len(durations)}")
    out = torch.zeros(len(durations), total, channels, device=device, dtype=torch.float32)
    for i, (frames, s) in enumerate(zip(durations, seeds, strict=True)):
        gen = None
        if s is not None:
            gen = torch.Generator(device=device)
            gen.manual_seed(int(s))
        out[i, :frames] = torch.randn(frames, channels, generator=gen, device=device, dtype=torch.float32)
    return out


def prepare_sampling(
    dit: DiT,
    cond: Tensor,
    text: Tensor,
    duration: int | Tensor,
    *,
    nfe_step: int = 32,
    cfg_strength: float = defaults.CFG_STRENGTH,
    sway_sampling_coef: float | None = defaults.SWAY_SAMPLING_COEF,
    seed: int | Sequence[int] | None = None,
    lens: Tensor | None = None,
    noise: Tensor | None = None,
    max_frames: int | None = None,
    use_epss: bool = True,
) -> SamplingState:
    """Per-request setup (may synchronise with the device once, for the durations).

    ``cond`` (B, n, mel); ``text`` (B, Nt) int ids padded with -1; ``duration`` int or (B,) total frames
    (reference included); ``lens`` (B,) reference frames per sample (default n); ``noise`` (B, >=N, mel)
    replaces the drawn noise; ``max_frames`` pads the batch to a bucket length (padding is masked).
    """
    if cond.ndim != 3 or cond.shape[-1] != dit.mel_dim:
        raise ValueError(f"cond must be (B, n, {dit.mel_dim}), got {tuple(cond.shape)}")
    batch, n, device = cond.shape[0], cond.shape[1], cond.device
    if text.ndim != 2 or text.shape[0] != batch:
        raise ValueError(f"text ids must be (B={batch}, Nt), got {tuple(text.shape)}")
    text = text.to(device)
    if lens is None:
        lens = torch.full((batch,), n, device=device, dtype=torch.long)
    lens = lens.to(device=device, dtype=torch.long)
    if isinstance(duration, int):
        duration = torch.full((batch,), duration, device=device, dtype=torch.long)
    duration = duration.to(device=device, dtype=torch.long).reshape(-1)
    if duration.shape[0] == 1 and batch > 1:
        duration = duration.expand(batch)
    if duration.shape[0] != batch:
        raise ValueError(f"duration must be an int or ({batch},), got shape {tuple(duration.shape)}")
    # at least the text / reference length plus one frame, so something is generated (upstream)
    duration = torch.maximum(torch.maximum((text != -1).sum(dim=-1), lens) + 1, duration)
    duration = duration.clamp(max=MAX_DURATION)
    durations = [int(d) for d in duration.tolist()]  # the one host sync of a request
    longest = max(durations)
    total = longest if max_frames is None else int(max_frames)
    if total < longest:
        raise ValueError(f"max_frames={total} is shorter than the longest duration {longest}")

    cond = F.pad(cond.float(), (0, 0, 0, max(0, total - n)))[:, :total]
    cond_mask = lens_to_mask(lens, total).unsqueeze(-1)
    step_cond = torch.where(cond_mask, cond, torch.zeros_like(cond))
    padded = any(d < total for d in durations)  # an all-valid mask changes nothing: skip it
    valid = lens_to_mask(duration, total) if padded else None

    if noise is None:
        x0 = draw_noise(durations, total, dit.mel_dim, seed, device)
    else:
        if (
            noise.ndim != 3
            or noise.shape[0] != batch
            or noise.shape[2] != dit.mel_dim
            or noise.shape[1] < longest
        ):
            raise ValueError(
                f"noise must be (B={batch}, >={longest}, {dit.mel_dim}), got {tuple(noise.shape)}"
            )
        x0 = F.pad(noise.float(), (0, 0, 0, max(0, total - noise.shape[1])))[:, :total].to(device)

    compute_dtype = dit.proj_out.weight.dtype
    t = time_grid(nfe_step, sway_sampling_coef, use_epss=use_epss, device=device)
    dts = list((t[1:] - t[:-1]).unbind(0))
    mods = dit.time_modulation(t[:-1].to(compute_dtype))
    step_mods = [mods.step(i) for i in range(nfe_step)]
    groups = ((False, False), (True, True)) if cfg_strength >= CFG_OFF_BELOW else ((False, False),)
    conditioning = dit.conditioning(step_cond.to(compute_dtype), text, valid, groups)
    return SamplingState(
        x0=x0,
        cond=cond,
        cond_mask=cond_mask,
        duration=duration,
        valid=valid,
        conditioning=conditioning,
        step_mods=step_mods,
        dts=dts,
        t_grid=t,
        cfg_strength=float(cfg_strength),
        compute_dtype=compute_dtype,
    )


def velocity(dit: DiT, x: Tensor, state: SamplingState, step: int) -> Tensor:
    """Guided flow at ``step`` (fp32): one network call on the stacked cond/uncond batch."""
    out = dit.denoise(x.to(state.compute_dtype), state.conditioning, state.step_mods[step]).float()
    if not state.guided:
        return out
    pred, null = out.chunk(2, dim=0)
    return pred + (pred - null) * state.cfg_strength


def euler_loop(dit: DiT, state: SamplingState, should_stop: Callable[[], bool] | None = None) -> Tensor:
    """Run the Euler steps; returns the final (B, N, mel) fp32 state (reference frames not yet pasted)."""
    x = state.x0
    for i in range(state.steps):
        if should_stop is not None and should_stop():
            raise SamplingCancelled(f"sampling cancelled before step {i + 1}/{state.steps}")
        x = x + state.dts[i] * velocity(dit, x, state, i)
    return x


def finish(state: SamplingState, x: Tensor) -> Tensor:
    """Paste the reference frames back, like upstream's ``torch.where(cond_mask, cond, out)``."""
    return torch.where(state.cond_mask, state.cond, x)

