"""``EngineOptions``: everything that shapes an F5 engine, chosen once when it is built.

The engine never reads the server's config class: ``engine/factory.py`` turns ``[engine]`` into these
options. Defaults come from :mod:`ishowtts.defaults`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

import torch

from ishowtts import defaults
from ishowtts.hardware import CpuFeatures, cpu_features

__all__ = ["RENDERERS", "EngineOptions", "Resolved", "resolve", "resolve_dtype"]

RENDERERS = defaults.RENDERERS
QUANTIZE_MODES = ("int8",)  # what quantize can be besides "auto" and None (off)
ATTENTION_KERNELS = defaults.ATTENTION_KERNELS
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
    dtype: str | None = defaults.DTYPE  # fp32 | fp16 | bf16; None = auto (see resolve)
    nfe_step: int = defaults.NFE_STEP  # sampler steps when a request names none
    renderer: str = defaults.RENDERER
    buckets: tuple[int, ...] = defaults.BUCKETS
    max_batch: int = defaults.MAX_BATCH
    graphs: bool | None = defaults.GRAPHS  # None -> on for CUDA
    compile: bool | None = defaults.COMPILE  # None = auto (see resolve)
    compile_backend: str = defaults.COMPILE_BACKEND
    quantize: str | None = defaults.QUANTIZE  # "auto" (see resolve) | "int8" | None (off)
    attention: str = defaults.ATTENTION  # "auto" (see resolve) | "sdpa" | "native"
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
        if self.quantize is not None and self.quantize != "auto" and self.quantize not in QUANTIZE_MODES:
            raise ValueError(f"quantize must be None, 'auto' or one of {QUANTIZE_MODES}, got {self.quantize!r}")
        if self.attention != "auto" and self.attention not in ATTENTION_KERNELS:
            raise ValueError(f"attention must be 'auto' or one of {ATTENTION_KERNELS}, got {self.attention!r}")
        if self.renderer == "eager" and (self.compile or self.quantize in QUANTIZE_MODES or self.attention == "native"):
            raise ValueError(
                "compile, quantize and the native attention need renderer='static' (the eager renderer is the reference)"
            )
        object.__setattr__(self, "buckets", tuple(self.buckets) if self.buckets else defaults.BUCKETS)


@dataclass(frozen=True)
class Resolved:
    """What "auto" became on this machine, and why (``/api/health`` reports both)."""

    dtype: torch.dtype
    compile: bool
    quantize: str | None
    attention: str
    why: dict[str, str]


def _has_cxx() -> bool:
    """inductor's CPU backend compiles C++ at run time."""
    return any(shutil.which(c) for c in ("g++", "c++", "clang++"))


def resolve(
    options: EngineOptions, device: torch.device, features: CpuFeatures | None = None, head_dim: int | None = None
) -> Resolved:
    """Turn ``dtype``/``quantize``/``compile``/``attention`` "auto" into this machine's choice (figures:
    benchmarks/README.md, "CPU: where the time goes", from ``benchmarks/test_cpu.py``).

    * dtype: fp16 on CUDA; on the CPU bf16 where the CPU has bf16 matrix units (AMX-BF16 or AVX512-BF16:
      bf16 matmuls run 2-7x the fp32 rate there), fp32 elsewhere (bf16 would be emulated, and slower).
    * quantize: int8 (torchao dynamic int8 Linears, compiled) on CPUs with AVX512-VNNI int8 dot products
      but no AMX, such as AMD Zen 4: int8 ``mm`` runs ~2x bf16 there and the F5TTS_v1_Base step measured
      1.2-1.3x the compiled bf16 step. Off on AMX (int8 was not reliably faster than bf16 + compile), on
      CPUs without int8 units, on CUDA, and where torchao (the ``fast`` extra) or a C++ compiler is missing.
    * compile: on the CPU for int8 (inductor fuses the quantisation) and for bf16 (1.4x the eager bf16 step
      on AMX, 1.13x on Zen 4 with the native attention), where a C++ compiler exists; off elsewhere (on
      CUDA the captured graphs do that job; on fp32 CPUs it was not measured faster).
    * attention: the native AVX512-BF16 kernel (``model/cpu_attention.py``) for bf16 on CPUs with
      AVX512-BF16 and no AMX (1.7-2.1x torch's SDPA on F5's shape on Zen 4); SDPA elsewhere (on AMX it is
      not measured yet).
    """
    feats = features if features is not None else cpu_features()
    why: dict[str, str] = {}
    if options.dtype is None:
        if device.type == "cuda":
            dtype, why["dtype"] = torch.float16, "auto: fp16 on CUDA"
        elif feats.bf16_matmul:
            dtype, why["dtype"] = torch.bfloat16, f"auto: bf16, the CPU has {feats.matrix_unit} bf16 matmul units"
        else:
            dtype, why["dtype"] = torch.float32, "auto: fp32, the CPU has no bf16 matmul units"
    else:
        dtype, why["dtype"] = resolve_dtype(options.dtype, device), "configured"
    quantize, why["quantize"] = _resolve_quantize(options, device, dtype, feats)
    if options.compile is not None:
        compile_, why["compile"] = bool(options.compile), "configured"
    elif options.renderer != "static":
        compile_, why["compile"] = False, "auto: off, the eager renderer never compiles"
    elif device.type != "cpu":
        compile_, why["compile"] = False, f"auto: off on {device.type} (graph capture does that job)"
    elif not quantize and dtype != torch.bfloat16:
        compile_, why["compile"] = False, "auto: off, measured faster only for bf16 and int8 on the CPU"
    elif not _has_cxx():
        compile_, why["compile"] = False, "auto: off, no C++ compiler for inductor (install g++)"
    elif quantize:
        compile_, why["compile"] = True, "auto: on, int8 on the CPU needs inductor to fuse the quantisation"
    else:
        compile_, why["compile"] = True, f"auto: on, bf16 on {feats.matrix_unit} measured faster compiled"
    attention, why["attention"] = _resolve_attention(options, device, dtype, feats, head_dim)
    return Resolved(dtype, compile_, quantize, attention, why)


