"""`python -m ishowtts serve`."""

from __future__ import annotations

import argparse

from ishowtts.cli.placeholder import add_placeholder


def add_parser(sub: argparse._SubParsersAction) -> None:
    add_placeholder(sub, "serve", "Run the HTTP server", "the server issue")
