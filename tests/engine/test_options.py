"""``dtype`` / ``compile`` "auto": what each kind of machine gets, and why (``engine.options.resolve``)."""

from __future__ import annotations

import pytest
import torch

from ishowtts.engine import options as options_mod
from ishowtts.engine.options import EngineOptions, resolve
from ishowtts.hardware import CpuFeatures

AMX = CpuFeatures("Xeon", frozenset({"amx_bf16", "amx_int8", "avx512_bf16", "avx512_vnni", "avx2"}), "t")
ZEN4 = CpuFeatures("EPYC", frozenset({"avx512_bf16", "avx512_vnni", "avx512f", "avx2"}), "t")
AVX2 = CpuFeatures("Core", frozenset({"avx2", "fma"}), "t")
CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.fixture
def cxx(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(options_mod, "_has_cxx", lambda: True)


@pytest.mark.parametrize(
    ("feats", "dtype", "compiled"),
    [(AMX, torch.bfloat16, True), (ZEN4, torch.bfloat16, False), (AVX2, torch.float32, False)],
)
def test_auto_on_the_cpu(cxx, feats: CpuFeatures, dtype: torch.dtype, compiled: bool) -> None:
    r = resolve(EngineOptions(), CPU, feats)
    assert (r.dtype, r.compile) == (dtype, compiled)
    assert r.why["dtype"].startswith("auto:") and r.why["compile"].startswith("auto:")
    if dtype == torch.bfloat16:
        assert feats.matrix_unit in r.why["dtype"]


def test_auto_on_cuda_is_fp16_without_compile() -> None:
    r = resolve(EngineOptions(), CUDA, AMX)
    assert (r.dtype, r.compile) == (torch.float16, False)


def test_configured_values_win(cxx) -> None:
    r = resolve(EngineOptions(dtype="fp32", compile=False), CPU, AMX)
    assert (r.dtype, r.compile, r.why) == (torch.float32, False, {"dtype": "configured", "compile": "configured"})
    r = resolve(EngineOptions(dtype="bf16", compile=True), CPU, AVX2)
    assert (r.dtype, r.compile) == (torch.bfloat16, True)


def test_auto_compile_needs_a_compiler_and_the_static_renderer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(options_mod, "_has_cxx", lambda: False)
    r = resolve(EngineOptions(), CPU, AMX)
    assert r.dtype == torch.bfloat16 and not r.compile and "C++ compiler" in r.why["compile"]
    monkeypatch.setattr(options_mod, "_has_cxx", lambda: True)
    r = resolve(EngineOptions(renderer="eager"), CPU, AMX)
    assert not r.compile and "eager" in r.why["compile"]


def test_int8_auto_compiles_on_amx(cxx) -> None:
    r = resolve(EngineOptions(quantize="int8"), CPU, AMX)
    assert r.compile and "int8" in r.why["compile"]


def test_engine_reports_its_decisions() -> None:
    """The test session pins an AVX2 CPU (tests/conftest.py): auto is fp32, no compile, and info says so."""
    from ishowtts.engine.engine import Engine

    eng = Engine.random("tiny", options=EngineOptions(device="cpu"))
    info = eng.info()
    assert info["dtype"] == "float32" and info["compile"] is False
    assert info["decided"]["dtype"] == "auto: fp32, the CPU has no bf16 matmul units"
