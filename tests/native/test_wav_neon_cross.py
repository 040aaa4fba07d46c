"""The NEON PCM16 kernel, checked on x86-64 hosts by cross-compiling it for aarch64 and running it under
qemu-user (Debian: ``apt-get install g++-aarch64-linux-gnu qemu-user``). On aarch64 hosts the kernel runs
natively through the main tests instead (``_encode_pcm16_with_isa(x, "neon")``), so this file skips there,
and it skips where the cross tools are missing (a skip, never a pass)."""

from __future__ import annotations

import platform
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.native, pytest.mark.cross]

ROOT = Path(__file__).resolve().parents[2]
CXX = shutil.which("aarch64-linux-gnu-g++")
QEMU = shutil.which("qemu-aarch64") or shutil.which("qemu-aarch64-static")

DRIVER = r"""
#include <cstdio>
#include <vector>
#include "wav/pcm16_kernels.h"
int main(int argc, char** argv) {
  if (argc != 4) return 2;
  std::FILE* f = std::fopen(argv[1], "rb");
  std::vector<float> x;
  float v;
  while (std::fread(&v, 4, 1, f) == 1) x.push_back(v);
  std::fclose(f);
  std::vector<int16_t> a(x.size() + 1, 0x5555), b(x.size() + 1, 0x5555);
  // Run on every prefix length up to 40 and on the whole input, so each tail length is exercised.
  for (size_t n = 0; n <= 40 && n <= x.size(); ++n) {
    ishowtts::wav::pcm16_neon(x.data(), a.data(), n);
    ishowtts::wav::pcm16_scalar(x.data(), b.data(), n);
    for (size_t i = 0; i <= n; ++i) if (a[i] != b[i]) { std::fprintf(stderr, "prefix %zu differs at %zu\n", n, i); return 3; }
  }
  ishowtts::wav::pcm16_neon(x.data(), a.data(), x.size());
  ishowtts::wav::pcm16_scalar(x.data(), b.data(), x.size());
  if (a[x.size()] != 0x5555) return 4;  // wrote past the end
  std::FILE* o = std::fopen(argv[2], "wb"); std::fwrite(a.data(), 2, x.size(), o); std::fclose(o);
  o = std::fopen(argv[3], "wb"); std::fwrite(b.data(), 2, x.size(), o); std::fclose(o);
  return 0;
}
"""


def ref_pcm16(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        y = x.astype(np.float64) * 32768.0
    return np.rint(np.clip(np.where(np.isnan(y), 0.0, y), -32768.0, 32767.0)).astype("<i2")


@pytest.mark.skipif(platform.machine().lower() in ("aarch64", "arm64"), reason="NEON runs natively here")
@pytest.mark.skipif(CXX is None or QEMU is None, reason="needs aarch64-linux-gnu-g++ and qemu-aarch64")
def test_neon_kernel_matches_reference_under_qemu(tmp_path: Path) -> None:
    (tmp_path / "driver.cpp").write_text(DRIVER)
    exe = tmp_path / "drv"
    wav = ROOT / "csrc" / "wav"
    cmd = [
        str(CXX), "-O2", "-std=c++17", "-static", "-fno-math-errno", "-DISHOWTTS_HAVE_NEON=1",
        f"-I{ROOT / 'csrc'}", str(tmp_path / "driver.cpp"), str(wav / "pcm16_neon.cpp"),
        str(wav / "pcm16_scalar.cpp"), "-o", str(exe),
    ]  # fmt: skip
    build = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr

    lsb = 1.0 / 32768.0
    edges = [0.0, -0.0, 1.0, -1.0, np.nan, -np.nan, np.inf, -np.inf, 1e30, -1e30, 3.4e38, 1e-42, -1e-42]
    edges += [(k + 0.5) * lsb * s for k in (0, 1, 2, 3, 32766, 32767, 32768) for s in (1, -1)]
    edges += [np.nextafter(np.float32(1), np.float32(2)), np.nextafter(np.float32(-1), np.float32(-2))]
    rng = np.random.default_rng(0)
    x = np.concatenate([np.array(edges, np.float32), (rng.standard_normal(10_007) * 0.7).astype(np.float32)])
    x = np.concatenate([x, np.array([0x7FA00000, 0xFFC00001], np.uint32).view(np.float32)])
    (tmp_path / "in.f32").write_bytes(x.tobytes())
    run = subprocess.run(
        [str(QEMU), str(exe), str(tmp_path / "in.f32"), str(tmp_path / "neon.i16"), str(tmp_path / "scalar.i16")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, (run.returncode, run.stderr)
    want = ref_pcm16(x)
    neon = np.frombuffer((tmp_path / "neon.i16").read_bytes(), "<i2")
    scalar = np.frombuffer((tmp_path / "scalar.i16").read_bytes(), "<i2")
    np.testing.assert_array_equal(scalar, want)
    np.testing.assert_array_equal(neon, want)
