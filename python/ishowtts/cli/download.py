"""`python -m ishowtts download`: fetch F5-TTS + Vocos weights into the Hugging Face cache."""

from __future__ import annotations

import argparse
import logging
import sys

from ishowtts.logging_setup import kv

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ishowtts.engine.weights import MODELS

    p = sub.add_parser(
        "download",
        help="Download F5-TTS and Vocos weights into the Hugging Face cache",
        description="Fetch the checkpoint, vocab and Vocos vocoder (with progress bars) into the Hugging "
        "Face cache (HF_HOME / HF_HUB_CACHE). Files already cached are not fetched again.",
    )
    p.add_argument("--model", default="F5TTS_v1_Base", choices=sorted(MODELS), help="default: F5TTS_v1_Base")
    p.add_argument(
        "--cache-dir", default=None, help="Hugging Face hub cache directory (default: HF_HUB_CACHE)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ishowtts.engine.weights import WeightsNotFound, download_weights

    try:
        w = download_weights(args.model, cache_dir=args.cache_dir)
    except WeightsNotFound as exc:
        print(f"ishowtts download: {exc}", file=sys.stderr)
        return 1
    log.info("weights ready", extra=kv(model=w.model, sources=w.sources))
    print(f"checkpoint: {w.ckpt}\nvocab:      {w.vocab}\nvocoder:    {w.vocoder}")
    return 0
