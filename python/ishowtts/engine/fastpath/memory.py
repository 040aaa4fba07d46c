"""Memory accounting for the fast path: peak per request, bytes per bucket set, a per-process GPU cap.

* CUDA peaks come from the caching allocator (``max_memory_allocated`` after ``reset_peak_memory_stats``:
  host-side counters, no device sync). CPU peaks are the process's peak RSS (``VmHWM``), reset through
  ``/proc/self/clear_refs`` where the kernel allows it (else the lifetime peak is reported).
* ``empty_cache`` is only ever called by :func:`release` (reconfiguration), never in the hot path.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import torch

from ishowtts.logging_setup import kv

__all__ = ["MemoryPeak", "buffer_bytes", "memory_report", "peak_memory", "release", "set_memory_cap"]

log = logging.getLogger(__name__)


def set_memory_cap(device: torch.device | str, cap: float | int | None) -> float | None:
    """Cap this process's GPU memory: ``cap`` a fraction (0, 1] of the device or a byte count (> 1).
    Returns the fraction applied (None: no cap, or not a CUDA device)."""
    device = torch.device(device)
    if cap is None or device.type != "cuda":
        return None
    if cap <= 0:
        raise ValueError(f"memory cap must be > 0, got {cap}")
    total = torch.cuda.get_device_properties(device).total_memory
    fraction = float(cap) if cap <= 1 else float(cap) / total
    if fraction > 1:
        raise ValueError(f"memory cap {cap} bytes exceeds the device's {total} bytes")
    torch.cuda.set_per_process_memory_fraction(fraction, device)
    log.info(
        "gpu memory cap",
        extra=kv(device=str(device), fraction=round(fraction, 4), bytes=int(fraction * total)),
    )
    return fraction


def _vm_hwm_bytes() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _reset_cpu_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


@dataclass
class MemoryPeak:
    """Peak memory of a code region. ``kind``: ``cuda_allocated`` or ``cpu_rss``; ``exact`` False when
    the CPU peak could not be reset (lifetime peak)."""

    kind: str
    peak_bytes: int = 0
    start_bytes: int = 0
    exact: bool = True

    @property
    def delta_bytes(self) -> int:
        return max(0, self.peak_bytes - self.start_bytes)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "delta_bytes": self.delta_bytes}


@contextlib.contextmanager
def peak_memory(device: torch.device | str) -> Iterator[MemoryPeak]:
    """Measure the peak memory inside the ``with`` block (filled in on exit)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        peak = MemoryPeak("cuda_allocated", start_bytes=torch.cuda.memory_allocated(device))
        try:
            yield peak
        finally:
            peak.peak_bytes = int(torch.cuda.max_memory_allocated(device))
        return
    exact = _reset_cpu_peak()
    peak = MemoryPeak("cpu_rss", start_bytes=_vm_hwm_bytes(), exact=exact)
    try:
        yield peak
    finally:
        peak.peak_bytes = _vm_hwm_bytes()


def buffer_bytes(obj: Any) -> int:
    """Bytes of every tensor attribute of ``obj`` (a slot), counting shared storages once."""
    seen: set[int] = set()
    total = 0
    for value in vars(obj).values():
        tensors = value if isinstance(value, tuple | list) else (value,)
        for t in tensors:
            if isinstance(t, torch.Tensor) and not isinstance(t, torch.nn.Parameter):
                key = t.untyped_storage().data_ptr()
                if key not in seen:
                    seen.add(key)
                    total += t.untyped_storage().nbytes()
    return total


def memory_report(
    runner: Any = None, vocoder: Any = None, device: torch.device | str | None = None
) -> dict[str, Any]:
    """Slots held, their static-buffer bytes per (batch, bucket), graphs captured and device totals."""
    out: dict[str, Any] = {"slots": [], "static_bytes": 0, "graphs": 0}
    for owner, kind in ((runner, "dit"), (vocoder, "vocos")):
        if owner is None:
            continue
        for key, slot in sorted(owner._slots.items()):
            nbytes = buffer_bytes(slot)
            out["slots"].append(
                {"kind": kind, "shape": list(key), "bytes": nbytes, "graph": slot.graph is not None}
            )
            out["static_bytes"] += nbytes
            out["graphs"] += int(slot.graph is not None)
    dev = (
        torch.device(device)
        if device is not None
        else (runner.device if runner is not None else torch.device("cpu"))
    )
    if dev.type == "cuda":
        out["device_allocated_bytes"] = int(torch.cuda.memory_allocated(dev))
        out["device_reserved_bytes"] = int(torch.cuda.memory_reserved(dev))
        out["device_peak_bytes"] = int(torch.cuda.max_memory_allocated(dev))
    else:
        out["process_peak_rss_bytes"] = _vm_hwm_bytes()
    return out


def release(*owners: Any) -> int:
    """Drop the slots/graphs/pools of every owner (``StaticRunner``/``StaticVocoder``) and hand freed
    memory back to the device. For reconfiguration only: never call this per request."""
    n = sum(int(o.release()) for o in owners if o is not None)
    gc.collect()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()
    log.info("fast path memory released", extra=kv(slots=n))
    return n
