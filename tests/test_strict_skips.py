"""CI's ISHOWTTS_STRICT_SKIPS=1 turns a skip for a missing tool into a failure (the repository's conftest.py),
in tests/ and in benchmarks/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import pytest

def test_tool_missing():
    pytest.skip("needs some-tool")

@pytest.mark.skipif(True, reason="NEON runs natively here")
def test_platform():
    pass

def test_ok():
    pass
"""


XFAIL = """

@pytest.mark.xfail(reason="known bug", strict=True)
def test_known_bug():
    assert False
"""


def _run(tmp_path: Path, strict: bool, body: str = PROBE) -> subprocess.CompletedProcess[str]:
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_probe.py").write_text(body)
    env = dict(os.environ, ISHOWTTS_STRICT_SKIPS="1" if strict else "0")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip


def test_strict_mode_fails_on_a_missing_tool_skip(tmp_path: Path) -> None:
    res = _run(tmp_path, strict=True)
    assert res.returncode == 1, res.stdout
    assert "test_tool_missing: Skipped: needs some-tool" in res.stdout
    assert "test_platform" not in res.stdout.split("skips not allowed")[1]  # platform skips are fine


def test_strict_mode_passes_when_only_platform_skips(tmp_path: Path) -> None:
    body = PROBE.replace('pytest.skip("needs some-tool")', "pass")
    assert _run(tmp_path, strict=True, body=body).returncode == 0


def test_strict_mode_fails_on_an_xfail(tmp_path: Path) -> None:
    body = PROBE.replace('pytest.skip("needs some-tool")', "pass") + XFAIL
    res = _run(tmp_path, strict=True, body=body)
    assert res.returncode == 1, res.stdout
    assert "test_known_bug: xfail known bug" in res.stdout
    assert _run(tmp_path, strict=False, body=body).returncode == 0


def test_without_strict_mode_skips_pass(tmp_path: Path) -> None:
    assert _run(tmp_path, strict=False).returncode == 0


def test_strict_mode_covers_benchmarks() -> None:
    """A skip in benchmarks/ (run as CI runs it, with the repository's own configuration) fails too."""
    probe = ROOT / "benchmarks" / f"test_zz_strict_probe_{os.getpid()}.py"
    probe.write_text(PROBE)
    try:
        res = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(probe)],
            capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, ISHOWTTS_STRICT_SKIPS="1"), timeout=120,
        )  # fmt: skip
    finally:
        probe.unlink()
    assert res.returncode == 1, res.stdout
    assert "skips not allowed under ISHOWTTS_STRICT_SKIPS=1" in res.stdout
    assert "test_tool_missing: Skipped: needs some-tool" in res.stdout
