"""What this machine's CPU can do, as far as the engine's precision and compile choices care.

``cpu_features()`` reads the CPU model and the ISA flags that decide the CPU defaults:

* ``amx_bf16`` / ``amx_int8``: Intel AMX tile units (Sapphire Rapids and later): bf16 and int8 matmuls at
  several times the fp32 rate;
* ``avx512_bf16`` / ``avx512_vnni``: bf16 dot products / int8 dot products in AVX-512 (Zen 4, Cooper Lake,
  Ice Lake for VNNI);
* ``avx2``, ``fma``, ``avx512f``: the plain vector units.

The flags come from ``/proc/cpuinfo`` (Linux, what the kernel enabled; AMX also needs the kernel's
permission, which it reports by listing the flag) and otherwise from torch's own CPU probes. The result is
cached for the process; ``ISHOWTTS_CPU_FEATURES`` (comma-separated flags, e.g. ``avx2,fma`` to pretend
a machine has no bf16 units) overrides the probe, for reproducing another machine's defaults.
"""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CpuFeatures", "cpu_features"]

ENV_OVERRIDE = "ISHOWTTS_CPU_FEATURES"
KNOWN_FLAGS = ("amx_bf16", "amx_int8", "amx_tile", "avx512_bf16", "avx512_vnni", "avx512f", "avx2", "fma")


@dataclass(frozen=True)
class CpuFeatures:
    model: str
    flags: frozenset[str]
    source: str  # "cpuinfo", "torch", or the override's variable name

    @property
    def amx(self) -> bool:
        return "amx_bf16" in self.flags

    @property
    def bf16_matmul(self) -> bool:
        """bf16 matrix or dot-product units (AMX-BF16 or AVX512-BF16): bf16 matmuls beat fp32."""
        return "amx_bf16" in self.flags or "avx512_bf16" in self.flags

    @property
    def int8_matmul(self) -> bool:
        """int8 matrix or dot-product units (AMX-INT8 or AVX512-VNNI)."""
        return "amx_int8" in self.flags or "avx512_vnni" in self.flags

    @property
    def matrix_unit(self) -> str:
        """The fastest matmul unit: ``"amx"``, ``"avx512_bf16"`` or ``"none"`` (fp32 vectors only)."""
        if self.amx:
            return "amx"
        if "avx512_bf16" in self.flags:
            return "avx512_bf16"
        return "none"

    def as_dict(self) -> dict[str, object]:
        return {
            "cpu_model": self.model,
            "isa": sorted(f for f in self.flags if f in KNOWN_FLAGS),
            "matrix_unit": self.matrix_unit,
            "source": self.source,
        }


def _cpuinfo() -> tuple[str, set[str]] | None:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return None
    model, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    return (model or platform.processor() or platform.machine(), flags) if flags else None


def _torch_probe() -> set[str]:
    """torch's own CPU probes (``torch.cpu._is_*_supported``; private, so each is optional)."""
    try:
        import torch.cpu as tc
    except Exception:  # no torch: no flags, fp32 everywhere
        return set()
    probes = {
        "amx_bf16": "_is_amx_tile_supported",
        "avx512_bf16": "_is_avx512_bf16_supported",
        "avx512_vnni": "_is_vnni_supported",
        "avx512f": "_is_avx512_supported",
        "avx2": "_is_avx2_supported",
    }
    flags = set()
    for flag, name in probes.items():
        try:
            if getattr(tc, name)():
                flags.add(flag)
        except Exception:  # a build without this probe
            continue
    if "amx_bf16" in flags:
        flags |= {"amx_tile", "amx_int8"}
    return flags


@functools.lru_cache(maxsize=1)
def cpu_features() -> CpuFeatures:
    override = os.environ.get(ENV_OVERRIDE)
    info = _cpuinfo()
    model = info[0] if info else platform.processor() or platform.machine() or "unknown cpu"
    if override is not None:
        flags = {f.strip().lower() for f in override.split(",") if f.strip()}
        return CpuFeatures(model, frozenset(flags), ENV_OVERRIDE)
    if info is not None:
        return CpuFeatures(model, frozenset(info[1]), "cpuinfo")
    return CpuFeatures(model, frozenset(_torch_probe()), "torch")
