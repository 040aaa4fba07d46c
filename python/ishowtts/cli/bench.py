"""`python -m ishowtts bench`: how fast is F5-TTS on this machine?

Times the real F5 architecture with random weights (they cost exactly the same compute as the released
ones, so no download is needed): real-time factor of a whole ``synthesize``, time to first audio of
``stream``, and peak GPU memory. The audio itself is noise. The repository's ``benchmarks/`` hold the
pytest-benchmark suites and the CI gate; ``benchmarks/gpu_check.py`` is the full GPU matrix.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from importlib import resources
from typing import Any

from ishowtts import defaults
from ishowtts.openmp import wait_policy

log = logging.getLogger("ishowtts.bench")

# A short line for --single-pass: one chunk, its length fixed by --seconds minus the reference.
_LINE = "Thanks for the follow, and welcome to the stream, everyone."
# ~10 s of speech at the bundled voice's speaking rate; --seconds fixes the generated length.
_TEXT = (
    "Welcome back to the stream, everyone. Thanks for the follows and the kind words in chat. "
    "Today we are trying the new map, and I will read your messages out loud as they come in."
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="Time F5 synthesis on this machine (random weights: RTF, time to first audio, memory)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--config", default="F5TTS_v1_Base", help="architecture: F5TTS_v1_Base, F5TTS_Base, small, tiny"
    )
    p.add_argument("--device", default=None, help="cuda, cuda:1, cpu (default: cuda if available)")
    p.add_argument(
        "--dtype", default=None,
        help="fp32, fp16, bf16 (default auto: fp16 on CUDA, bf16 on CPUs with AMX/AVX512-BF16, else fp32)",
    )
    p.add_argument(
        "--compile", choices=("auto", "on", "off"), default="auto",
        help="inductor-compile the DiT step and Vocos (default auto: on for bf16 and int8 on the CPU)",
    )
    p.add_argument(
        "--quantize", choices=("auto", "int8", "none"), default="auto",
        help="int8 DiT Linears via torchao (default auto: int8 on CPUs with AVX512-VNNI and no AMX, with torchao)",
    )
    p.add_argument(
        "--nfe", type=int, nargs="+", default=[7, defaults.NFE_STEP],
        help=f"sampler steps; several give one row each (default 7 {defaults.NFE_STEP})",
    )
    p.add_argument(
        "--renderer", choices=defaults.RENDERERS, default=defaults.RENDERER,
        help=f"static (bucketed, batching) or eager (one chunk at a time); default {defaults.RENDERER}",
    )  # fmt: skip
    p.add_argument(
        "--seconds", type=float, default=10.0,
        help="generated audio length; with --single-pass the total with the reference (default 10)",
    )
    p.add_argument(
        "--single-pass", action="store_true",
        help="one chunk of --seconds total audio, the reference included (one DiT pass per step, how F5-TTS"
        " speed is usually quoted); default: a ~10 s chat text in the engine's chunks, each with the reference",
    )
    p.add_argument("--runs", type=int, default=3, help="timed runs after one warm-up (default 3)")
    p.add_argument("--json", dest="json_out", default=None, help="also write the results here")
    p.set_defaults(func=run)


def measure(
    config: str,
    *,
    device: str | None = None,
    dtype: str | None = None,
    nfe: int = defaults.NFE_STEP,
    seconds: float = 10.0,
    runs: int = 3,
    renderer: str = defaults.RENDERER,
    compile: bool | None = defaults.COMPILE,
    quantize: str | None = defaults.QUANTIZE,
    single_pass: bool = False,
) -> dict[str, Any]:
    """Best-of-``runs`` timings of ``Engine.synthesize`` and ``Engine.stream`` (first piece)."""
    import numpy as np
    import soundfile as sf
    import torch

    from ishowtts.config import EngineConfig
    from ishowtts.engine.backend import SynthesisParams
    from ishowtts.engine.engine import Engine
    from ishowtts.engine.factory import engine_options
    from ishowtts.hardware import cpu_features

    if runs < 1 or nfe < 1 or seconds <= 0:
        raise ValueError("runs and nfe must be >= 1 and seconds > 0")
    # the options the server would build from [engine] with these values (the same factory function)
    options = engine_options(
        EngineConfig(device=device, dtype=dtype, nfe=nfe, renderer=renderer, compile=compile, quantize=quantize)
    )
    engine = Engine.random(config, options=options)
    voice_dir = resources.files("ishowtts") / "data" / "voices"
    with resources.as_file(voice_dir / "default.wav") as wav_path:
        audio, rate = sf.read(str(wav_path), dtype="float32")
    voice = engine.prepare_voice(np.asarray(audio), (voice_dir / "default.txt").read_text().strip(), rate)
    text = _TEXT
    params = SynthesisParams(nfe_step=nfe, seed=0, fix_duration=seconds)
    if single_pass:
        generated = seconds - voice.seconds
        if generated <= 0.5:
            raise ValueError(f"--single-pass needs --seconds above the reference's {voice.seconds:.1f} s")
        text = _LINE
        params = SynthesisParams(nfe_step=nfe, seed=0, fix_duration=generated, first_chunk=False)
    cuda = engine.device.type == "cuda"

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(engine.device)

    t0 = time.perf_counter()
    engine.synthesize(text, voice, params)  # warm-up: allocator, kernels, voice cache, compile
    warmup_s = time.perf_counter() - t0
    if cuda:
        torch.cuda.reset_peak_memory_stats(engine.device)
    synth_s, ttfa_s, out_seconds = [], [], 0.0
    for _ in range(runs):
        sync()
        t0 = time.perf_counter()
        out = engine.synthesize(text, voice, params)
        sync()
        synth_s.append(time.perf_counter() - t0)
        out_seconds = len(out) / 24_000
        t0 = time.perf_counter()
        pieces = engine.stream(text, voice, params)
        next(pieces)
        sync()
        ttfa_s.append(time.perf_counter() - t0)
        for _ in pieces:  # finish the request so the next run starts clean
            pass
    result: dict[str, Any] = {
        "config": config,
        "device": str(engine.device),
        "device_name": torch.cuda.get_device_name(engine.device) if cuda else "cpu",
        "cpu": cpu_features().model if not cuda else None,
        "dtype": str(engine.dtype).removeprefix("torch."),
        "compile": engine.resolved.compile,
        "quantize": engine.resolved.quantize,
        "attention": engine.resolved.attention,
        "decided": "; ".join(f"{k} {v}" for k, v in engine.resolved.why.items()),
        "nfe": nfe,
        "renderer": renderer,
        "single_pass": single_pass,
        "audio_seconds": round(out_seconds, 3),
        "chunks": len(engine.plan(text, voice, params)[1]),
        "synthesize_s": round(min(synth_s), 4),
        "rtf": round(min(synth_s) / out_seconds, 5),
        "time_to_first_audio_s": round(min(ttfa_s), 4),
        "first_run_s": round(warmup_s, 2),
        "runs": runs,
        "weights": "random (same compute as the released weights)",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "omp_wait_policy": wait_policy(),
    }
    if cuda:
        result["peak_memory_mib"] = round(torch.cuda.max_memory_allocated(engine.device) / 2**20, 1)
    return result


def run(args: argparse.Namespace) -> int:
    results = []
    try:
        for nfe in args.nfe:
            results.append(
                measure(
                    args.config,
                    device=args.device,
                    dtype=args.dtype,
                    nfe=nfe,
                    seconds=args.seconds,
                    single_pass=args.single_pass,
                    runs=args.runs,
                    renderer=args.renderer,
                    compile={"auto": None, "on": True, "off": False}[args.compile],
                    quantize=None if args.quantize == "none" else args.quantize,
                )
            )
    except (ValueError, KeyError, RuntimeError) as exc:
        print(f"ishowtts bench: {exc}", file=sys.stderr)
        return 2
    for i, result in enumerate(results):
        if i:
            print()
        width = max(len(k) for k in result)
        for key, value in result.items():
            print(f"{key:<{width}}  {value}")
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump(results[0] if len(results) == 1 else results, f, indent=2)
            f.write("\n")
    return 0
