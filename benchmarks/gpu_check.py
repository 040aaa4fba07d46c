"""One command for a GPU machine: every fast-path variant of F5TTS_v1_Base (random weights) against
eager fp32 on the same noise, at NFE 7/16/32 and 3 s / 10 s / 25 s of generated audio.

    python benchmarks/gpu_check.py                      # CUDA, F5TTS_v1_Base, full grid
    python benchmarks/gpu_check.py --device cpu --config tiny --quick     # smoke mode (tested in CI)

Paths (``--device cuda``): eager fp32, eager fp16 (autocast), graph fp16 (bucketed static runner + CUDA
graph replay), graph fp16 with the block Linears precast to fp16 (what the static renderer serves with),
compile+graph fp16 (inductor), and the graph path at batch 1/4/8. On the CPU the graph
paths run the same static code eagerly and fp16 becomes bf16. For each: wall time (min of rounds), RTF,
peak memory, the max abs difference of the mel and of the audio against eager fp32, and for batches the
throughput ratio against running the same requests one by one. Time-to-first-audio is the latency of a
streamed request's first chunk (1.5 s of audio) on the fastest path. Where ``f5_tts`` is importable,
upstream's own ``infer_process`` is timed on the same weights. JSON goes to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from ishowtts.engine.fastpath import memory
from ishowtts.engine.fastpath.buckets import BucketSet
from ishowtts.engine.fastpath.precision import autocast
from ishowtts.engine.fastpath.static_runner import SampleRequest, StaticRunner
from ishowtts.engine.fastpath.static_vocoder import StaticVocoder
from ishowtts.engine.random_weights import random_models
from ishowtts.model.precast import block_linears, precast_block_linears

FRAMES_PER_S = 24_000 / 256
REF_S = 3.0
TTFA_S = 1.5
RESULTS = Path(__file__).resolve().parent / "results"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device, rounds: int) -> tuple[float, Any, memory.MemoryPeak]:
    """(min wall seconds, last result, peak memory of one run) after one warm-up run."""
    out = fn()
    _sync(device)
    best = float("inf")
    with memory.peak_memory(device) as peak:
        for _ in range(rounds):
            t0 = time.perf_counter()
            out = fn()
            _sync(device)
            best = min(best, time.perf_counter() - t0)
    return best, out, peak


def make_request(dit: Any, seconds: float, seed: int, device: torch.device) -> SampleRequest:
    g = torch.Generator().manual_seed(seed)
    ref = int(REF_S * FRAMES_PER_S)
    frames = ref + int(seconds * FRAMES_PER_S)
    ntext = max(8, int((REF_S + seconds) * 14))  # ~14 symbols per second of speech
    vocab = dit.text_embed.text_embed.num_embeddings - 1
    return SampleRequest(
        cond=torch.randn(ref, dit.mel_dim, generator=g).to(device),
        text=torch.randint(0, vocab, (ntext,), generator=g).to(device),
        frames=frames,
        noise=torch.randn(frames, dit.mel_dim, generator=g).to(device),
    )


def eager_path(
    model: Any, vocoder: Any, req: SampleRequest, nfe: int, dtype: torch.dtype, device: torch.device
):
    def run() -> tuple[torch.Tensor, torch.Tensor]:
        with torch.inference_mode(), autocast(device, dtype):
            mel = model.sample(req.cond[None], req.text[None], req.frames, nfe_step=nfe, noise=req.noise[None])[
                0
            ]
            audio = vocoder.decode(mel[req.cond.shape[0] :].T[None])[0]
        return mel.float(), audio.float()

    return run


def static_path(runner: StaticRunner, voc: StaticVocoder, reqs: Sequence[SampleRequest], nfe: int):
    def run() -> tuple[torch.Tensor, torch.Tensor]:
        mels = runner.sample(list(reqs), nfe_step=nfe)
        audio = voc.decode([m[r.cond.shape[0] :].T for m, r in zip(mels, reqs, strict=True)])
        return mels[0].float(), audio[0].float()

    return run


def upstream_infer(model: Any, vocoder_dir: str | None, nfe: int, seconds: float) -> dict[str, Any]:
    """Time upstream's ``infer_process`` on our random weights (only where f5_tts is installed)."""
    try:
        import f5_tts  # noqa: F401
    except Exception as exc:
        return {"available": False, "reason": f"f5_tts not importable: {type(exc).__name__}"}
    try:  # pragma: no cover - needs the reference extra
        import numpy as np
        import soundfile as sf
        from f5_tts.infer.utils_infer import infer_process, load_vocoder
        from f5_tts.model import CFM, DiT

        cfg = model.config
        arch = dict(dim=cfg.dim, depth=cfg.depth, heads=cfg.heads, ff_mult=cfg.ff_mult, text_dim=cfg.text_dim,
                    conv_layers=cfg.conv_layers, text_mask_padding=cfg.text_mask_padding,
                    pe_attn_head=cfg.pe_attn_head, qk_norm=cfg.qk_norm)  # fmt: skip
        vocab = {s: i for i, s in enumerate(model.vocab.symbols)}
        up = CFM(transformer=DiT(**arch, text_num_embeds=len(vocab), mel_dim=100),
                 mel_spec_kwargs=dict(n_fft=1024, hop_length=256, win_length=1024, n_mel_channels=100,
                                      target_sample_rate=24000, mel_spec_type="vocos"),
                 vocab_char_map=vocab)  # fmt: skip
        up.load_state_dict(model.upstream_state_dict(), strict=False)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        up = up.to(device).eval()
        voc = load_vocoder("vocos", is_local=vocoder_dir is not None, local_path=vocoder_dir, device=device)
        tmp = Path(RESULTS / "_ref.wav")
        t = np.arange(int(REF_S * 24000)) / 24000
        sf.write(tmp, (0.3 * np.sin(2 * np.pi * 220 * t)).astype("float32"), 24000)
        gen_text = "word " * int(seconds * 3)
        kw = dict(nfe_step=nfe, device=device, show_info=lambda *a, **k: None)
        infer_process(str(tmp), "This is the reference. ", gen_text, up, voc, **kw)
        t0 = time.perf_counter()
        wave, sr, _ = infer_process(str(tmp), "This is the reference. ", gen_text, up, voc, **kw)
        wall = time.perf_counter() - t0
        tmp.unlink(missing_ok=True)
        return {"available": True, "wall_s": wall, "rtf": wall / (len(wave) / sr)}
    except Exception as exc:
        return {"available": True, "error": f"{type(exc).__name__}: {exc}"}


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--config", default="F5TTS_v1_Base")
    p.add_argument("--nfe", type=int, nargs="+", default=[7, 16, 32])
    p.add_argument("--seconds", type=float, nargs="+", default=[3.0, 10.0, 25.0])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 4, 8])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--no-compile", action="store_true", help="skip the compile+graph path")
    p.add_argument("--quick", action="store_true", help="smoke mode: NFE 7, 3 s, batches 1/2, 1 round")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--vocoder-dir", default=None, help="upstream Vocos dir for the upstream timing")
    a = p.parse_args(argv)
    if a.quick:
        a.nfe, a.seconds, a.batches, a.rounds = [7], [3.0], [1, 2], 1
    return a


