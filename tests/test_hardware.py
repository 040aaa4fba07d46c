"""The CPU feature probe that decides the CPU defaults (``ishowtts.hardware``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ishowtts import hardware
from ishowtts.hardware import CpuFeatures, cpu_features


@pytest.fixture
def real_probe(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(hardware.ENV_OVERRIDE, raising=False)
    cpu_features.cache_clear()
    yield cpu_features
    cpu_features.cache_clear()


def test_probe_reads_this_machines_cpuinfo(real_probe) -> None:
    text = Path("/proc/cpuinfo").read_text()
    flags = next(line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags"))
    model = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name"))
    feats = real_probe()
    assert feats.source == "cpuinfo"
    assert feats.model == model
    assert feats.flags == frozenset(flags)
    assert feats.amx == ("amx_bf16" in flags)
    assert feats.bf16_matmul == ("amx_bf16" in flags or "avx512_bf16" in flags)


def test_override_pretends_another_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(hardware.ENV_OVERRIDE, "AVX512_BF16, avx2")
    cpu_features.cache_clear()
    try:
        feats = cpu_features()
    finally:
        cpu_features.cache_clear()
    assert feats.source == hardware.ENV_OVERRIDE
    assert feats.flags == {"avx512_bf16", "avx2"}
    assert (feats.matrix_unit, feats.bf16_matmul, feats.amx, feats.int8_matmul) == ("avx512_bf16", True, False, False)


@pytest.mark.parametrize(
    ("flags", "unit", "bf16", "int8"),
    [
        ({"amx_bf16", "amx_int8", "amx_tile", "avx512_bf16", "avx512_vnni", "avx2"}, "amx", True, True),
        ({"avx512_bf16", "avx512_vnni", "avx512f", "avx2"}, "avx512_bf16", True, True),  # Zen 4
        ({"avx512_vnni", "avx512f", "avx2"}, "none", False, True),  # Ice Lake
        ({"avx2", "fma"}, "none", False, False),
        (set(), "none", False, False),
    ],
)
def test_matrix_units(flags: set[str], unit: str, bf16: bool, int8: bool) -> None:
    feats = CpuFeatures("x", frozenset(flags), "test")
    assert (feats.matrix_unit, feats.bf16_matmul, feats.int8_matmul) == (unit, bf16, int8)
    d = feats.as_dict()
    assert d["matrix_unit"] == unit and set(d["isa"]) <= set(hardware.KNOWN_FLAGS)


def test_torch_probe_agrees_with_cpuinfo_on_bf16_units(real_probe) -> None:
    """The fallback (no /proc/cpuinfo) must reach the same bf16 verdict as the kernel's flags."""
    probed = hardware._torch_probe()
    feats = real_probe()
    assert ("amx_bf16" in probed) == feats.amx
    assert ("amx_bf16" in probed or "avx512_bf16" in probed) == feats.bf16_matmul
