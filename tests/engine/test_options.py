"""``dtype`` / ``quantize`` / ``compile`` "auto": what each kind of machine gets, and why
(``engine.options.resolve``)."""

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


def torchao(monkeypatch: pytest.MonkeyPatch, present: bool) -> None:
    from ishowtts.engine.fastpath import quantize

    monkeypatch.setattr(quantize, "torchao_available", lambda: present)


def native_kernel(monkeypatch: pytest.MonkeyPatch, present: bool) -> None:
    """Whether this process can run the AVX512-BF16 attention (the real probe reads the CPU)."""
    from ishowtts.model import cpu_attention

    monkeypatch.setattr(cpu_attention, "available", lambda: present)


@pytest.mark.parametrize(
    ("feats", "dtype", "quantize", "compiled", "attention"),
    [
        (AMX, torch.bfloat16, None, True, "sdpa"),
        (ZEN4, torch.bfloat16, "int8", True, "native"),
        (AVX2, torch.float32, None, False, "sdpa"),
    ],
)
def test_auto_on_the_cpu(cxx, monkeypatch, feats: CpuFeatures, dtype, quantize, compiled, attention) -> None:
    torchao(monkeypatch, True)
    native_kernel(monkeypatch, True)
    r = resolve(EngineOptions(), CPU, feats)
    assert (r.dtype, r.quantize, r.compile, r.attention) == (dtype, quantize, compiled, attention)
    assert all(r.why[k].startswith("auto:") for k in ("dtype", "quantize", "compile", "attention"))
    if dtype == torch.bfloat16:
        assert feats.matrix_unit in r.why["dtype"]


def test_auto_int8_needs_torchao_and_a_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without torchao a Zen 4 runs bf16 compiled, without g++ bf16 uncompiled; each says what it would take."""
    monkeypatch.setattr(options_mod, "_has_cxx", lambda: True)
    torchao(monkeypatch, False)
    r = resolve(EngineOptions(), CPU, ZEN4)
    assert (r.dtype, r.quantize, r.compile) == (torch.bfloat16, None, True)
    assert "ishowtts[fast]" in r.why["quantize"]
    torchao(monkeypatch, True)
    monkeypatch.setattr(options_mod, "_has_cxx", lambda: False)
    r = resolve(EngineOptions(), CPU, ZEN4)
    assert (r.quantize, r.compile) == (None, False) and "C++ compiler" in r.why["quantize"]


def test_auto_int8_only_where_it_measured_faster(cxx, monkeypatch: pytest.MonkeyPatch) -> None:
    torchao(monkeypatch, True)
    assert resolve(EngineOptions(), CUDA, ZEN4).quantize is None  # CUDA: fp16 graphs
    assert resolve(EngineOptions(renderer="eager"), CPU, ZEN4).quantize is None  # the reference path
    assert resolve(EngineOptions(dtype="fp32"), CPU, ZEN4).quantize is None  # int8 is measured against bf16
    assert "AMX" in resolve(EngineOptions(), CPU, AMX).why["quantize"]
    r = resolve(EngineOptions(quantize=None), CPU, ZEN4)  # configured off: bf16, compiled
    assert (r.quantize, r.compile, r.why["quantize"]) == (None, True, "configured")
    r = resolve(EngineOptions(compile=False), CPU, ZEN4)  # int8 without inductor is not the measured one
    assert (r.quantize, r.compile) == (None, False) and "compile is off" in r.why["quantize"]


def test_quantize_values() -> None:
    for bad in ("int4", "on", ""):
        with pytest.raises(ValueError, match="quantize"):
            EngineOptions(quantize=bad)
    EngineOptions(renderer="eager", quantize="auto")  # auto resolves to off there
    with pytest.raises(ValueError, match="static"):
        EngineOptions(renderer="eager", quantize="int8")


def test_auto_on_cuda_is_fp16_without_compile() -> None:
    r = resolve(EngineOptions(), CUDA, AMX)
    assert (r.dtype, r.compile) == (torch.float16, False)


def test_configured_values_win(cxx) -> None:
    r = resolve(EngineOptions(dtype="fp32", compile=False, quantize=None, attention="sdpa"), CPU, AMX)
    assert (r.dtype, r.compile, r.quantize, r.attention) == (torch.float32, False, None, "sdpa")
    assert set(r.why.values()) == {"configured"} and len(r.why) == 4
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
    assert info["dtype"] == "float32" and info["compile"] is False and info["quantize"] is None
    assert info["decided"]["dtype"] == "auto: fp32, the CPU has no bf16 matmul units"


def test_auto_attention_only_where_the_native_kernel_runs_and_was_measured(monkeypatch) -> None:
    native_kernel(monkeypatch, True)
    assert resolve(EngineOptions(), CUDA, ZEN4).attention == "sdpa"
    assert resolve(EngineOptions(renderer="eager"), CPU, ZEN4).attention == "sdpa"  # the reference path
    assert resolve(EngineOptions(dtype="fp32"), CPU, ZEN4).attention == "sdpa"  # the kernel is bf16
    assert "AMX" in resolve(EngineOptions(), CPU, AMX).why["attention"]
    native_kernel(monkeypatch, False)
    r = resolve(EngineOptions(), CPU, ZEN4)
    assert r.attention == "sdpa" and "AVX512-BF16" in r.why["attention"]


def test_native_attention_configured_where_it_cannot_run_is_an_error(monkeypatch) -> None:
    native_kernel(monkeypatch, False)
    with pytest.raises(ValueError, match="AVX512-BF16"):
        resolve(EngineOptions(dtype="bf16", attention="native"), CPU, ZEN4)
    native_kernel(monkeypatch, True)
    with pytest.raises(ValueError, match="bf16"):
        resolve(EngineOptions(dtype="fp32", attention="native"), CPU, ZEN4)
    with pytest.raises(ValueError, match="static"):
        EngineOptions(renderer="eager", attention="native")
    with pytest.raises(ValueError, match="attention"):
        EngineOptions(attention="flash")


def test_native_attention_needs_heads_of_64(monkeypatch) -> None:
    native_kernel(monkeypatch, True)
    r = resolve(EngineOptions(), CPU, ZEN4, head_dim=16)
    assert r.attention == "sdpa" and "heads of 64" in r.why["attention"]
    assert resolve(EngineOptions(), CPU, ZEN4, head_dim=64).attention == "native"
    with pytest.raises(ValueError, match="heads of 64"):
        resolve(EngineOptions(dtype="bf16", attention="native"), CPU, ZEN4, head_dim=16)
