"""Builds and runs csrc/resample/cross_check.cc: kernel agreement and bit-exact streaming checks in C++,
natively (AVX2 on x86-64) and, where an aarch64 cross compiler and qemu-aarch64 exist, for the NEON kernels,
which no x86 CI machine can otherwise execute. Slow (compiles the resampler sources): marked ``slow``."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = [pytest.mark.native, pytest.mark.slow, pytest.mark.cross]

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    "csrc/resample/cross_check.cc",
    "csrc/resample/resample_plan.cpp",
    "csrc/resample/resample_stream.cpp",
    "csrc/resample/resample_kernels_scalar.cpp",
    "csrc/cpu/cpu_features.cpp",
]
FLAGS = ["-std=c++17", "-O3", "-fno-math-errno", f"-I{ROOT / 'csrc'}"]


def run(cmd: list[str], timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64") or shutil.which("g++") is None,
    reason="needs g++ on x86-64",
)
def test_cross_check_avx2(tmp_path: Path) -> None:
    obj = tmp_path / "avx2.o"
    built = run(
        ["g++", *FLAGS, "-mavx2", "-mfma", "-c", "csrc/resample/resample_kernels_avx2.cpp", "-o", str(obj)]
    )
    assert built.returncode == 0, built.stderr
    exe = tmp_path / "check"
    built = run(["g++", *FLAGS, "-DISHOWTTS_HAVE_AVX2=1", *SOURCES, str(obj), "-o", str(exe)])
    assert built.returncode == 0, built.stderr
    result = run([str(exe)])
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failures 0" in result.stdout


@pytest.mark.skipif(
    shutil.which("aarch64-linux-gnu-g++") is None or shutil.which("qemu-aarch64") is None,
    reason="needs aarch64-linux-gnu-g++ and qemu-aarch64 to run the NEON kernels",
)
def test_cross_check_neon_under_qemu(tmp_path: Path) -> None:
    exe = tmp_path / "check_arm"
    built = run(
        [
            "aarch64-linux-gnu-g++",
            *FLAGS,
            "-DISHOWTTS_HAVE_NEON=1",
            *SOURCES,
            "csrc/resample/resample_kernels_neon.cpp",
            "-static",
            "-o",
            str(exe),
        ]
    )
    assert built.returncode == 0, built.stderr
    result = run(["qemu-aarch64", str(exe)])
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "neon vs scalar" in result.stdout and "failures 0" in result.stdout


@pytest.mark.skipif(shutil.which("aarch64-linux-gnu-g++") is None, reason="needs aarch64-linux-gnu-g++")
def test_whole_extension_compiles_for_aarch64() -> None:
    """Every native source but the AVX2 and AVX512-BF16 ones (which CMake builds only on x86-64), bindings
    included, is valid C++ for aarch64 (Jetson) without a warning: dispatch guards, NEON intrinsics, pybind11."""
    import sysconfig

    import pybind11

    x86_only = ("_avx2.cpp", "_avx512bf16.cpp")
    sources = sorted(p for p in (ROOT / "csrc").rglob("*.cpp") if not p.name.endswith(x86_only))
    assert any(p.name.endswith("_neon.cpp") for p in sources) and any(p.name == "module.cpp" for p in sources)
    includes = [f"-I{ROOT / 'csrc'}", f"-I{sysconfig.get_paths()['include']}", f"-I{pybind11.get_include()}"]

    def check(src: Path) -> subprocess.CompletedProcess:
        return run(["aarch64-linux-gnu-g++", "-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
                    "-DISHOWTTS_HAVE_NEON=1", *includes, str(src)])  # fmt: skip

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # one compiler per core
        results = list(pool.map(check, sources))
    for src, res in zip(sources, results, strict=True):
        assert res.returncode == 0, f"{src.relative_to(ROOT)}:\n{res.stderr}"
