"""`python -m ishowtts synth "text" --voice ref.wav --ref-text "..." -o out.wav`.

``--engine espeak`` speaks with the embedded espeak-ng instead (no weights, no voice cloning; ``--voice`` and
``--ref-text`` are then not needed); the missing-weights error offers it."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ishowtts import defaults
from ishowtts.config import Config, EngineConfig, QueueConfig
from ishowtts.logging_setup import kv

if TYPE_CHECKING:
    from ishowtts.engine.backend import SynthesisParams
    from ishowtts.engine.scheduler import Scheduler
    from ishowtts.voices.reference import VoiceReference

log = logging.getLogger(__name__)

SAMPLE_RATE = 24_000
CLI_TIMEOUT_S = 24 * 3600.0  # one synthesis from the command line runs as long as it takes
ENGINES = ("f5", "espeak")
ESPEAK_HINT = (
    "No F5 weights at hand? --engine espeak synthesises with espeak-ng instead (no voice cloning): "
    'python -m ishowtts synth "text" --engine espeak -o out.wav'
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "synth",
        help="Synthesise text to a WAV file",
        description="Speak TEXT in the voice of a reference clip and write a 24 kHz WAV file "
        "(--engine espeak: with espeak-ng, no F5 weights or reference needed).",
    )
    p.add_argument("text", help="text to speak ('-' reads it from stdin)")
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default=ENGINES[0],
        help="f5 (voice cloning, needs the F5-TTS weights; default) or espeak (espeak-ng, no weights needed)",
    )
    p.add_argument("--voice", default=None, help="reference audio file (wav/flac/ogg); required for f5")
    p.add_argument("--ref-text", default=None, help="transcript of the reference audio; required for f5")
    p.add_argument("--language", default="en", help="language of TEXT for --engine espeak (default: en)")
    p.add_argument("-o", "--output", required=True, help="output WAV path")
    p.add_argument("--nfe", type=int, default=None, help=f"sampler steps (default {defaults.NFE_STEP})")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: random, logged)")
    p.add_argument("--speed", type=float, default=defaults.SPEED, help=f"default {defaults.SPEED}")
    p.add_argument(
        "--cfg", type=float, default=defaults.CFG_STRENGTH,
        help=f"classifier-free guidance strength (default {defaults.CFG_STRENGTH})",
    )  # fmt: skip
    p.add_argument(
        "--sway", type=float, default=defaults.SWAY_SAMPLING_COEF,
        help=f"sway sampling coefficient (default {defaults.SWAY_SAMPLING_COEF})",
    )  # fmt: skip
    p.add_argument("--remove-silence", action="store_true", help="shorten long silences in the output")
    p.add_argument(
        "--no-normalize", action="store_true",
        help="speak TEXT as written (default: numbers, dates, units, links, emoji read as a person would; "
        "see `python -m ishowtts normalize`)",
    )  # fmt: skip
    p.add_argument("--model", default="F5TTS_v1_Base", help="F5TTS_v1_Base, F5TTS_Base, or a checkpoint path")
    p.add_argument(
        "--config", default=None, help="architecture name when --model/--ckpt is a custom checkpoint"
    )
    p.add_argument("--ckpt", default=None, help="checkpoint (.safetensors / .pt)")
    p.add_argument("--vocab", default=None, help="vocab.txt")
    p.add_argument("--vocoder", default=None, help="Vocos directory (config.yaml + pytorch_model.bin)")
    p.add_argument("--device", default=None, help="cuda, cuda:1, cpu (default: cuda if available)")
    p.add_argument(
        "--dtype", default=None,
        help="fp32, fp16, bf16 (default auto: fp16 on CUDA, bf16 on CPUs with AMX/AVX512-BF16, else fp32)",
    )  # fmt: skip
    p.add_argument(
        "--renderer", choices=defaults.RENDERERS, default=defaults.RENDERER,
        help=f"static (bucketed, batching) or eager (one chunk at a time); default {defaults.RENDERER}",
    )  # fmt: skip
    p.set_defaults(func=run)


def write_wav(path: Path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """16-bit PCM WAV through the native encoder (the server's one WAV writer)."""
    from ishowtts.audio import encode_wav

    path.write_bytes(bytes(encode_wav(np.ascontiguousarray(audio, dtype=np.float32), sample_rate)))


def run(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.text == "-" else args.text
    if not text.strip():
        print("ishowtts synth: the text is empty", file=sys.stderr)
        return 2
    from ishowtts.text.normalize import DEFAULTS, normalize

    text = normalize(text, DEFAULTS.replace(enabled=not args.no_normalize)).text
    if not text:
        print("ishowtts synth: nothing to speak once normalized (--no-normalize speaks it as written)",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.engine == "f5" and (args.voice is None or args.ref_text is None):
        print(
            "ishowtts synth: --voice and --ref-text are required with --engine f5 (the default); "
            "--engine espeak needs neither",
            file=sys.stderr,
        )
        return 2
    if args.engine == "espeak" and (args.voice is not None or args.ref_text is not None):
        log.warning("--engine espeak does not clone voices; --voice/--ref-text are ignored")
    try:
        voice = _voice(args)
    except ValueError as exc:
        print(f"ishowtts synth: {exc}", file=sys.stderr)
        return 2
    from ishowtts.engine.backend import SynthesisParams
    from ishowtts.engine.factory import BackendUnavailable, build
    from ishowtts.engine.planning import random_seed

    try:
        built = build(_config(args))
    except BackendUnavailable as exc:
        cause = exc.__cause__
        if isinstance(cause, ValueError) and not _is_missing_weights(cause):
            print(f"ishowtts synth: {cause}", file=sys.stderr)
            return 2
        print(f"ishowtts synth: {cause or exc}\n{ESPEAK_HINT}", file=sys.stderr)
        return 1
    except Exception as exc:  # espeak-ng missing, or anything else that stops the engine from starting
        print(f"ishowtts synth: the {args.engine} engine cannot start: {exc}", file=sys.stderr)
        return 1
    seed = (args.seed if args.seed is not None else random_seed()) if args.engine == "f5" else None
    params = SynthesisParams(
        nfe_step=args.nfe, cfg_strength=args.cfg, sway_sampling_coef=args.sway, speed=args.speed, seed=seed,
        remove_silence=args.remove_silence,
    )  # fmt: skip
    started = time.perf_counter()
    try:
        audio = asyncio.run(_speak(built.scheduler, text, voice, params))
    except ValueError as exc:
        print(f"ishowtts synth: {exc}", file=sys.stderr)
        return 2
    _finish(Path(args.output), audio, time.perf_counter() - started, seed)
    return 0


def _config(args: argparse.Namespace) -> Config:
    """The CLI's options as the config the server would run with (the same factory builds both)."""
    def path(v: str | None) -> Path | None:
        return Path(v) if v is not None else None

    model, ckpt = args.model, path(args.ckpt)
    if args.config is not None:  # an architecture name for a custom checkpoint
        model, ckpt = args.config, ckpt or Path(args.model)
    engine = EngineConfig(
        kind=args.engine, model=model, ckpt=ckpt, vocab=path(args.vocab), vocoder=path(args.vocoder),
        device=args.device, dtype=args.dtype, renderer=args.renderer,
    )  # fmt: skip
    return Config(engine=engine, queue=QueueConfig(max_size=1, timeout_s=CLI_TIMEOUT_S, cache_size=0))


def _voice(args: argparse.Namespace) -> VoiceReference:
    from ishowtts.voices.reference import VoiceReference

    if args.engine == "espeak":
        return VoiceReference(id="cli", audio=None, sample_rate=0, text="", language=args.language)
    import soundfile as sf

    path = Path(args.voice)
    if not path.is_file():
        raise ValueError(f"reference audio {path} does not exist")
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=False)
    except sf.LibsndfileError as exc:
        raise ValueError(f"reference audio {path} cannot be read: {exc}") from None
    return VoiceReference(id="cli", audio=audio, sample_rate=int(rate), text=args.ref_text, language=args.language)


async def _speak(scheduler: Scheduler, text: str, voice: VoiceReference, params: SynthesisParams) -> np.ndarray:
    from ishowtts.engine.scheduler import EngineFailure

    await scheduler.start()
    try:
        return (await scheduler.synthesize(text, voice, params)).audio
    except EngineFailure as exc:
        if isinstance(exc.__cause__, ValueError):
            raise exc.__cause__ from None
        raise
    finally:
        await scheduler.stop()


def _is_missing_weights(exc: BaseException) -> bool:
    from ishowtts.engine.weights import WeightsNotFound

    return isinstance(exc, WeightsNotFound)


def _finish(out: Path, audio: np.ndarray, wall: float, seed: int | None) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    write_wav(out, audio)
    seconds = len(audio) / SAMPLE_RATE
    log.info(
        "wrote",
        extra=kv(
            path=str(out),
            seconds=round(seconds, 3),
            seed=seed,
            wall=round(wall, 3),
            rtf=round(wall / max(seconds, 1e-9), 4),
        ),
    )
    print(f"{out} ({seconds:.2f} s" + (f", seed {seed})" if seed is not None else ")"))
