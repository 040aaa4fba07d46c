"""Commands whose issue has not landed yet say so instead of pretending."""

from __future__ import annotations

import argparse
import sys


def add_placeholder(sub: argparse._SubParsersAction, name: str, summary: str, issue: str) -> None:
    p = sub.add_parser(name, help=f"{summary} [NOT YET IMPLEMENTED: {issue}]")

    def run(_: argparse.Namespace) -> int:
        print(f"ishowtts {name}: not implemented yet ({issue}).", file=sys.stderr)
        return 2

    p.set_defaults(func=run)
