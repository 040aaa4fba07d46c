from __future__ import annotations

import pytest

from ishowtts.text.duration import (
    SHORT_TEXT_SPEED,
    allocate_fix_duration,
    effective_speed,
    estimate_frames,
    fixed_frames,
)


def test_formula() -> None:
    # ref 470 frames for 47 bytes -> 10 frames per byte
    assert estimate_frames(470, 47, 30) == 470 + 300
    assert estimate_frames(470, 47, 30, speed=2.0) == 470 + 150
    assert estimate_frames(100, 30, 20, speed=1.0) == 100 + int(100 / 30 * 20)  # truncated like upstream


def test_short_text_is_slowed_down() -> None:
    assert effective_speed(9, 1.0) == SHORT_TEXT_SPEED
    assert effective_speed(10, 1.0) == 1.0
    assert estimate_frames(470, 47, 5) == 470 + int(10 * 5 / 0.3)


def test_fix_duration() -> None:
    assert fixed_frames(470, 2.0) == 470 + int(2.0 * 24000 / 256)
    parts = allocate_fix_duration(3.0, [10, 30], cross_fade=0.15)
    assert parts == pytest.approx([0.7875, 2.3625])
    assert sum(parts) - 0.15 == pytest.approx(3.0)
    assert allocate_fix_duration(3.0, [10], cross_fade=0.15) == [3.0]


def test_bad_input() -> None:
    with pytest.raises(ValueError):
        estimate_frames(0, 10, 10)
    with pytest.raises(ValueError):
        estimate_frames(10, 10, 10, speed=0)
    with pytest.raises(ValueError):
        fixed_frames(10, 0)
