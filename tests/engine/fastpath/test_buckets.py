from __future__ import annotations

import pytest

from ishowtts.engine.fastpath.buckets import DEFAULT_BUCKETS, BucketSet, BucketTooSmall


def test_rounds_up_to_the_smallest_bucket() -> None:
    b = BucketSet((512, 256, 1024), (4, 1, 2))
    assert b.frames == (256, 512, 1024) and b.batch_sizes == (1, 2, 4)
    assert [b.frames_for(n) for n in (1, 256, 257, 1024)] == [256, 256, 512, 1024]
    assert [b.batch_for(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 4]


def test_too_long_and_bad_values_are_clear_errors() -> None:
    b = BucketSet((256,), (1,))
    with pytest.raises(BucketTooSmall, match="largest bucket"):
        b.frames_for(257)
    with pytest.raises(ValueError, match="largest batch size"):
        b.batch_for(2)
    with pytest.raises(ValueError, match="frames must be"):
        b.frames_for(0)
    for bad in ((), (0,), (256, -1), (2.5,), (True,)):
        with pytest.raises(ValueError):
            BucketSet(bad)  # type: ignore[arg-type]


def test_from_config() -> None:
    assert BucketSet.from_config([], 8) == BucketSet(DEFAULT_BUCKETS, (1, 2, 4, 8))
    assert BucketSet.from_config([300], 6).batch_sizes == (1, 2, 4, 6)
    assert BucketSet.from_config(None, 1).batch_sizes == (1,)
    with pytest.raises(ValueError, match="max_batch"):
        BucketSet.from_config([256], 0)


def test_run_frames_is_the_bucket_or_the_next_multiple_within_it() -> None:
    exact = BucketSet((256, 1024, 1536), (1,))
    assert [exact.run_frames(n) for n in (100, 938, 1100)] == [256, 1024, 1536]  # multiple 0: the bucket
    fine = BucketSet((256, 1024, 1536), (1,), multiple=32)
    assert [fine.run_frames(n) for n in (1, 100, 938, 960, 1100, 1536)] == [32, 128, 960, 960, 1120, 1536]
    assert fine.frames_for(938) == 1024  # the group (what batches together) is still the bucket
    assert BucketSet((1000,), (1,), multiple=64).run_frames(980) == 1000  # never past the bucket
    assert BucketSet.from_config([256], 2, multiple=16).multiple == 16
    for bad in (-1, 2.0, True):
        with pytest.raises(ValueError, match="multiple"):
            BucketSet((256,), (1,), multiple=bad)  # type: ignore[arg-type]
