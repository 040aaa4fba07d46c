"""``FastF5Backend``: :class:`~ishowtts.engine.f5_backend.F5Backend` over a :class:`FastEngine`, adding
``synthesize_batch`` for :class:`~ishowtts.engine.fastpath.batching.BatchingScheduler`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ishowtts.engine.backend import CancelToken, SynthesisCancelled, SynthesisParams

from ishowtts.voices.reference import VoiceReference
from ishowtts.engine.f5_backend import F5Backend

from .fast_engine import BatchItem, FastEngine

__all__ = ["FastF5Backend"]


class FastF5Backend(F5Backend):
    engine: FastEngine

    def __init__(self, engine: FastEngine, label: str | None = None) -> None:
        if not isinstance(engine, FastEngine):
            raise TypeError(f"FastF5Backend needs a FastEngine, got {type(engine).__name__}")
        super().__init__(engine, label)

    def synthesize_batch(
        self, jobs: Sequence[tuple[str, VoiceReference, SynthesisParams, CancelToken | None]]
    ) -> list[np.ndarray | BaseException]:
        results: list[np.ndarray | BaseException | None] = [None] * len(jobs)
        items: list[BatchItem] = []
        index: list[int] = []
        for i, (text, voice, params, cancel) in enumerate(jobs):
            try:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                items.append(BatchItem(text, self._voice(voice, params), self._kwargs(params, cancel)))
                index.append(i)
            except Exception as exc:
                results[i] = exc
        if items:
            for i, res in zip(index, self.engine.synthesize_batch(items), strict=True):
                cancel = jobs[i][3]
                if isinstance(res, SynthesisCancelled) and cancel is not None and cancel.reason:
                    res = SynthesisCancelled(cancel.reason)
                results[i] = res
        return [r if r is not None else RuntimeError("no result") for r in results]

    def warmup(self, voices: list[VoiceReference]) -> None:
        """Prepare the voices; on CUDA also capture the graphs of every (batch size, bucket)."""
        super().warmup(voices)
        if self.engine.device.type == "cuda":
            self.engine.warmup_buckets(self.engine.buckets.batch_sizes)

    def info(self) -> dict[str, Any]:
        return {**super().info(), "batching": True}
