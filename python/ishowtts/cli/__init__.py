"""Command line: ``python -m ishowtts <command>``.

Each command lives in its own module exposing ``add_parser(subparsers)`` which registers the
sub-command and sets ``func`` to the function that runs it.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ishowtts import __version__
from ishowtts.openmp import prefer_passive_wait

COMMAND_MODULES = ("serve", "synth", "normalize", "download", "bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ishowtts",
        description="ishowtts: voice-cloning TTS server on F5-TTS.",
    )
    parser.add_argument("--version", action="version", version=f"ishowtts {__version__}")
    parser.add_argument("--log-level", default="info", help="debug, info, warning, error (default: info)")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    for name in COMMAND_MODULES:
        importlib.import_module(f"ishowtts.cli.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    prefer_passive_wait()  # before anything loads torch (ishowtts.openmp)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    from ishowtts.logging_setup import configure_logging

    configure_logging(args.log_level)
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
