"""Two tiny random-weight F5 replicas on a local Ray Serve: a voice created (and then overridden) through
the API is used by both replicas on their next request, keyed by its content, so the same seeded request
gives the same audio whichever replica renders it (within float rounding: each batches differently), and a
different one from the voice it replaced."""

from __future__ import annotations

import asyncio
import base64
import io
from collections import defaultdict
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf
from _ray_helpers import deployed, make_config

from live_server import free_port

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]  # one local Ray (fixed HAProxy paths) at a time

SR = 24_000


def wav_bytes(freq: float, seconds: float = 1.0) -> bytes:
    t = np.arange(int(SR * seconds)) / SR
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), SR, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@pytest.fixture(scope="module")
def f5(ray_local: None, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from ishowtts.engine.random_weights import save_random_checkpoint

    paths = save_random_checkpoint(tmp_path_factory.mktemp("f5tiny"), config="tiny", seed=0)
    engine = {"kind": "f5", "model": "tiny", "nfe": 2, "device": "cpu", **{k: str(v) for k, v in paths.items()}}
    config = make_config(
        tmp_path_factory.mktemp("data"),
        free_port(),
        engine=engine,
        scale={"replicas": 2, "ingress_replicas": 1, "num_cpus": 0.5},
    )
    with deployed(config) as client:
        yield client


def by_replica(client: httpx.Client, voice: str, seed: int, n: int = 12) -> dict[str, set[str]]:
    """The audio of the same seeded request, sent ``n`` times at once, grouped by the replica that made it."""

    async def go() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=str(client.base_url), timeout=120) as c:
            body = {"text": "The same words.", "voice_id": voice, "seed": seed}
            return await asyncio.gather(*(c.post("/api/tts", json=body) for _ in range(n)))

    out: dict[str, set[str]] = defaultdict(set)
    for r in asyncio.run(go()):
        assert r.status_code == 200, r.text
        out[r.headers["x-ishowtts-replica"]].add(r.json()["audio_base64"])
    return out


#: the same request, batched differently on each replica, agrees within float rounding (the static renderer
#: promises batched == alone within 1e-5): at most a 16-bit step or two apart once written as PCM
SAME_AUDIO_ATOL = 2e-4


def one_audio(groups: dict[str, set[str]]) -> np.ndarray:
    assert len(groups) == 2, f"both replicas must serve: {sorted(groups)}"
    clips = [sf.read(io.BytesIO(base64.b64decode(c)), dtype="float32")[0] for c in set().union(*groups.values())]
    first = clips[0]
    for clip in clips[1:]:
        assert len(clip) == len(first), "the replicas made different audio for the same request"
        diff = float(np.abs(clip - first).max())
        assert diff <= SAME_AUDIO_ATOL, f"the replicas made different audio for the same request ({diff:.2e})"
    return first


def test_a_voice_created_through_one_replica_is_used_by_the_other(f5: httpx.Client) -> None:
    default = one_audio(by_replica(f5, "default", seed=3))
    made = f5.post(
        "/v1/audio/voices",
        data={"name": "Shared", "text": "A shared reference."},
        files={"audio_sample": ("s.wav", wav_bytes(330.0))},
    )
    assert made.status_code == 200, made.text
    vid = made.json()["id"]
    shared = one_audio(by_replica(f5, vid, seed=3))
    assert len(shared) != len(default) or np.abs(shared - default).max() > 100 * SAME_AUDIO_ATOL  # the new one was used

    # an override through the API reaches both replicas too: new content, new audio, the same everywhere
    r = f5.post(
        f"/api/voices/{vid}/reference",
        data={"text": "Another reference, longer than before."},
        files={"audio": ("o.wav", wav_bytes(520.0, 1.5))},
    )
    assert r.status_code == 200, r.text
    overridden = one_audio(by_replica(f5, vid, seed=3))
    assert len(overridden) != len(shared) or np.abs(overridden - shared).max() > 100 * SAME_AUDIO_ATOL
