"""``F5Model``: the DiT plus vocab and the CFM sampler (upstream ``CFM`` at inference)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from ishowtts import defaults
from ishowtts.logging_setup import kv
from ishowtts.text.vocab import Vocab, pad_ids

from .cfm import euler_loop, finish, prepare_sampling
from .configs import F5Config
from .dit import DiT
from .mel import log_mel_spectrogram

log = logging.getLogger(__name__)

TextInput = Sequence[str] | Sequence[Sequence[str]] | Sequence[Sequence[int]] | Tensor


class F5Model(nn.Module):
    """F5-TTS at inference: ``.transformer`` (the DiT), ``.vocab`` and :meth:`sample`."""

    def __init__(self, config: F5Config, vocab: Vocab | None = None) -> None:
        super().__init__()
        if vocab is not None and len(vocab) != config.text_num_embeds:
            raise ValueError(
                f"vocab has {len(vocab)} symbols but config {config.name!r} has text_num_embeds="
                f"{config.text_num_embeds}"
            )
        self.config = config
        self.vocab = vocab
        self.transformer = DiT(config)

    @property
    def device(self) -> torch.device:
        return self.transformer.proj_out.weight.device

    def upstream_state_dict(self) -> dict[str, Tensor]:
        """State dict in upstream ``CFM`` layout (``transformer.*`` keys), e.g. to save checkpoints."""
        return {f"transformer.{k}": v for k, v in self.transformer.state_dict().items()}

    def tokenize(self, text: TextInput, device: torch.device | None = None) -> Tensor:
        """Strings / token lists (through the vocab), id lists, or an id tensor -> (B, Nt) int64, -1 padded."""
        device = device or self.device
        if isinstance(text, Tensor):
            if text.ndim != 2 or text.dtype.is_floating_point:
                raise ValueError(
                    f"text ids must be an int (B, Nt) tensor, got {text.dtype} {tuple(text.shape)}"
                )
            return text.to(device=device, dtype=torch.long)
        if isinstance(text, str) or not isinstance(text, Sequence) or len(text) == 0:
            raise TypeError("text must be a non-empty list of strings / token lists, or an id tensor")
        if all(not isinstance(t, str) and all(isinstance(i, int) for i in t) for t in text):
            return pad_ids(text, device=device)  # type: ignore[arg-type]
        if self.vocab is None:
            raise ValueError(
                "text given as strings but the model has no vocab; pass vocab= to load_f5 or token ids"
            )
        return self.vocab.batch_ids(text, device=device)  # type: ignore[arg-type]

    @torch.no_grad()
    def sample(
        self,
        cond: Tensor,
        text: TextInput,
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
        should_stop: Callable[[], bool] | None = None,
    ) -> Tensor:
        """Upstream ``CFM.sample``: generate a (B, N, mel) fp32 mel including the reference frames.

        ``cond`` a (B, n, mel) log-mel (or (B, samples) 24 kHz audio); ``text`` a list of strings or
        token lists (or ids); ``duration`` total frames, int or (B,). ``seed`` int (upstream: the same
        seed re-applied for every sample) or one per sample. ``max_frames`` pads to a bucket length with
        masking. ``should_stop`` is called between steps; returning True raises ``SamplingCancelled``.
        """
        if cond.ndim == 2:
            cond = log_mel_spectrogram(cond).transpose(1, 2)
        ids = self.tokenize(text, device=cond.device)
        started = time.perf_counter()
        state = prepare_sampling(
            self.transformer,
            cond,
            ids,
            duration,
            nfe_step=nfe_step,
            cfg_strength=cfg_strength,
            sway_sampling_coef=sway_sampling_coef,
            seed=seed,
            lens=lens,
            noise=noise,
            max_frames=max_frames,
            use_epss=use_epss,
        )
        out = finish(state, euler_loop(self.transformer, state, should_stop))
        log.debug(
            "sampled",
            extra=kv(
                batch=out.shape[0],
                frames=out.shape[1],
                nfe_step=nfe_step,
                cfg=cfg_strength,
                s=time.perf_counter() - started,
            ),
        )
        return out
