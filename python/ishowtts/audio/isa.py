"""Which SIMD kernels the native core chose at import."""

from ishowtts import _native


def active_isa() -> str:
    """'avx2+fma', 'neon' or 'scalar'. ``ISHOWTTS_FORCE_SCALAR=1`` (set before import) forces 'scalar'."""
    return _native.active_isa()


def detected_isa() -> str:
    """The best ISA the CPU supports, regardless of ``ISHOWTTS_FORCE_SCALAR``."""
    return _native.detected_isa()
