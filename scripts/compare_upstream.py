"""Run upstream f5-tts + vocos and our model on the SAME random weights, reference mel, text and noise.

Needs the ``reference`` extra, i.e. run it with the reference venv and our package on the path::

    PYTHONPATH=python /work/refvenv/bin/python scripts/compare_upstream.py --config tiny --nfe 16
    PYTHONPATH=python /work/refvenv/bin/python scripts/compare_upstream.py --config F5TTS_v1_Base \\
        --nfe 16 --seconds 10 --steps-only 2

Both sides do what one synthesis chunk does: ``CFM.sample`` over the full length (reference frames
included, CFG as a 2B batch, EPSS + sway t grid, noise from ``torch.manual_seed(seed)``), drop the
reference frames, ``Vocos.decode``. Upstream's weights are re-randomised (every parameter, like the
fixtures) and the very same state dicts are loaded into ours through our public loaders. Timing alternates
upstream / ours ``--repeats`` times after one warm-up each and reports the minimum (the machine may be
shared, so the ratio of minima from the same run is the figure to read), plus the max abs difference of
the mel and of the audio.

``--steps-only N`` times N sampler steps (``sample(nfe_step=N)`` on a uniform t grid, no vocoder) — for the
full-size model on a slow CPU. ``--fast MODES`` runs our side through the fast path's own switches
(comma-separated: ``bf16`` autocast (``fastpath.precision``), ``int8`` torchao dynamic int8 of the
transformer Linears (``fastpath.quantize``), ``compile`` inductor-compiled DiT step
(``fastpath.compile``, its counters must show the compiled code ran)) and reports its error against
upstream fp32, e.g. ``--fast int8,compile`` or ``--fast bf16``. Upstream always runs plain fp32.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ishowtts.engine.random_weights import VOCOS_CONFIG  # charactr/vocos-mel-24khz architecture
from make_reference_fixtures import randomise_parameters

log = logging.getLogger("compare_upstream")

HOP = 256
SAMPLE_RATE = 24000
MEL = 100

# upstream model.arch keys (+ text_num_embeds/mel_dim filled in from the vocab)
CONFIGS: dict[str, dict[str, Any]] = {
    "tiny": {"dim": 64, "depth": 2, "heads": 4, "dim_head": 16, "ff_mult": 2, "text_dim": 32, "conv_layers": 2},
    "small": {"dim": 256, "depth": 4, "heads": 4, "dim_head": 64, "ff_mult": 2, "text_dim": 128, "conv_layers": 2},
    "F5TTS_v1_Base": {"dim": 1024, "depth": 22, "heads": 16, "dim_head": 64, "ff_mult": 2, "text_dim": 512, "conv_layers": 4},
    "F5TTS_Base": {"dim": 1024, "depth": 22, "heads": 16, "dim_head": 64, "ff_mult": 2, "text_dim": 512, "conv_layers": 4,
                   "text_mask_padding": False, "pe_attn_head": 1},
}  # fmt: skip
COMMON_ARCH = {"text_mask_padding": True, "pe_attn_head": None, "qk_norm": None}


REF_TEXT = "Some call me nature, others call me mother nature. "
GEN_TEXT = "我们今天一起来测试一下, and then we read the chat aloud in a cloned voice!"


@dataclass
class Side:
    name: str
    sample: Callable[[int], torch.Tensor]  # steps -> full mel (1, N, 100)
    decode: Callable[[torch.Tensor], torch.Tensor]  # (1, 100, T) -> (1, samples)
    context: Callable[[], AbstractContextManager[Any]]


@dataclass
class Timing:
    sample_s: float
    decode_s: float
    cpu_s: float  # process CPU time of sample + decode (robust to a shared machine with --threads 1)

    @property
    def total_s(self) -> float:
        return self.sample_s + self.decode_s


# ----------------------------------------------------------------------------------------------- setup


def upstream_vocab() -> Path:
    from importlib.resources import files

    return Path(str(files("f5_tts").joinpath("infer/examples/vocab.txt")))


def read_vocab(path: Path) -> dict[str, int]:
    with path.open(encoding="utf-8") as f:
        return {line[:-1]: i for i, line in enumerate(f)}


def build_upstream(arch: dict[str, Any], vocab_map: dict[str, int], seed: int) -> torch.nn.Module:
    from f5_tts.model import CFM, DiT

    torch.manual_seed(seed)
    cfm = CFM(
        transformer=DiT(**arch),
        mel_spec_kwargs=dict(
            n_fft=1024,
            hop_length=HOP,
            win_length=1024,
            n_mel_channels=MEL,
            target_sample_rate=SAMPLE_RATE,
            mel_spec_type="vocos",
        ),
        odeint_kwargs=dict(method="euler"),
        vocab_char_map=vocab_map,
    )
    randomise_parameters(cfm, torch.Generator().manual_seed(seed + 1))
    return cfm.eval()


def build_upstream_vocos(seed: int, tmp: Path) -> tuple[torch.nn.Module, Path]:
    import yaml
    from vocos import Vocos

    vdir = tmp / "vocos"
    vdir.mkdir()
    (vdir / "config.yaml").write_text(yaml.safe_dump(VOCOS_CONFIG, sort_keys=False))
    torch.manual_seed(seed)
    voc = Vocos.from_hparams(str(vdir / "config.yaml"))
    randomise_parameters(voc, torch.Generator().manual_seed(seed + 1))
    torch.save(voc.state_dict(), vdir / "pytorch_model.bin")
    return voc.eval(), vdir


def build_ours(
    cfm: torch.nn.Module, arch: dict[str, Any], vocab: Path, vocos_dir: Path
) -> tuple[torch.nn.Module, torch.nn.Module]:
    from ishowtts.model import load_f5, load_vocos

    # upstream's EMA checkpoint layout, in memory
    sd = {"initted": torch.tensor(True), "step": torch.tensor(0)}
    sd.update({f"ema_model.{k}": v for k, v in cfm.state_dict().items()})
    model = load_f5(sd, config=dict(arch), vocab=str(vocab))
    del sd
    voc = load_vocos(str(vocos_dir))
    return model.eval(), voc.eval()


def make_inputs(seconds: float, ref_seconds: float, seed: int) -> tuple[torch.Tensor, list[str], int]:
    from f5_tts.model.utils import convert_char_to_pinyin

    n_ref = max(1, round(ref_seconds * SAMPLE_RATE / HOP))
    total = max(n_ref + 1, round(seconds * SAMPLE_RATE / HOP))
    g = torch.Generator().manual_seed(seed)
    cond = torch.randn(1, n_ref, MEL, generator=g) * 2.0 - 4.0  # log-mel-like
    symbols = convert_char_to_pinyin([REF_TEXT + GEN_TEXT])[0]
    return cond, symbols, total


FAST_MODES = ("bf16", "int8", "compile")


def parse_fast(text: str) -> tuple[str, ...]:
    modes = tuple(m.strip() for m in text.split(",") if m.strip())
    bad = [m for m in modes if m not in FAST_MODES]
    if bad or not modes:
        raise argparse.ArgumentTypeError(
            f"--fast takes a comma-separated subset of {FAST_MODES}, got {text!r}"
        )
    return modes


def apply_fast(ours: torch.nn.Module, our_voc: torch.nn.Module, modes: tuple[str, ...]) -> Any:
    """Our model on the fast path's switches, exactly as an engine with the static renderer applies them
    to its own model when it is built (bf16 itself is the autocast in ``fast_ctx``); returns the DiT's
    compile stats or None."""
    from ishowtts.engine.engine import Engine
    from ishowtts.engine.options import EngineOptions

    if not modes:
        return None
    options = EngineOptions(
        device="cpu", dtype="bf16" if "bf16" in modes else "fp32", renderer="static",
        quantize="int8" if "int8" in modes else None, compile="compile" in modes, compile_backend="inductor",
    )  # fmt: skip
    return Engine(ours, our_voc, options).renderer.compile_stats.get("dit")


# ------------------------------------------------------------------------------------------------ runs


def make_sides(
    cfm: torch.nn.Module,
    up_voc: torch.nn.Module,
    ours: torch.nn.Module,
    our_voc: torch.nn.Module,
    cond: torch.Tensor,
    symbols: list[str],
    total: int,
    args: argparse.Namespace,
) -> tuple[Side, Side]:
    use_epss = args.steps_only is None
    n_ref = cond.shape[1]

    def up_sample(steps: int) -> torch.Tensor:
        out, _ = cfm.sample(
            cond=cond, text=[symbols], duration=total, steps=steps, cfg_strength=args.cfg,
            sway_sampling_coef=args.sway, seed=args.seed, use_epss=use_epss,
        )  # fmt: skip
        return out

    def our_sample(steps: int) -> torch.Tensor:
        kwargs: dict[str, Any] = {}
        if not use_epss:
            kwargs["use_epss"] = False
        return ours.sample(
            cond, [symbols], total, nfe_step=steps, cfg_strength=args.cfg, sway_sampling_coef=args.sway,
            seed=args.seed, **kwargs,
        )  # fmt: skip

    def decoder(voc: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
        def run(mel: torch.Tensor) -> torch.Tensor:
            return voc.decode(mel[:, n_ref:, :].permute(0, 2, 1))

        return run

    def fast_ctx() -> AbstractContextManager[Any]:
        from ishowtts.engine.fastpath.precision import autocast

        return autocast("cpu", torch.bfloat16) if "bf16" in args.fast else nullcontext()

    return (
        Side("upstream", up_sample, decoder(up_voc), nullcontext),
        Side("ours", our_sample, decoder(our_voc), fast_ctx),
    )


def run_once(side: Side, steps: int, with_vocoder: bool) -> tuple[Timing, torch.Tensor, torch.Tensor | None]:
    with torch.inference_mode(), side.context():
        c0 = time.process_time()
        t0 = time.perf_counter()
        mel = side.sample(steps)
        t1 = time.perf_counter()
        audio = side.decode(mel) if with_vocoder else None
        t2 = time.perf_counter()
        c1 = time.process_time()
    return Timing(t1 - t0, t2 - t1, c1 - c0), mel.float(), None if audio is None else audio.float()


def maxdiff(a: torch.Tensor | None, b: torch.Tensor | None) -> float | None:
    if a is None or b is None:
        return None
    if a.shape != b.shape:
        raise SystemExit(f"shape mismatch between upstream {tuple(a.shape)} and ours {tuple(b.shape)}")
    return (a - b).abs().max().item()


def nmse_or_none(ours: torch.Tensor | None, upstream: torch.Tensor | None) -> float | None:
    if ours is None or upstream is None:
        return None
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from numerics import nmse  # the benchmarks' error metric

    return nmse(ours, upstream)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", choices=sorted(CONFIGS), default="tiny")
    ap.add_argument("--nfe", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=10.0, help="total mel length incl. the reference")
    ap.add_argument("--ref-seconds", type=float, default=None, help="reference length (default seconds/3)")
    ap.add_argument("--steps-only", type=int, default=None, metavar="N",
                    help="time N sampler steps (uniform grid, no vocoder) instead of the full --nfe run")  # fmt: skip
    ap.add_argument(
        "--fast", type=parse_fast, nargs="?", const=("bf16",), default=(), metavar="MODES",
        help=f"our fast-path switches, comma-separated from {FAST_MODES} (bare --fast: bf16) vs upstream fp32",
    )  # fmt: skip
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--cfg", type=float, default=2.0)
    ap.add_argument("--sway", type=float, default=-1.0)
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    ap.add_argument("--profile", type=Path, default=None, help="write torch.profiler tables for one run each")
    ap.add_argument("--json", action="store_true", help="print the result as one JSON line too")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)

    vocab_path = upstream_vocab()
    vocab_map = read_vocab(vocab_path)
    arch = {**COMMON_ARCH, **CONFIGS[args.config], "text_num_embeds": len(vocab_map), "mel_dim": MEL}
    ref_seconds = args.ref_seconds if args.ref_seconds is not None else args.seconds / 3
    cond, symbols, total = make_inputs(args.seconds, ref_seconds, args.seed)
    steps = args.steps_only if args.steps_only is not None else args.nfe
    with_vocoder = args.steps_only is None

    with tempfile.TemporaryDirectory(prefix="compare_upstream_") as tmpdir:
        t0 = time.perf_counter()
        cfm = build_upstream(arch, vocab_map, seed=args.seed)
        up_voc, vocos_dir = build_upstream_vocos(args.seed + 7, Path(tmpdir))
        ours, our_voc = build_ours(cfm, arch, vocab_path, vocos_dir)
        compile_stats = apply_fast(ours, our_voc, args.fast)
        gc.collect()
        log.info("models built config=%s seconds=%.1f", args.config, time.perf_counter() - t0)
    upstream, mine = make_sides(cfm, up_voc, ours, our_voc, cond, symbols, total, args)

    params = sum(p.numel() for p in cfm.transformer.parameters())
    log.info(
        "config=%s params=%.1fM frames=%d ref_frames=%d text_tokens=%d steps=%d threads=%d",
        args.config, params / 1e6, total, cond.shape[1], len(symbols), steps, torch.get_num_threads(),
    )  # fmt: skip

    # warm-up (also gives the outputs to compare)
    t_up, mel_up, audio_up = run_once(upstream, steps, with_vocoder)
    t_me, mel_me, audio_me = run_once(mine, steps, with_vocoder)
    log.info("warm-up upstream=%.3fs ours=%.3fs", t_up.total_s, t_me.total_s)
    times: dict[str, list[Timing]] = {"upstream": [], "ours": []}
    for _ in range(args.repeats):
        for side in (upstream, mine):
            t, _, _ = run_once(side, steps, with_vocoder)
            times[side.name].append(t)

    if args.profile is not None:
        profile_sides((upstream, mine), steps, with_vocoder, args.profile)

    best = {k: min(v, key=lambda t: t.total_s) for k, v in times.items()}
    res = {
        "config": args.config,
        "steps": steps,
        "mode": "steps-only" if args.steps_only is not None else "full",
        "fast": ",".join(args.fast),
        "frames": total,
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "upstream_s": round(best["upstream"].total_s, 4),
        "ours_s": round(best["ours"].total_s, 4),
        "upstream_sample_s": round(min(t.sample_s for t in times["upstream"]), 4),
        "ours_sample_s": round(min(t.sample_s for t in times["ours"]), 4),
        "upstream_decode_s": round(min(t.decode_s for t in times["upstream"]), 4),
        "ours_decode_s": round(min(t.decode_s for t in times["ours"]), 4),
        "ratio_ours_over_upstream": round(best["ours"].total_s / best["upstream"].total_s, 4),
        "upstream_cpu_s": round(min(t.cpu_s for t in times["upstream"]), 4),
        "ours_cpu_s": round(min(t.cpu_s for t in times["ours"]), 4),
        "per_step_upstream_s": round(min(t.sample_s for t in times["upstream"]) / steps, 4),
        "per_step_ours_s": round(min(t.sample_s for t in times["ours"]) / steps, 4),
        "max_abs_diff_mel": maxdiff(mel_up, mel_me),
        "max_abs_diff_audio": maxdiff(audio_up, audio_me),
        "nmse_mel": nmse_or_none(mel_me, mel_up),
        "nmse_audio": nmse_or_none(audio_me, audio_up),
        "mel_absmax": mel_up.abs().max().item(),
        "audio_absmax": None if audio_up is None else audio_up.abs().max().item(),
    }
    if compile_stats is not None:
        res["compiled_graphs"], res["compiled_runs"] = compile_stats.graphs, compile_stats.runs
        if compile_stats.runs == 0:
            raise SystemExit("--fast compile: the compiled DiT step never ran")
    print_report(res)
    if args.json:
        print(json.dumps(res))
    return 0


def print_report(res: dict[str, Any]) -> None:
    mode = f"{res['mode']}{' --fast ' + res['fast'] if res['fast'] else ''}"
    print(f"\n== compare_upstream: config={res['config']} steps={res['steps']} ({mode}), frames={res['frames']}, "
          f"threads={res['threads']}, min of {res['repeats']}")  # fmt: skip
    print(f"  upstream : {res['upstream_s']:.4f} s  (sample {res['upstream_sample_s']:.4f}, "
          f"decode {res['upstream_decode_s']:.4f}, per step {res['per_step_upstream_s']:.4f})")  # fmt: skip
    print(f"  ours     : {res['ours_s']:.4f} s  (sample {res['ours_sample_s']:.4f}, "
          f"decode {res['ours_decode_s']:.4f}, per step {res['per_step_ours_s']:.4f})")  # fmt: skip
    print(f"  ratio ours/upstream: {res['ratio_ours_over_upstream']:.3f}  "
          f"({'ours faster or equal' if res['ratio_ours_over_upstream'] <= 1 else 'OURS SLOWER'})")  # fmt: skip
    cpu_ratio = res["ours_cpu_s"] / res["upstream_cpu_s"]
    print(f"  process CPU time: upstream {res['upstream_cpu_s']:.4f} s, ours {res['ours_cpu_s']:.4f} s, "
          f"ratio {cpu_ratio:.3f} (the robust figure on a shared machine with --threads 1)")  # fmt: skip
    print(f"  max |mel diff|  : {res['max_abs_diff_mel']:.3g} (mel |max| {res['mel_absmax']:.3g}), "
          f"NMSE {res['nmse_mel']:.3g}")  # fmt: skip
    if res["max_abs_diff_audio"] is not None:
        print(f"  max |audio diff|: {res['max_abs_diff_audio']:.3g} (audio |max| {res['audio_absmax']:.3g}), "
              f"NMSE {res['nmse_audio']:.3g}")  # fmt: skip


def profile_sides(sides: tuple[Side, ...], steps: int, with_vocoder: bool, out_dir: Path) -> None:
    from torch.profiler import ProfilerActivity, profile

    out_dir.mkdir(parents=True, exist_ok=True)
    for side in sides:
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            run_once(side, steps, with_vocoder)
        table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=40)
        shapes = prof.key_averages(group_by_input_shape=True).table(
            sort_by="self_cpu_time_total", row_limit=40
        )
        (out_dir / f"{side.name}.txt").write_text(table + "\n\n" + shapes)
        log.info("profile written path=%s", out_dir / f"{side.name}.txt")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
