"""The README's Quick start works on every machine: the CPU-only torch command comes before `pip install .`,
a Jetson is told to install NVIDIA's JetPack torch first, and the server is said to run without a GPU."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
_FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```\s*$", re.M | re.S)


def _section(markdown: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def _commands(section: str) -> list[list[str]]:
    """Every shell command of the section's bash blocks, in reading order, as argv (comments dropped)."""
    out: list[list[str]] = []
    for lang, body in _FENCE.findall(section):
        if lang not in ("bash", "sh", "shell"):
            continue
        for line in body.splitlines():
            argv = shlex.split(line, comments=True)
            if argv:
                out.append(argv)
    return out


def _prose(section: str) -> str:
    return " ".join(_FENCE.sub(" ", section).split())


def test_fences_parse() -> None:
    sample = "x\n```bash\npip install a  # c\n# only a comment\n```\ntext\n```python\nimport y\n```\n"
    assert _commands(sample) == [["pip", "install", "a"]]


def test_cpu_torch_comes_before_pip_install() -> None:
    quick = _section((ROOT / "README.md").read_text(encoding="utf-8"), "Quick start")
    commands = _commands(quick)
    cpu = ["pip", "install", "torch", "--index-url", CPU_INDEX]
    assert cpu in commands, f"no `{shlex.join(cpu)}` in the Quick start: {commands}"
    install = ["pip", "install", "."]
    assert install in commands
    assert commands.index(cpu) < commands.index(install)  # first torch, then the package
    assert commands.index(install) < commands.index(["python", "-m", "ishowtts", "serve"])


def test_jetson_and_cpu_only_are_explained() -> None:
    quick = _section((ROOT / "README.md").read_text(encoding="utf-8"), "Quick start")
    text = " ".join(quick.split())  # prose and code comments alike
    jetson = text.find("Jetson")
    assert jetson >= 0 and "JetPack" in text[jetson : jetson + 300]
    assert re.search(r"GPU is optional|without a GPU", _prose(quick))
    assert "runs on the CPU" in _prose(quick)
    # the torch a Jetson user installs must satisfy pyproject, or pip would replace it
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    floor = next(d for d in deps if d.startswith("torch")).split(">=")[1]
    assert f"torch {floor} or newer" in text[jetson:]
