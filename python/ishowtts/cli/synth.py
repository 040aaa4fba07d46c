"""`python -m ishowtts synth "text" --voice ref.wav --ref-text "..." -o out.wav`.

``--engine espeak`` speaks with the embedded espeak-ng instead (no weights, no voice cloning; ``--voice`` and
``--ref-text`` are then not needed); the missing-weights error offers it."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

from ishowtts.logging_setup import kv

log = logging.getLogger(__name__)

SAMPLE_RATE = 24_000
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
    p.add_argument("--nfe", type=int, default=None, help="sampler steps (default: the engine default, 16)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: random, logged)")
    p.add_argument("--speed", type=float, default=1.0)
    p.add_argument("--cfg", type=float, default=2.0, help="classifier-free guidance strength")
    p.add_argument("--sway", type=float, default=-1.0, help="sway sampling coefficient")
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
    p.add_argument("--dtype", default=None, help="fp32, fp16, bf16 (default: fp16 on CUDA, fp32 on CPU)")
    p.set_defaults(func=run)


def write_wav(path: Path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """16-bit PCM WAV, through the native encoder when it is built, else soundfile."""
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    try:
        from ishowtts.audio import encode_wav
    except ImportError:
        encode_wav = None
    if encode_wav is not None:
        path.write_bytes(bytes(encode_wav(audio, sample_rate)))
        return
    import soundfile as sf

    sf.write(str(path), audio, sample_rate, subtype="PCM_16", format="WAV")


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
    if args.engine == "espeak":
        return _run_espeak(args, text)
    if args.voice is None or args.ref_text is None:
        print(
            "ishowtts synth: --voice and --ref-text are required with --engine f5 (the default); "
            "--engine espeak needs neither",
            file=sys.stderr,
        )
        return 2
    voice_path = Path(args.voice)
    if not voice_path.is_file():
        print(f"ishowtts synth: reference audio {voice_path} does not exist", file=sys.stderr)
        return 2
    from ishowtts.engine.engine import Engine, random_seed
    from ishowtts.engine.weights import WeightsNotFound

    try:
        engine = Engine.from_pretrained(
            args.model,
            ckpt=args.ckpt,
            vocab=args.vocab,
            vocoder=args.vocoder,
            device=args.device,
            dtype=args.dtype,
            config=args.config,
        )
    except WeightsNotFound as exc:
        print(f"ishowtts synth: {exc}\n{ESPEAK_HINT}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"ishowtts synth: {exc}", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random_seed()
    try:
        voice = engine.prepare_voice(voice_path, args.ref_text)
        started = time.perf_counter()
        audio = engine.synthesize(
            text,
            voice,
            nfe=args.nfe,
            cfg=args.cfg,
            sway=args.sway,
            speed=args.speed,
            seed=seed,
            remove_silence=args.remove_silence,
        )
    except ValueError as exc:
        print(f"ishowtts synth: {exc}", file=sys.stderr)
        return 2
    _finish(Path(args.output), audio, time.perf_counter() - started, seed)
    return 0


def _run_espeak(args: argparse.Namespace, text: str) -> int:
    from ishowtts.config import EngineConfig
    from ishowtts.engine.backend import SynthesisParams
    from ishowtts.voices.reference import VoiceReference
    from ishowtts.engine.espeak import EspeakUnavailable
    from ishowtts.engine.factory import build_backend

    if args.voice is not None or args.ref_text is not None:
        log.warning("--engine espeak does not clone voices; --voice/--ref-text are ignored")
    try:
        backend, _ = build_backend(EngineConfig(kind="espeak"))
    except EspeakUnavailable as exc:
        print(f"ishowtts synth: espeak-ng cannot start: {exc}", file=sys.stderr)
        return 1
    voice = VoiceReference(id="cli", audio=None, sample_rate=0, text="", language=args.language)
    params = SynthesisParams(speed=args.speed, remove_silence=args.remove_silence)
    started = time.perf_counter()
    try:
        audio = backend.synthesize(text, voice, params)
    except ValueError as exc:
        print(f"ishowtts synth: {exc}", file=sys.stderr)
        return 2
    _finish(Path(args.output), audio, time.perf_counter() - started, None)
    return 0


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
