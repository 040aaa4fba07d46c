"""The package's import layers ([tool.importlinter] in pyproject.toml): the real tree keeps every contract,
and a deliberately bad import in a temp copy of the package breaks the contract it should, by name.

lint-imports runs in a subprocess over an explicit copy of ``ishowtts``: the editable install's meta-path
finder (scikit-build-core) answers for ``ishowtts`` before ``sys.path`` is searched, so the bootstrap drops
every finder but the standard path finder that claims the package, and checks which tree it will read.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
SOURCE = ROOT / "python"

_BOOT = """
import importlib.machinery, importlib.util, os, sys
root, config = sys.argv[1], sys.argv[2]
sys.meta_path[:] = [
    f for f in sys.meta_path
    if f is importlib.machinery.PathFinder or f.find_spec("ishowtts", None) is None
]
sys.path.insert(0, root)
spec = importlib.util.find_spec("ishowtts")
expected = os.path.join(root, "ishowtts", "__init__.py")
if spec is None or spec.origin != expected:
    sys.exit(f"lint-imports would read {spec and spec.origin}, not {expected}")
from importlinter.cli import lint_imports
sys.exit(lint_imports(config_filenames=(config,), no_cache=True, no_logo=True))
"""


def _contract_names() -> dict[str, str]:
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    return {c["id"]: c["name"] for c in contracts}


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports with the repository's contracts over the ``ishowtts`` package found in ``root``."""
    env = {**os.environ, "COLUMNS": "400"}  # rich wraps long contract names at the terminal's width
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [sys.executable, "-c", _BOOT, str(root), str(PYPROJECT)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_real_tree_keeps_every_contract() -> None:
    result = _lint(SOURCE)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert f"Contracts: {len(_contract_names())} kept, 0 broken." in out, out


@pytest.mark.parametrize(
    ("module", "statement", "broken"),
    [
        ("model/_bad_import.py", "import ishowtts.engine", {"layers", "model"}),
        ("model/_bad_import.py", "from ishowtts.voices import store", {"layers", "model"}),
        ("danmaku/_bad_import.py", "import ishowtts.server", {"layers", "danmaku"}),
        ("danmaku/_bad_import.py", "from ishowtts.engine import backend", {"layers", "danmaku"}),
        ("text/_bad_import.py", "import ishowtts.audio", {"layers"}),  # independent siblings
        ("logging_setup.py", "import ishowtts.config", {"layers"}),  # upwards from the bottom
        ("stray.py", "", {"layers"}),  # a top-level module the layers do not place (exhaustive)
    ],
)
def test_a_bad_import_breaks_its_contract(
    tmp_path: Path, module: str, statement: str, broken: set[str]
) -> None:
    shutil.copytree(SOURCE / "ishowtts", tmp_path / "ishowtts", ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "ishowtts" / module
    before = target.read_text() if target.exists() else ""
    target.write_text(f"{before}\n{statement}\n")

    result = _lint(tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    names = _contract_names()
    for cid, name in names.items():
        verdict = "BROKEN" if cid in broken else "KEPT"
        assert f"{name} {verdict}" in out, f"contract {cid!r} should be {verdict}:\n{out}"
    if statement:
        importer = "ishowtts." + module.removesuffix(".py").replace("/", ".")
        imported = statement.split()[1]
        assert f"{importer} -> {imported}" in out, out
    else:
        assert "ishowtts.stray" in out, out
