"""A tiny deterministic byte consumer shared by the fuzz targets (atheris feeds it fuzzer bytes, the pytest
regression run feeds it hypothesis bytes), so the targets do not depend on atheris' own data provider."""

from __future__ import annotations

import numpy as np


class ByteReader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + max(0, n)]
        self.pos += len(out)
        return out

    def uint(self, nbytes: int = 1) -> int:
        return int.from_bytes(self.take(nbytes).ljust(nbytes, b"\0"), "little")

    def int_in(self, lo: int, hi: int) -> int:
        """An int in [lo, hi] (inclusive)."""
        span = hi - lo + 1
        nbytes = max(1, (span.bit_length() + 7) // 8)
        return lo + self.uint(nbytes) % span

    def pick(self, options: list | tuple):
        return options[self.int_in(0, len(options) - 1)]

    def float32s(self, n: int) -> np.ndarray:
        """``n`` float32 values from the raw bytes (every bit pattern: NaN payloads, Inf, denormals), padded
        by cycling a short ramp when the input runs out."""
        raw = self.take(4 * n)
        vals = np.frombuffer(raw[: len(raw) // 4 * 4], dtype="<f4").astype(np.float32)
        if len(vals) < n:
            pad = (np.arange(n - len(vals), dtype=np.float32) % 17 - 8) / 8
            vals = np.concatenate([vals, pad.astype(np.float32)])
        return vals


def layouts(r: ByteReader, x: np.ndarray) -> tuple[np.ndarray | object, str]:
    """``x`` (float32, C-contiguous) or one of the layouts the bindings must refuse or handle:
    ``(array_or_object, kind)`` where kind is 'ok' for a valid C-contiguous float32 array."""
    kind = r.int_in(0, 11)
    if kind <= 4:
        return x, "ok"
    if kind == 5:  # strided view
        return np.repeat(x, 2, axis=0)[::2], "strided"
    if kind == 6:  # misaligned (offset 1..3 bytes into a buffer)
        off = r.int_in(1, 3)
        buf = np.zeros(x.nbytes + off, dtype=np.uint8)
        view = buf[off : off + x.nbytes].view(np.float32).reshape(x.shape)
        view[...] = x
        return view, "misaligned"
    if kind == 7:
        with np.errstate(invalid="ignore"):
            return x.astype(np.float64), "dtype"
    if kind == 8:
        return (np.asfortranarray(x) if x.ndim == 2 else x), "fortran"
    if kind == 9:
        ro = x.copy()
        ro.setflags(write=False)
        return ro, "ok"
    if kind == 10:
        return x.reshape((1, *x.shape, 1)) if x.size else np.zeros((0, 1, 1), np.float32), "ndim"
    with np.errstate(invalid="ignore", over="ignore"):
        as_int = x.astype(np.int16)
    return r.pick([None, [0.0, 1.0], b"\0\0\0\0", 3.0, np.float32(1.0), as_int]), "object"


def canonical(arg: object, x: np.ndarray) -> bool:
    """True when ``arg`` is what every binding must accept: x's shape, float32, C-contiguous, aligned."""
    return (
        isinstance(arg, np.ndarray)
        and arg.dtype == np.float32
        and arg.shape == x.shape
        and arg.flags.c_contiguous
        and arg.flags.aligned
        and arg.ctypes.data % 4 == 0
    )


def cuts(r: ByteReader, n: int) -> list[int]:
    """Random chunk boundaries 0 = c0 <= c1 <= ... <= n (chunks of 0 and 1 samples included)."""
    out, i = [0], 0
    while i < n and r.remaining():
        i = min(n, i + r.pick([0, 1, r.int_in(0, 16), r.int_in(0, n)]))
        out.append(i)
    out.append(n)
    return out
