"""The rendering seam: chunks of planned requests in, waves out.

:class:`Engine` plans requests, joins waves and streams; a renderer turns planned chunks into audio. There
are two, chosen when the engine is built (``EngineOptions.renderer``):

* :class:`EagerRenderer` (``"eager"``): one chunk at a time through ``F5Model.sample`` and Vocos, the
  reference path;
* :class:`~ishowtts.engine.fastpath.static_render.StaticRenderer` (``"static"``, the default): masked
  batches at bucketed static shapes (CUDA graphs when enabled), the only one that renders many requests
  at once.

Both get the same :class:`ChunkWork` and return one float32 wave per item, in order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from ishowtts.engine.backend import SAMPLE_RATE, SynthesisCancelled, SynthesisParams
from ishowtts.engine.planning import ChunkPlan
from ishowtts.text.frontend import text_to_symbols
from ishowtts.voices.prepare import PreparedVoice, remove_long_silences

__all__ = ["ChunkWork", "EagerRenderer", "Renderer", "finish_wave"]


@dataclass
class ChunkWork:
    """One chunk of one request: ``params`` went through ``check_params`` (nfe_step and seed are set)."""

    owner: int  # index of the request in its batch
    chunk: ChunkPlan
    voice: PreparedVoice
    params: SynthesisParams
    should_stop: Callable[[], bool] | None = None


class Renderer(Protocol):
    max_batch: int  # how many requests one render call may hold (1: no batching)

    def render(self, work: Sequence[ChunkWork]) -> list[np.ndarray]:
        """One float32 wave per item of ``work``, in order."""
        ...

    compiled: bool  # runs inductor-compiled code (the engine's warm-up compiles it ahead of requests)

    def warmup(
        self, nfe_step: int, batch_sizes: Sequence[int] | None = None, frames: Sequence[int] | None = None
    ) -> Any:
        """Load kernels / capture graphs / compile ahead of the first request (no-op where nothing to do);
        ``batch_sizes`` and ``frames`` limit the shapes warmed."""
        ...

    def info(self) -> dict[str, Any]: ...


def finish_wave(wave: torch.Tensor, voice: PreparedVoice, params: SynthesisParams) -> np.ndarray:
    """A decoded wave as float32 numpy at the reference's loudness, long silences shortened on request."""
    out = wave.float().cpu().numpy()
    if voice.rms_factor != 1.0:
        out = out * np.float32(voice.rms_factor)
    if params.remove_silence:
        out = remove_long_silences(out, SAMPLE_RATE)
    return out.astype(np.float32, copy=False)


class EagerRenderer:
    """Each chunk on its own: ``model.sample`` on ``reference mel + chunk``, then Vocos on the new frames."""

    max_batch = 1

    def __init__(self, model: Any, vocoder: Any, device: torch.device, dtype: torch.dtype) -> None:
        self.model, self.vocoder, self.device, self.dtype = model, vocoder, device, dtype

    def render(self, work: Sequence[ChunkWork]) -> list[np.ndarray]:
        return [self._one(w) for w in work]

    compiled = False

    def warmup(
        self, nfe_step: int, batch_sizes: Sequence[int] | None = None, frames: Sequence[int] | None = None
    ) -> None:
        return None

    def info(self) -> dict[str, Any]:
        return {"renderer": "eager"}

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def _one(self, w: ChunkWork) -> np.ndarray:
        from ishowtts.model.cfm import SamplingCancelled

        if w.voice.mel is None:
            raise ValueError("voice has no mel: prepare it with Engine.prepare_voice")
        cond = w.voice.mel.to(self.device)
        symbols = text_to_symbols(w.voice.model_text + w.chunk.text)
        with torch.inference_mode(), self._autocast():
            try:
                mel = self.model.sample(
                    cond,
                    [symbols],
                    w.chunk.frames,
                    nfe_step=w.params.nfe_step,
                    cfg_strength=w.params.cfg_strength,
                    sway_sampling_coef=w.params.sway_sampling_coef,
                    seed=w.chunk.seed,
                    should_stop=w.should_stop,
                )
            except SamplingCancelled as exc:
                raise SynthesisCancelled(str(exc)) from None
            generated = mel[:, w.voice.ref_frames :, :].transpose(1, 2)  # (1, 100, T), autocast dtype
            wave = self.vocoder.decode(generated)
        return finish_wave(wave[0], w.voice, w.params)
