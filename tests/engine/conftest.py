"""Engine test fixtures: one tiny random-weight engine and a short reference voice per session."""

from __future__ import annotations

import numpy as np
import pytest

SR = 24_000
REF_TEXT = "Some reference words here."


def ref_clip(seconds: float = 2.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    env = 0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)
    return (amp * env * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


@pytest.fixture(scope="session")
def engine():
    """The eager (reference) renderer; the static renderer's tests build theirs in fastpath/conftest.py."""
    from ishowtts.engine.engine import Engine
    from ishowtts.engine.options import EngineOptions

    return Engine.random("tiny", seed=0, options=EngineOptions(device="cpu", renderer="eager"))


@pytest.fixture(scope="session")
def voice(engine):
    return engine.prepare_voice(ref_clip(), REF_TEXT, SR)
