"""``EngineOptions``: everything that shapes an F5 engine, chosen once when it is built.

The engine never reads the server's config class: ``engine/factory.py`` turns ``[engine]`` into these
options. Defaults come from :mod:`ishowtts.defaults`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ishowtts import defaults

__all__ = ["RENDERERS", "EngineOptions", "resolve_dtype"]

RENDERERS = defaults.RENDERERS
QUANTIZE_MODES = ("int8",)
_DTYPES = {
    "fp32": torch.float32,
    "float32": torch.float32,
    "fp16": torch.float16,
    "float16": torch.float16,
    "half": torch.float16,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
}


@dataclass(frozen=True)
class EngineOptions:
    """How an engine renders. ``renderer="static"`` is the bucketed, batching renderer; ``"eager"`` the
    one-chunk-at-a-time reference. Precision switches (``precast``, ``quantize``) and ``compile`` are
    applied to the engine's own model when the engine is built; they need the static renderer."""

    device: str | None = None  # None -> cuda when available, else cpu
    dtype: str | None = None  # fp32 | fp16 | bf16; None -> fp16 on CUDA, fp32 elsewhere
    nfe_step: int = defaults.NFE_STEP  # sampler steps when a request names none
    renderer: str = defaults.RENDERER
    buckets: tuple[int, ...] = defaults.BUCKETS
    max_batch: int = defaults.MAX_BATCH
    graphs: bool | None = defaults.GRAPHS  # None -> on for CUDA
    compile: bool = False
    compile_backend: str = defaults.COMPILE_BACKEND
    quantize: str | None = None  # None | "int8"
    precast: bool = defaults.PRECAST
    memory_cap: float | None = None  # fraction of the GPU (<= 1) or bytes
    first_chunk_seconds: float | None = defaults.FIRST_CHUNK_SECONDS
    voice_cache_size: int = defaults.VOICE_CACHE_SIZE

    def __post_init__(self) -> None:
        if self.renderer not in RENDERERS:
            raise ValueError(f"renderer must be one of {RENDERERS}, got {self.renderer!r}")
        if not isinstance(self.nfe_step, int) or self.nfe_step < 1:
            raise ValueError(f"nfe_step must be an int >= 1, got {self.nfe_step!r}")
        if not isinstance(self.max_batch, int) or self.max_batch < 1:
            raise ValueError(f"max_batch must be a positive int, got {self.max_batch!r}")
        if self.quantize is not None and self.quantize not in QUANTIZE_MODES:
            raise ValueError(f"quantize must be None or one of {QUANTIZE_MODES}, got {self.quantize!r}")
        if self.renderer == "eager" and (self.compile or self.quantize):
            raise ValueError("compile and quantize need renderer='static' (the eager renderer is the reference)")
        object.__setattr__(self, "buckets", tuple(self.buckets) if self.buckets else defaults.BUCKETS)


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """None -> fp16 on CUDA, fp32 elsewhere. fp16 is CUDA-only."""
    if dtype is None:
        return torch.float16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, str):
        try:
            dtype = _DTYPES[dtype.lower()]
        except KeyError:
            raise ValueError(f"unknown dtype {dtype!r}; use one of {sorted(_DTYPES)}") from None
    if dtype not in (torch.float32, torch.float16, torch.bfloat16):
        raise ValueError(f"dtype must be fp32, fp16 or bf16, got {dtype}")
    if dtype == torch.float16 and device.type != "cuda":
        raise ValueError("fp16 needs a CUDA device; use fp32 or bf16 on the CPU")
    return dtype


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
