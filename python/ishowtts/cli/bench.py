"""`python -m ishowtts bench`."""

from __future__ import annotations

import argparse

from ishowtts.cli.placeholder import add_placeholder


def add_parser(sub: argparse._SubParsersAction) -> None:
    add_placeholder(sub, "bench", "Run the benchmark suite and gate", "the foundation issue")
