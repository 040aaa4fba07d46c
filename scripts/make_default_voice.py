#!/usr/bin/env python3
"""Make the bundled default voice: a short espeak-ng clip (24 kHz, PCM16 WAV) plus its exact transcript.

    python scripts/make_default_voice.py [--out-dir python/ishowtts/data/voices]

The clip is synthesised with our own libespeak-ng driver (``ishowtts.engine.espeak``) and resampled from
22.05 kHz to 24 kHz with the native resampler (``ishowtts.audio.resample``); where the native core is not
built yet, ``--allow-soxr`` uses soxr (VHQ) instead. Writes ``default.wav`` and ``default.txt``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

TRANSCRIPT = "Hello, this is the default voice of iShowTTS. Every chat message can be read aloud like this."
TARGET_RATE = 24_000
PEAK = 0.9
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "python" / "ishowtts" / "data" / "voices"


def _resample(audio: np.ndarray, src: int, dst: int, allow_soxr: bool) -> np.ndarray:
    try:
        from ishowtts.audio import resample
    except ImportError:
        if not allow_soxr:
            raise SystemExit(
                "the native resampler (ishowtts.audio.resample) is not built; pass --allow-soxr"
            ) from None
        import soxr

        return soxr.resample(audio, src, dst, quality="VHQ").astype(np.float32)
    return np.asarray(resample(np.ascontiguousarray(audio, dtype=np.float32), src, dst), dtype=np.float32)


def make_clip(allow_soxr: bool) -> np.ndarray:
    from ishowtts.engine.espeak import _Library, trim_edges

    lib = _Library.get()
    with lib.lock:
        raw = lib.synth(TRANSCRIPT, "en", 175, None)
    audio = trim_edges(raw.astype(np.float32) / 32768.0, lib.sample_rate, keep_s=0.15)
    audio = _resample(audio, lib.sample_rate, TARGET_RATE, allow_soxr)
    return (audio * (PEAK / max(float(np.abs(audio).max()), 1e-6))).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=DEFAULT_OUT)
    ap.add_argument(
        "--allow-soxr", action="store_true", help="resample with soxr if the native core is missing"
    )
    args = ap.parse_args(argv)
    audio = make_clip(args.allow_soxr)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    wav = args.out_dir / "default.wav"
    sf.write(wav, audio, TARGET_RATE, subtype="PCM_16", format="WAV")
    (args.out_dir / "default.txt").write_text(TRANSCRIPT + "\n", encoding="utf-8")
    seconds = audio.shape[0] / TARGET_RATE
    print(f"wrote {wav} ({seconds:.2f} s, {wav.stat().st_size} bytes) and default.txt")
    if not 3.0 <= seconds <= 7.0:
        print(f"warning: clip is {seconds:.2f} s; aim for 4-6 s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
