"""Repository-wide pytest hooks, for tests/ and benchmarks/ alike. Test fixtures live in tests/."""

import os

import pytest

from ishowtts.openmp import prefer_passive_wait

# Tests and benchmarks run torch's OpenMP as `python -m ishowtts` does (before anything loads torch).
prefer_passive_wait()

# --- strict skips -----------------------------------------------------------------------------------
# CI sets ISHOWTTS_STRICT_SKIPS=1: a test skipped for a missing tool or package (ngircd, chromium, the
# aarch64 cross compiler + qemu, torchao, ...) fails the run instead of passing as a skip, and so does an
# expected failure (xfail): a known bug is fixed, not carried. Only platform skips are allowed.
_PLATFORM_SKIPS = (
    "NEON runs natively here",
    "this CPU has no SIMD kernels to compare",
    "needs a CUDA device",
    "this CPU has no AVX512-BF16",
)
_NO_AVX512_BF16 = "this CPU has no AVX512-BF16 (or ISHOWTTS_FORCE_SCALAR is set)"
_unexpected_skips: list[str] = []


def _strict_skips() -> bool:
    return os.environ.get("ISHOWTTS_STRICT_SKIPS", "") not in ("", "0")


def pytest_runtest_setup(item) -> None:  # type: ignore[no-untyped-def]
    # @pytest.mark.avx512_bf16: the test runs the native AVX512-BF16 kernel, a platform skip elsewhere
    if item.get_closest_marker("avx512_bf16") is not None:
        from ishowtts import _native

        if not _native.has_avx512_bf16():
            pytest.skip(_NO_AVX512_BF16)


def pytest_runtest_logreport(report) -> None:  # type: ignore[no-untyped-def]
    if not (_strict_skips() and report.skipped):
        return
    if hasattr(report, "wasxfail"):
        _unexpected_skips.append(f"{report.nodeid}: xfail {report.wasxfail}")
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if not any(allowed in reason for allowed in _PLATFORM_SKIPS):
        _unexpected_skips.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session, exitstatus) -> None:  # type: ignore[no-untyped-def]
    if _unexpected_skips and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if _unexpected_skips:
        terminalreporter.section("skips not allowed under ISHOWTTS_STRICT_SKIPS=1", red=True)
        for line in _unexpected_skips:
            terminalreporter.line(line)
