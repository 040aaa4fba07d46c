"""The one fast code path: static buffers per (batch, frame bucket), masked padding, graph replay.

:class:`StaticRunner` runs the CFM Euler loop of one or more requests padded to a frame bucket:

1. per call (may touch the host): :func:`ishowtts.model.cfm.prepare_sampling` draws each request's
   seeded noise, computes the text embeddings (cond + uncond) and the t grid / adaLN modulations of
   every step, and builds the padding masks;
2. those are copied into the static buffers of the (batch, bucket, guidance) slot;
3. the DiT step (cond + uncond as one 2B batch, guidance, Euler update written in place into the static
   ``x``) runs NFE times. On CUDA it is captured once per slot as a ``torch.cuda.CUDAGraph`` (all slots
   share one memory pool) and replayed; elsewhere the very same step function runs eagerly.

Padded frames are masked as attention keys, in the conv position embedding and in the text branch
(``DiT.mask_mode == "full"``), so a request padded to a bucket (or batched with longer ones) gives the
same mel as alone and unpadded.
The Vocos decode has its counterpart in :mod:`.static_vocoder`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ishowtts import defaults
from ishowtts.logging_setup import kv
from ishowtts.model.cfm import CFG_OFF_BELOW, MAX_DURATION, SamplingCancelled, finish, prepare_sampling
from ishowtts.model.dit import Conditioning, DiT, TimeModulation

from . import graph_capture
from .buckets import BucketSet
from .compile import vary
from .precision import autocast

__all__ = ["SampleRequest", "StaticRunner", "graphs_default"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SampleRequest:
    """One request of a (possibly batched) sampler call.

    ``cond`` (n, mel) reference log-mel; ``text`` (Nt,) int token ids (reference text + generated
    text); ``frames`` total frames including the reference; ``seed`` for the initial noise (upstream's
    per-sample rule), or ``noise`` (>= frames, mel) given explicitly.
    """

    cond: Tensor
    text: Tensor
    frames: int
    seed: int | None = None
    noise: Tensor | None = None

    def needed_frames(self) -> int:
        """Frames the sampler will really use (upstream: at least text / reference length + 1)."""
        ntext = int((self.text != -1).sum()) if self.text.numel() else 0
        return int(min(MAX_DURATION, max(self.frames, ntext + 1, self.cond.shape[0] + 1)))


def graphs_default(device: torch.device) -> bool:
    return device.type == "cuda"


#: slots kept without graphs (buffers only, cheap to make again): lengths are rounded to
#: ``BucketSet.multiple``, so there can be many shapes; the least recently used go first
UNGRAPHED_SLOTS = 8


def cached_slot(slots: dict[Any, Any], key: Any, make: Callable[[], Any], graphs: bool) -> Any:
    """``slots[key]``, made on first use; without graphs at most :data:`UNGRAPHED_SLOTS` are kept."""
    slot = slots.pop(key, None)
    if slot is None:
        slot = make()
    slots[key] = slot  # most recently used last
    if not graphs:
        while len(slots) > UNGRAPHED_SLOTS:
            del slots[next(iter(slots))]
    return slot


class _DiTSlot:
    """Static buffers (and on CUDA the captured graph) of one (batch, bucket, groups) shape."""

    def __init__(self, runner: StaticRunner, batch: int, frames: int, groups: int) -> None:
        dit = runner.dit
        device = runner.device
        self.runner = runner
        self.batch, self.frames, self.groups = batch, frames, groups
        self.x = torch.zeros(batch, frames, dit.mel_dim, device=device)
        self.static: Tensor | None = None  # (G, B, N, dim), dtype from the first load
        self.valid = torch.ones(groups * batch, frames, dtype=torch.bool, device=device)
        self.rope = dit.rotary_embed.tables(frames)
        self.x_weight = dit.input_embed.x_weight()
        self.cur_blocks: Tensor | None = None  # (depth, 1, 6, dim)
        self.cur_final: Tensor | None = None  # (1, 2, dim)
        self.dt = torch.zeros((), device=device)
        self.cfg = torch.zeros((), device=device)
        self.graph: Any = None
        self.replays = 0

    def conditioning(self) -> Conditioning:
        assert self.static is not None
        attn_mask = self.valid[:, None, None, :] if self.runner.dit.full_mask else None
        return Conditioning(self.static, self.x_weight, self.rope, self.valid, attn_mask)

    def load(self, state: Any) -> None:
        """Copy a prepared request batch (``SamplingState`` at this slot's shape) into the buffers."""
        c = state.conditioning
        if self.static is None or self.static.dtype != c.static.dtype:
            self.static = torch.empty_like(c.static)
            self.graph = None
        self.static.copy_(c.static)
        if c.valid is None:
            self.valid.fill_(True)
        else:
            self.valid.copy_(c.valid)
        self.x.copy_(state.x0)
        self.cfg.fill_(state.cfg_strength)
        mods = state.step_mods[0]
        if self.cur_blocks is None or self.cur_blocks.dtype != mods.blocks.dtype:
            self.cur_blocks = torch.empty_like(mods.blocks)
            self.cur_final = torch.empty_like(mods.final)
            self.graph = None

    def set_step(self, state: Any, i: int) -> None:
        assert self.cur_blocks is not None and self.cur_final is not None
        mod = state.step_mods[i]
        self.cur_blocks.copy_(mod.blocks)
        self.cur_final.copy_(mod.final)
        self.dt.copy_(state.dts[i])

    def step(self) -> None:
        """One guided Euler step on the static buffers, in place (the captured region)."""
        assert self.cur_blocks is not None and self.cur_final is not None
        dit = self.runner.dit
        x, c = self.x.to(self.runner.param_dtype), self.conditioning()
        if self.runner.compiled:  # one compiled graph for every (batch > 1, bucket): see compile.vary
            vary(x, 0, 1)
            vary(c.static, 1, 2)
            if c.valid is not None:
                vary(c.valid, 0, 1)
            if c.attn_mask is not None:  # a fresh view of valid: dynamo sizes it on its own
                vary(c.attn_mask, 0, 3)
            for table in c.rope:
                vary(table, 0)
        out = dit.denoise(x, c, TimeModulation(self.cur_blocks, self.cur_final)).float()
        if self.groups == 2:
            pred, null = out.chunk(2, dim=0)
            out = pred + (pred - null) * self.cfg
        self.x.copy_(self.x + self.dt * out)

    def run(self) -> None:
        if self.graph is not None:
            self.graph.replay()
        else:
            self.step()
        self.replays += 1

    def capture(self) -> None:
        """Capture :meth:`step` as a CUDA graph (buffers must hold a loaded request)."""
        x_saved = self.x.clone()  # the warm-up calls advance x
        self.graph = graph_capture.capture_graph(
            self.step, self.x.device, self.runner.pool(), self.runner.dtype
        )
        self.x.copy_(x_saved)
        log.info(
            "dit step captured",
            extra=kv(batch=self.batch, frames=self.frames, groups=self.groups, dtype=str(self.runner.dtype)),
        )


class StaticRunner:
    """Bucketed, statically shaped CFM sampling over a :class:`DiT` (see the module docstring).

    ``dtype`` is the autocast compute dtype (fp32: none). ``graphs`` None -> on for CUDA devices.
    Thread-safe (one call at a time: the buffers are shared).
    """

    def __init__(
        self,
        dit: DiT,
        buckets: BucketSet | None = None,
        *,
        dtype: torch.dtype = torch.float32,
        graphs: bool | None = None,
        step_fn: Callable[..., Tensor] | None = None,
    ) -> None:
        self.dit = dit
        self.buckets = buckets or BucketSet()
        self.device = dit.proj_out.weight.device
        self.dtype = dtype
        self.graphs = graphs_default(self.device) if graphs is None else bool(graphs)
        if self.graphs and self.device.type != "cuda":
            raise ValueError("CUDA graphs need the model on a CUDA device")
        self._slots: dict[tuple[int, int, int], _DiTSlot] = {}
        self._pool: Any = None
        self._lock = threading.Lock()
        self.calls = 0
        self.compiled = False  # set when dit.denoise is compiled: the step marks its varying dims

    @property
    def param_dtype(self) -> torch.dtype:
        return self.dit.proj_out.weight.dtype

    def pool(self) -> Any:
        if self._pool is None:
            self._pool = torch.cuda.graph_pool_handle()
        return self._pool

    def slots(self) -> list[tuple[int, int, int]]:
        return sorted(self._slots)

    def release(self) -> int:
        """Drop every slot (buffers and graphs) and the graph memory pool; returns how many were held.
        Call on reconfiguration (buckets, dtype, weights); the memory returns to the caching allocator."""
        with self._lock:
            n = len(self._slots)
            self._slots.clear()
            self._pool = None
        log.info("static runner released", extra=kv(slots=n))
        return n

    # ------------------------------------------------------------------------------------------ sampling

    @torch.no_grad()
    def sample(
        self,
        requests: Sequence[SampleRequest],
        *,
        nfe_step: int,
        cfg_strength: float = defaults.CFG_STRENGTH,
        sway_sampling_coef: float | None = defaults.SWAY_SAMPLING_COEF,
        use_epss: bool = True,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[Tensor]:
        """Sample every request as one masked batch; returns each request's (frames, mel) fp32 mel
        with its reference frames pasted back (like ``F5Model.sample`` for that request alone)."""
        if not requests:
            raise ValueError("no requests to sample")
        n_real = len(requests)
        batch = self.buckets.batch_for(n_real)
        needed = [r.needed_frames() for r in requests]
        frames = self.buckets.run_frames(max(needed))
        rows = list(requests) + [requests[0]] * (batch - n_real)  # filler rows repeat request 0
        cond, lens, ids, durations, noise = self._pack(rows)
        seeds = [r.seed for r in rows]
        groups = 2 if cfg_strength >= CFG_OFF_BELOW else 1
        with self._lock, torch.inference_mode(False), torch.no_grad(), autocast(self.device, self.dtype):
            state = prepare_sampling(
                self.dit,
                cond,
                ids,
                durations,
                nfe_step=nfe_step,
                cfg_strength=cfg_strength,
                sway_sampling_coef=sway_sampling_coef,
                seed=None if noise is not None else seeds,
                lens=lens,
                noise=noise,
                max_frames=frames,
                use_epss=use_epss,
            )
            slot = self._slot(batch, frames, groups)
            slot.load(state)
            if self.graphs and slot.graph is None:
                slot.set_step(state, 0)
                slot.capture()
            for i in range(state.steps):
                if should_stop is not None and should_stop():
                    raise SamplingCancelled(f"sampling cancelled before step {i + 1}/{state.steps}")
                slot.set_step(state, i)
                slot.run()
            out = finish(state, slot.x.clone())
        self.calls += 1
        return [out[j, : int(state.duration[j])] for j in range(n_real)]

    def warmup(
        self,
        batch_sizes: Sequence[int] | None = None,
        *,
        nfe_step: int = 2,
        cfg_strength: float = defaults.CFG_STRENGTH,
        frames: Sequence[int] | None = None,
    ) -> int:
        """Create (on CUDA: capture) every (batch size, bucket) slot with a dummy request; returns count."""
        mel = self.dit.mel_dim
        count = 0
        for b in batch_sizes or self.buckets.batch_sizes:
            for n in frames or self.buckets.frames:
                req = SampleRequest(
                    cond=torch.zeros(max(1, n // 4), mel, device=self.device),
                    text=torch.zeros(1, dtype=torch.long, device=self.device),
                    frames=n,
                    seed=0,
                )
                self.sample([req] * b, nfe_step=nfe_step, cfg_strength=cfg_strength)
                count += 1
        log.info("static runner warm", extra=kv(slots=len(self._slots), graphs=self.graphs))
        return count

    def _slot(self, batch: int, frames: int, groups: int) -> _DiTSlot:
        return cached_slot(
            self._slots, (batch, frames, groups), lambda: _DiTSlot(self, batch, frames, groups), self.graphs
        )

    def _pack(self, rows: Sequence[SampleRequest]) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor | None]:
        dev = self.device
        mel = self.dit.mel_dim
        for r in rows:
            if r.cond.ndim != 2 or r.cond.shape[1] != mel:
                raise ValueError(f"cond must be (n, {mel}), got {tuple(r.cond.shape)}")
            if r.text.ndim != 1:
                raise ValueError(f"text ids must be 1-D, got shape {tuple(r.text.shape)}")
        nmax = max(r.cond.shape[0] for r in rows)
        tmax = max(max(r.text.shape[0] for r in rows), 1)
        cond = torch.stack(
            [F.pad(r.cond.to(dev, torch.float32), (0, 0, 0, nmax - r.cond.shape[0])) for r in rows]
        )
        lens = torch.tensor([r.cond.shape[0] for r in rows], device=dev, dtype=torch.long)
        ids = torch.stack(
            [F.pad(r.text.to(dev, torch.long), (0, tmax - r.text.shape[0]), value=-1) for r in rows]
        )
        durations = torch.tensor([r.frames for r in rows], device=dev, dtype=torch.long)
        with_noise = [r.noise is not None for r in rows]
        if any(with_noise) and not all(with_noise):
            raise ValueError("either every request of a batch gives its noise or none does")
        noise = None
        if all(with_noise):
            longest = max(r.noise.shape[0] for r in rows)  # type: ignore[union-attr]
            noise = torch.stack(
                [F.pad(r.noise.to(dev, torch.float32), (0, 0, 0, longest - r.noise.shape[0])) for r in rows]  # type: ignore[union-attr]
            )
        return cond, lens, ids, durations, noise
