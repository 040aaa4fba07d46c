"""`python -m ishowtts normalize`: print what would be spoken, one input per line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from ishowtts.text.normalize import CHAT_DEFAULTS, DEFAULTS, normalize
from ishowtts.text.normalize.options import NormalizeOptions


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "normalize",
        help="Print the spoken form of text (numbers, money, dates, units, links, emoji, ...)",
        description="Print what the server would speak for each TEXT, one line each; without TEXT, each "
        "line of standard input. The options are the server defaults ([normalize] in the config).",
    )
    p.add_argument("text", nargs="*", help="texts to normalize (default: read lines from standard input)")
    p.add_argument("--lang", choices=("auto", "en", "zh"), default=DEFAULTS.lang,
                   help=f"language numbers are read in (default: {DEFAULTS.lang}: the language around them)")  # fmt: skip
    p.add_argument("--chat", action="store_true", help="the chat read-aloud's defaults (emoji dropped)")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help=f"change one option, e.g. --set emoji=drop --set units=false ({', '.join(NormalizeOptions.field_names())})",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="one JSON object per line, with the counts")
    p.set_defaults(func=run)


def _options(args: argparse.Namespace) -> NormalizeOptions:
    changes: dict[str, object] = {"lang": args.lang}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE")
        low = value.strip().lower()
        changes[key.strip()] = True if low == "true" else False if low == "false" else value.strip()
    return NormalizeOptions.from_mapping(changes, base=CHAT_DEFAULTS if args.chat else DEFAULTS)


def run(args: argparse.Namespace) -> int:
    try:
        options = _options(args)
    except ValueError as exc:
        print(f"ishowtts normalize: {exc}", file=sys.stderr)
        return 2
    texts = args.text if args.text else (line.rstrip("\n") for line in sys.stdin)
    for text in texts:
        result = normalize(text, options)
        if args.json:
            print(json.dumps({"input": text, "spoken_text": result.text,
                              **{k: v for k, v in dataclasses.asdict(result).items() if k != "text"}},
                             ensure_ascii=False))  # fmt: skip
        else:
            print(result.text)
    return 0
