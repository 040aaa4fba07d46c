"""`python -m ishowtts synth`."""

from __future__ import annotations

import argparse

from ishowtts.cli.placeholder import add_placeholder


def add_parser(sub: argparse._SubParsersAction) -> None:
    add_placeholder(sub, "synth", "Synthesise text to a WAV file", "the F5 engine issue")