def run_case(model: Any, vocoder: Any, device: torch.device, half: torch.dtype, nfe: int, seconds: float,
             batches: Sequence[int], rounds: int, do_compile: bool) -> dict[str, Any]:  # fmt: skip
    dit = model.transformer
    req = make_request(dit, seconds, 0, device)
    audio_s = seconds
    frames = req.needed_frames()
    buckets = BucketSet((frames,), tuple(sorted(set(batches) | {1})))
    graphs = device.type == "cuda"
    half_name = "fp16" if half == torch.float16 else "bf16"
    rows: dict[str, Any] = {}

    t32, (mel32, wav32), peak32 = timed(
        eager_path(model, vocoder, req, nfe, torch.float32, device), device, rounds
    )
    rows["eager_fp32"] = {"wall_s": t32, "rtf": t32 / audio_s, "peak_bytes": peak32.peak_bytes}

    def record(
        name: str, wall: float, out: tuple[torch.Tensor, torch.Tensor], peak: memory.MemoryPeak, **extra: Any
    ) -> None:
        mel, wav = out
        rows[name] = {
            "wall_s": wall, "rtf": wall / audio_s, "peak_bytes": peak.peak_bytes,
            "mel_max_abs_diff": float((mel - mel32).abs().max()), "audio_max_abs_diff": float((wav - wav32).abs().max()),
            "speedup_vs_eager_fp32": t32 / wall, **extra,
        }  # fmt: skip

    record(f"eager_{half_name}", *timed(eager_path(model, vocoder, req, nfe, half, device), device, rounds))
    runner = StaticRunner(dit, buckets, dtype=half, graphs=graphs)
    voc = StaticVocoder(vocoder, buckets, dtype=half, graphs=graphs, pool=runner.pool if graphs else None)
    record(
        f"graph_{half_name}" if graphs else f"static_{half_name}",
        *timed(static_path(runner, voc, [req], nfe), device, rounds),
    )
    for b in batches:
        reqs = [make_request(dit, seconds, 0, device)] + [
            make_request(dit, seconds, k, device) for k in range(1, b)
        ]
        wall, out, peak = timed(static_path(runner, voc, reqs, nfe), device, rounds)
        record(
            f"batch{b}_{half_name}",
            wall,
            out,
            peak,
            batch=b,
            per_request_s=wall / b,
            throughput_vs_batch1=None,
        )
    base = rows.get(f"batch1_{half_name}")
    for b in batches:
        row = rows[f"batch{b}_{half_name}"]
        if base is not None:
            row["throughput_vs_batch1"] = base["wall_s"] * b / row["wall_s"]
    memory.release(runner, voc)
    # what the static renderer serves with: the per-step block Linears stored in the half dtype once
    # (bit-identical to autocast, without re-casting ~185M weights every step). A copy, so the eager rows
    # keep fp32; its peak therefore includes both copies of the model (see "weights").
    pdit = copy.deepcopy(dit)
    precast_block_linears(pdit, half)
    prunner = StaticRunner(pdit, buckets, dtype=half, graphs=graphs)
    pvoc = StaticVocoder(vocoder, buckets, dtype=half, graphs=graphs, pool=prunner.pool if graphs else None)
    wall, out, peak = timed(static_path(prunner, pvoc, [req], nfe), device, rounds)
    base_row = rows[f"graph_{half_name}" if graphs else f"static_{half_name}"]
    record(
        f"graph_precast_{half_name}" if graphs else f"static_precast_{half_name}",
        wall, out, peak, speedup_vs_autocast_weights=base_row["wall_s"] / wall,
    )  # fmt: skip
    memory.release(prunner, pvoc)
    del prunner, pvoc, pdit
    if do_compile:
        from ishowtts.engine.fastpath.compile import compile_dit, compile_vocoder

        cdit = copy.deepcopy(dit)
        stats = compile_dit(cdit, "inductor")
        crunner = StaticRunner(cdit, buckets, dtype=half, graphs=graphs)
        cvoc = StaticVocoder(
            vocoder, buckets, dtype=half, graphs=graphs, pool=crunner.pool if graphs else None
        )
        vstats = compile_vocoder(cvoc, "inductor")
        wall, out, peak = timed(static_path(crunner, cvoc, [req], nfe), device, rounds)
        record(
            f"compile_graph_{half_name}",
            wall,
            out,
            peak,
            compiled_runs=stats.runs + vstats.runs,
            compiled_graphs=stats.graphs + vstats.graphs,
        )
        memory.release(crunner, cvoc)
        del crunner, cvoc, cdit
    return {
        "nfe": nfe,
        "audio_s": audio_s,
        "frames": frames,
        "paths": rows,
        "weights": weight_bytes(model, vocoder),
    }


