"""`python -m ishowtts normalize`: one output line per input, arguments or standard input, JSON mode."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ishowtts.cli import main
from ishowtts.text.normalize import CHAT_DEFAULTS, DEFAULTS, normalize


def test_arguments_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["normalize", "Room 12 at 10:30", "第3名"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        normalize("Room 12 at 10:30").text,
        normalize("第3名").text,
    ]


def test_lang_chat_and_set(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["normalize", "--lang", "zh", "I have 3"]) == 0
    assert main(["normalize", "--chat", "gg 🔥"]) == 0
    assert main(["normalize", "--set", "emoji=drop", "--set", "numbers=false", "gg 🔥 5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        normalize("I have 3", DEFAULTS.replace(lang="zh")).text,
        normalize("gg 🔥", CHAT_DEFAULTS).text,
        "gg 5",
    ]


def test_bad_option_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["normalize", "--set", "colour=red", "x"]) == 2
    assert "unknown normalize option" in capsys.readouterr().err
    assert main(["normalize", "--set", "emoji", "x"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err


def test_stdin_and_json_in_a_real_process() -> None:
    lines = "Dr. Smith paid $5.20\n\n主播加油！！\n"
    r = subprocess.run(
        [sys.executable, "-m", "ishowtts", "normalize", "--json"],
        input=lines, capture_output=True, text=True, encoding="utf-8", timeout=120, check=True,
    )  # fmt: skip
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["input"] for row in rows] == ["Dr. Smith paid $5.20", "", "主播加油！！"]
    assert rows[0]["spoken_text"] == normalize("Dr. Smith paid $5.20").text
    assert rows[1]["spoken_text"] == "" and rows[2]["spoken_text"] == "主播加油！"
    assert all(row["mapped"] == 0 and row["dropped"] == 0 for row in rows)