def _resolve_attention(
    options: EngineOptions, device: torch.device, dtype: torch.dtype, feats: CpuFeatures, head_dim: int | None
) -> tuple[str, str]:
    """``head_dim``: the model's attention head size, when known (the kernel handles 64 only)."""
    from ishowtts.model import cpu_attention

    wrong_heads = head_dim is not None and head_dim != cpu_attention.HEAD_DIM
    if options.attention == "native":
        if device.type != "cpu" or dtype != torch.bfloat16 or not cpu_attention.available():
            raise ValueError("attention = 'native' needs dtype bf16 on a CPU with AVX512-BF16 (use 'auto' or 'sdpa')")
        if wrong_heads:
            raise ValueError(f"attention = 'native' needs heads of {cpu_attention.HEAD_DIM}; this model's are {head_dim}")
        return "native", "configured"
    if options.attention == "sdpa":
        return "sdpa", "configured"
    if options.renderer != "static":
        return "sdpa", "auto: sdpa, the eager renderer is the reference"
    if device.type != "cpu":
        return "sdpa", f"auto: sdpa on {device.type}"
    if dtype != torch.bfloat16:
        return "sdpa", "auto: sdpa, the native kernel is bf16"
    if feats.amx:
        return "sdpa", "auto: sdpa, on AMX torch's flash kernel uses the tiles (the native kernel is not measured there)"
    if not cpu_attention.available():
        return "sdpa", "auto: sdpa, this CPU or build has no AVX512-BF16 attention kernel"
    if wrong_heads:
        return "sdpa", f"auto: sdpa, the native kernel needs heads of {cpu_attention.HEAD_DIM} (this model: {head_dim})"
    return "native", "auto: native, AVX512-BF16 without AMX: measured 1.7-2.1x torch's SDPA kernel"


def _resolve_quantize(
    options: EngineOptions, device: torch.device, dtype: torch.dtype, feats: CpuFeatures
) -> tuple[str | None, str]:
    if options.quantize != "auto":
        return options.quantize, "configured"
    if options.renderer != "static":
        return None, "auto: off, the eager renderer is the unquantised reference"
    if device.type != "cpu":
        return None, f"auto: off on {device.type}"
    if dtype != torch.bfloat16 or not feats.int8_matmul:
        return None, "auto: off, int8 is chosen only on bf16 CPUs with AVX512-VNNI int8 dot products"
    if feats.amx:
        return None, "auto: off, on AMX int8 was not reliably faster than bf16 + compile"
    if options.compile is False:
        return None, "auto: off, int8 measured faster only compiled, and compile is off"
    from ishowtts.engine.fastpath.quantize import torchao_available

    if not torchao_available():
        return None, "auto: off, int8 measured faster on this CPU (AVX512-VNNI) but needs pip install 'ishowtts[fast]'"
    if not _has_cxx():
        return None, "auto: off, int8 needs inductor and there is no C++ compiler (install g++)"
    return "int8", "auto: int8, the CPU has AVX512-VNNI int8 dot products and no AMX (measured faster than bf16)"


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """A named dtype (None: the auto choice of :func:`resolve`). fp16 is CUDA-only."""
    if dtype is None:
        return resolve(EngineOptions(dtype=None, compile=False, quantize=None), device).dtype
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
