"""`python -m ishowtts download`."""

from __future__ import annotations

import argparse

from ishowtts.cli.placeholder import add_placeholder


def add_parser(sub: argparse._SubParsersAction) -> None:
    add_placeholder(sub, "download", "Download F5-TTS and Vocos weights", "the F5 engine issue")