def weight_bytes(model: Any, vocoder: Any) -> dict[str, int]:
    """Resident bytes of the fp32 model and what a precast half copy of the DiT would hold."""
    dit_fp32 = sum(p.numel() * p.element_size() for p in model.transformer.parameters())
    block = sum(p.numel() for m in block_linears(model.transformer) for p in m.parameters())
    voc = sum(p.numel() * p.element_size() for p in vocoder.parameters())
    return {"dit_fp32": dit_fp32, "dit_precast_half": dit_fp32 - 2 * block, "vocos_fp32": voc}


def ttfa(
    model: Any, vocoder: Any, device: torch.device, half: torch.dtype, nfe: int, rounds: int
) -> dict[str, Any]:
    """Latency of the first streamed chunk (1.5 s of audio after the reference) on the static path."""
    req = make_request(model.transformer, TTFA_S, 7, device)
    buckets = BucketSet((req.needed_frames(),), (1,))
    graphs = device.type == "cuda"
    runner = StaticRunner(model.transformer, buckets, dtype=half, graphs=graphs)
    voc = StaticVocoder(vocoder, buckets, dtype=half, graphs=graphs, pool=runner.pool if graphs else None)
    wall, _, _ = timed(static_path(runner, voc, [req], nfe), device, rounds)
    memory.release(runner, voc)
    return {"nfe": nfe, "first_chunk_audio_s": TTFA_S, "ttfa_s": wall}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    a = parse(argv)
    device = torch.device(a.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: use --device cpu (smoke mode: --device cpu --config tiny --quick)")
    half = torch.float16 if device.type == "cuda" else torch.bfloat16
    model, vocoder = random_models(a.config, 0)
    model, vocoder = model.to(device).eval(), vocoder.to(device).eval()
    report: dict[str, Any] = {
        "config": a.config, "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
        "torch": torch.__version__, "python": sys.version.split()[0], "quick": a.quick,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cases": [], "ttfa": [], "upstream": [],
    }  # fmt: skip
    with torch.no_grad():
        for nfe in a.nfe:
            for seconds in a.seconds:
                case = run_case(
                    model,
                    vocoder,
                    device,
                    half,
                    nfe,
                    seconds,
                    a.batches,
                    a.rounds,
                    not a.no_compile and not a.quick,
                )
                report["cases"].append(case)
                for name, row in case["paths"].items():
                    diff = row.get("audio_max_abs_diff")
                    print(f"NFE {nfe:2d} {seconds:4.0f} s {name:22s} RTF {row['rtf']:.4f}  peak {row['peak_bytes'] / 2**20:8.1f} MiB"
                          + ("" if diff is None else f"  max|diff| audio {diff:.2e} mel {row['mel_max_abs_diff']:.2e}"))  # fmt: skip
            report["ttfa"].append(ttfa(model, vocoder, device, half, nfe, a.rounds))
            print(f"NFE {nfe:2d} time-to-first-audio {report['ttfa'][-1]['ttfa_s'] * 1000:.1f} ms")
            if not a.quick:
                with contextlib.suppress(Exception):
                    report["upstream"].append(
                        {"nfe": nfe, "seconds": 10.0, **upstream_infer(model, a.vocoder_dir, nfe, 10.0)}
                    )
    a.out.mkdir(parents=True, exist_ok=True)
    path = a.out / f"gpu_check-{device.type}-{a.config}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}.json"
    path.write_text(json.dumps(report, indent=1))
    print(f"wrote {path}")
    report["path"] = str(path)
    return report


if __name__ == "__main__":
    main()
