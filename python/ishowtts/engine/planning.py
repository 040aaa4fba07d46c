"""One request's plan: checked parameters, text chunks with frame counts and seeds, and the cross-fade
that joins the chunks' audio.

The plan is deterministic given the text, the prepared voice and the parameters, so a request rendered
alone, streamed, or inside a batch gives the same audio.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from dataclasses import dataclass

import numpy as np

from ishowtts.engine.backend import SynthesisParams
from ishowtts.text.chunking import chunk_text, first_chunk_budget, max_chunk_bytes, utf8_len
from ishowtts.text.duration import allocate_fix_duration, estimate_frames, fixed_frames
from ishowtts.voices.prepare import PreparedVoice

__all__ = ["MAX_SEED", "ChunkPlan", "CrossFader", "check_params", "chunk_seed", "plan_chunks", "random_seed"]

MAX_SEED = 2**63 - 1


def chunk_seed(seed: int, index: int) -> int:
    """Seed of chunk ``index``: the request seed itself for the first chunk, a hash of both after."""
    if index == 0:
        return seed
    digest = hashlib.sha256(f"ishowtts-chunk:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def random_seed() -> int:
    return secrets.randbelow(2**31)


def check_params(params: SynthesisParams, default_nfe: int) -> SynthesisParams:
    """``params`` with ``nfe_step`` and ``seed`` filled in (the engine default, a random seed), after
    checking every value; a bad value raises ``ValueError`` naming the field."""
    nfe = default_nfe if params.nfe_step is None else params.nfe_step
    if not isinstance(nfe, int | np.integer) or nfe < 1:
        raise ValueError(f"nfe_step must be an int >= 1, got {nfe!r}")
    if params.speed <= 0:
        raise ValueError(f"speed must be > 0, got {params.speed}")
    if params.cross_fade_duration < 0:
        raise ValueError(f"cross_fade_duration must be >= 0, got {params.cross_fade_duration}")
    if params.fix_duration is not None and params.fix_duration <= 0:
        raise ValueError(f"fix_duration must be > 0 seconds, got {params.fix_duration}")
    seed = params.seed
    if seed is None:
        seed = random_seed()
    elif not isinstance(seed, int | np.integer) or not 0 <= int(seed) <= MAX_SEED:
        raise ValueError(f"seed must be an int in [0, 2**63), got {seed!r}")
    return dataclasses.replace(
        params,
        nfe_step=int(nfe),
        seed=int(seed),
        cfg_strength=float(params.cfg_strength),
        sway_sampling_coef=float(params.sway_sampling_coef),
        speed=float(params.speed),
        cross_fade_duration=float(params.cross_fade_duration),
    )


@dataclass(frozen=True)
class ChunkPlan:
    index: int
    text: str
    frames: int  # total frames including the reference
    seed: int


def plan_chunks(
    text: str, voice: PreparedVoice, params: SynthesisParams, first_chunk_seconds: float | None
) -> list[ChunkPlan]:
    """Chunks with their frame counts and seeds; ``params`` must have been through :func:`check_params`."""
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    assert params.seed is not None, "check_params fills the seed in"
    speed = params.speed
    budget = max_chunk_bytes(voice.text_bytes, voice.seconds, speed)
    first = None
    if params.first_chunk and first_chunk_seconds:
        first = first_chunk_budget(voice.text_bytes, voice.seconds, speed, first_chunk_seconds)
    chunks = chunk_text(text, budget, first_chunk_bytes=first)
    if not chunks:
        raise ValueError("text is empty: nothing to synthesise")
    if params.fix_duration is not None:
        secs = allocate_fix_duration(
            params.fix_duration, [utf8_len(c) for c in chunks], params.cross_fade_duration
        )
        frames = [fixed_frames(voice.ref_frames, s) for s in secs]
    else:
        frames = [estimate_frames(voice.ref_frames, voice.model_text_bytes, utf8_len(c), speed) for c in chunks]
    return [
        ChunkPlan(i, c, f, chunk_seed(params.seed, i)) for i, (c, f) in enumerate(zip(chunks, frames, strict=True))
    ]


class CrossFader:
    """Joins waves with a linear cross-fade; emits only samples no later wave can change.

    The joined result is identical to cross-fading whole waves one after another (upstream's rule: the
    overlap is ``min(samples, len(joined so far), len(next))``; no overlap means plain concatenation).
    """

    def __init__(self, samples: int) -> None:
        if samples < 0:
            raise ValueError(f"cross-fade samples must be >= 0, got {samples}")
        self.samples = samples
        self._tail: np.ndarray | None = None
        self._emitted = 0

    def push(self, wave: np.ndarray) -> np.ndarray:
        wave = np.asarray(wave)
        if self._tail is None:
            joined = wave
        else:
            cf = min(len(self._tail), len(wave))
            if cf <= 0:
                joined = np.concatenate([self._tail, wave])
            else:
                fade_out = np.linspace(1.0, 0.0, cf)
                fade_in = np.linspace(0.0, 1.0, cf)
                overlap = self._tail[len(self._tail) - cf :] * fade_out + wave[:cf] * fade_in
                joined = np.concatenate([self._tail[: len(self._tail) - cf], overlap, wave[cf:]])
        hold = min(self.samples, self._emitted + len(joined))
        hold = min(hold, len(joined))
        out, self._tail = joined[: len(joined) - hold], joined[len(joined) - hold :]
        self._emitted += len(out)
        return out.astype(np.float32, copy=False)

    def flush(self) -> np.ndarray:
        tail = (
            np.zeros(0, dtype=np.float32) if self._tail is None else self._tail.astype(np.float32, copy=False)
        )
        self._emitted += len(tail)
        self._tail = None
        return tail
