"""The server on a local Ray Serve (loopback): 2 ingress replicas and 2 espeak synthesis replicas.

Every route answers through Ray as the one-process server answers (the same cases against both); 64
concurrent requests are all answered and spread over both replicas; a replica killed in the middle of a
load run loses no request (each completes or gets a clean 503 + Retry-After, and the count adds up), then
comes back and serves; the chat read-aloud joins its channel exactly once.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import ray
import soundfile as sf
from _ray_helpers import deployed, make_config, plain_server, wait_until

from live_server import free_port
from tests.conftest import load_module

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]  # one local Ray (fixed HAProxy paths) at a time

ScriptedTwitch = load_module(Path(__file__).parents[1] / "danmaku" / "twitch_server.py").ScriptedTwitch

CHANNEL = "ishowtts_ray"
SCALE = {"replicas": 2, "ingress_replicas": 2, "num_cpus": 0.5}


def wav_bytes(freq: float = 220.0, seconds: float = 1.0) -> bytes:
    t = np.arange(int(24_000 * seconds)) / 24_000
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), 24_000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@pytest.fixture(scope="module")
def twitch() -> Any:
    server = ScriptedTwitch().start()
    yield server
    server.close()


def config_for(tmp: Path, twitch: Any) -> Any:
    danmaku = {"enabled": True, "channels": [CHANNEL], "twitch_host": "127.0.0.1", "twitch_port": twitch.port}
    return make_config(tmp, free_port(), engine={"kind": "espeak"}, scale=SCALE, danmaku=danmaku)


@pytest.fixture(scope="module")
def servers(ray_local: None, twitch: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    plain_twitch = ScriptedTwitch().start()
    with plain_server(config_for(tmp_path_factory.mktemp("plain"), plain_twitch)) as plain:
        with deployed(config_for(tmp_path_factory.mktemp("ray"), twitch)) as through_ray:
            yield {"plain": plain, "ray": through_ray}
    plain_twitch.close()


# (method, path, request kwargs, expected status): every route of both APIs, the page and the chat's routes
SPEECH = {"model": "tts-1", "input": "Through the route table.", "voice": "default", "response_format": "wav"}
CASES: list[tuple[str, str, dict[str, Any], int]] = [
    ("GET", "/api/health", {}, 200),
    ("GET", "/ready", {}, 200),
    ("GET", "/metrics", {}, 200),
    ("GET", "/", {}, 200),
    ("GET", "/openapi.json", {}, 200),
    ("POST", "/api/tts", {"json": {"text": "Hello from the route table."}}, 200),
    ("POST", "/api/tts", {"json": {"text": "   "}}, 400),
    ("POST", "/api/tts", {"json": {"text": "Hi.", "voice_id": "nobody"}}, 404),
    ("GET", "/api/voices", {}, 200),
    ("GET", "/api/voices/default/reference", {}, 200),
    ("POST", "/api/voices/default/reference", {"data": {"text": "Other words."}}, 200),
    ("DELETE", "/api/voices/default/reference", {}, 200),
    ("GET", "/api/voices/default/reference/audio", {}, 200),
    ("POST", "/v1/audio/speech", {"json": SPEECH}, 200),
    ("POST", "/v1/audio/speech", {"json": {**SPEECH, "stream": False}}, 200),
    ("POST", "/v1/audio/speech", {"json": {**SPEECH, "stream_format": "sse"}}, 200),
    ("POST", "/v1/audio/speech", {"json": {**SPEECH, "input": ""}}, 400),
    ("GET", "/v1/audio/voices", {}, 200),
    ("POST", "/v1/audio/voices", {"data": {"name": "Routed", "text": "Words."}, "files": {"audio_sample": ("r.wav", wav_bytes())}}, 200),
    ("DELETE", "/v1/audio/voices/Routed", {}, 200),
    ("DELETE", "/v1/audio/voices/Routed", {}, 404),
    ("GET", "/v1/models", {}, 200),
    ("GET", "/api/danmaku/status", {}, 200),
    ("GET", "/api/danmaku/settings", {}, 200),
    ("PUT", "/api/danmaku/settings", {"json": {"max_chars": 120}}, 200),
    ("GET", "/api/danmaku/voices", {}, 200),
    ("PUT", "/api/danmaku/voices/viewer1", {"json": {"voice": "default"}}, 200),
    ("DELETE", "/api/danmaku/voices/viewer1", {}, 200),
    ("POST", "/api/danmaku/control", {"json": {"action": "pause"}}, 200),
    ("POST", "/api/danmaku/control", {"json": {"action": "resume"}}, 200),
    ("POST", "/api/danmaku/enqueue", {"json": {"platform": "api", "channel": "c", "username": "u", "text": "hello"}}, 202),
    ("POST", "/api/danmaku/start", {"json": {"channel": "other_chan"}}, 202),
    ("POST", "/api/danmaku/stop", {"json": {"channel": "other_chan"}}, 200),
    ("GET", "/api/danmaku/events", {"stream": True}, 200),
]
ROUTES = {(m, p) for m, p, _, _ in CASES}


def observe(client: httpx.Client, method: str, path: str, kwargs: dict[str, Any]) -> tuple[int, str, Any]:
    """(status, media type, the JSON body's keys or the body's kind) of one answer."""
    kwargs = dict(kwargs)
    if kwargs.pop("stream", False):  # an endless event stream: its head is the answer
        with client.stream(method, path, **kwargs) as r:
            return r.status_code, r.headers.get("content-type", "").split(";")[0], "stream"
    r = client.request(method, path, **kwargs)
    media = r.headers.get("content-type", "").split(";")[0]
    if media == "application/json":
        body = r.json()
        return r.status_code, media, sorted(body) if isinstance(body, dict) else type(body).__name__
    return r.status_code, media, "bytes" if r.content else "empty"


def test_the_cases_cover_every_route(servers: Any) -> None:
    spec = servers["plain"].get("/openapi.json").json()["paths"]
    documented = {(m.upper(), path) for path, ops in spec.items() for m in ops}
    concrete = {(m, p.replace("/default/", "/{voice_id}/").replace("/Routed", "/{voice_id}").replace("/viewer1", "/{login}")) for m, p in ROUTES}
    assert documented <= concrete, sorted(documented - concrete)


@pytest.mark.parametrize("case", CASES, ids=[f"{m} {p} {s}" for m, p, _, s in CASES])
def test_every_route_answers_through_ray_as_without_it(servers: Any, case: tuple[str, str, dict[str, Any], int]) -> None:
    method, path, kwargs, status = case
    plain = observe(servers["plain"], method, path, kwargs)
    through_ray = observe(servers["ray"], method, path, kwargs)
    assert plain[0] == status, plain
    assert through_ray == plain


def test_health_and_metrics_report_each_replica_and_the_total(servers: Any) -> None:
    health = servers["ray"].get("/api/health").json()
    ids = {r["replica"] for r in health["replicas"]}
    assert len(ids) == 2 and health["cluster"]["replicas"] == 2
    assert all(r["engine"] == "espeak" and r["device"] == "cpu" and "queue_depth" in r for r in health["replicas"])
    assert health["cluster"]["capacity"] == sum(r["capacity"] for r in health["replicas"])
    metrics = servers["ray"].get("/metrics").text
    for rid in ids:
        assert f'ishowtts_replica_queue_depth{{replica="{rid}"}}' in metrics
    assert "ishowtts_replicas 2.0" in metrics and "ishowtts_queue_depth" in metrics
    assert "ishowtts_danmaku_clips_total" in metrics  # the chat deployment's metrics, through the ingress
    assert servers["plain"].get("/api/health").json()["replicas"] is None  # one process: no replicas


async def _load(base: str, n: int, concurrency: int, *, on_done: Any = None) -> list[tuple[int, str | None, float, dict[str, str]]]:
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=90) as client:

        async def one(i: int) -> tuple[int, str | None, float, dict[str, str]]:
            async with sem:
                t0 = time.perf_counter()
                r = await client.post("/api/tts", json={"text": f"Request number {i}.", "seed": i})
                if on_done is not None:
                    on_done()
                return r.status_code, r.headers.get("x-ishowtts-replica"), time.perf_counter() - t0, dict(r.headers)

        return await asyncio.gather(*(one(i) for i in range(n)))


def test_64_concurrent_requests_are_all_answered_by_both_replicas(servers: Any) -> None:
    results = asyncio.run(_load(str(servers["ray"].base_url), 64, 64))
    assert Counter(s for s, *_ in results) == {200: 64}
    by_replica = Counter(r for _, r, *_ in results)
    assert len(by_replica) == 2 and min(by_replica.values()) >= 8, by_replica


def test_the_chat_joins_its_channel_once_and_speaks_through_the_replicas(servers: Any, twitch: Any) -> None:
    wait_until(lambda: CHANNEL in twitch.joined)
    time.sleep(1.0)
    assert twitch.logins == 1  # one chat deployment, however many ingress and synthesis replicas
    joins = [line for line in twitch.received if line.startswith(f"JOIN #{CHANNEL}")]
    assert joins == [f"JOIN #{CHANNEL}"], twitch.received
    twitch.privmsg(CHANNEL, "viewer", "read this aloud please")

    def spoken() -> bool:
        text = servers["ray"].get("/metrics").text
        line = next(ln for ln in text.splitlines() if ln.startswith('ishowtts_danmaku_clips_total{outcome="synthesised"}'))
        return float(line.split()[-1]) >= 1

    wait_until(spoken, timeout=30)


def test_a_killed_replica_loses_no_request_and_comes_back(servers: Any) -> None:
    client = servers["ray"]
    before = {r["replica"] for r in client.get("/api/health").json()["replicas"]}
    victim = sorted(before)[0]
    done = 0
    killed: list[float] = []

    def on_done() -> None:
        nonlocal done
        done += 1
        if done == 20 and not killed:
            actor = ray.get_actor(f"SERVE_REPLICA::ishowtts#Synthesis#{victim}", namespace="serve")
            ray.kill(actor, no_restart=True)
            killed.append(time.monotonic())

    n = 120
    results = asyncio.run(_load(str(client.base_url), n, 8, on_done=on_done))
    assert killed, "the replica was never killed"
    statuses = Counter(s for s, *_ in results)
    print("after the kill:", dict(statuses), Counter(r for _, r, *_ in results))
    assert set(statuses) <= {200, 503}, statuses  # completed, or a clean "unavailable"
    assert statuses[200] + statuses[503] == n  # the accounting adds up exactly
    assert all(h.get("retry-after") for s, _, _, h in results if s == 503)
    assert max(t for _, _, t, _ in results) < 60  # bounded: nobody waited on the dead replica
    # Serve starts a new replica; it reports and serves
    fresh = wait_until(
        lambda: ({r["replica"] for r in client.get("/api/health").json()["replicas"]} - before) or None, timeout=90
    )
    assert victim not in {r["replica"] for r in client.get("/api/health").json()["replicas"]}
    served = Counter(s for s in (r[1] for r in asyncio.run(_load(str(client.base_url), 24, 24))))
    assert set(fresh) & set(served), (fresh, served)


def test_plain_serve_never_imports_ray() -> None:
    import subprocess

    code = (
        "import sys, tempfile; from ishowtts.config import load_config; from ishowtts.server.app import create_app;"
        "import ishowtts.cli.serve;"
        "create_app(load_config(None, env={}, overrides={'engine': {'kind': 'espeak'}, 'server': {'data_dir': tempfile.mkdtemp()}}));"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.'))))"
    )
    out = subprocess.run([sys.executable, "-c", "import json;" + code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize("server", ["plain", "ray"])
def test_the_playback_websocket_gets_a_chat_clip(servers: Any, server: str) -> None:
    from websockets.sync.client import connect

    client = servers[server]
    url = str(client.base_url).replace("http://", "ws://") + "/api/danmaku/stream"
    with connect(url, open_timeout=30) as ws:
        msg = {"platform": "api", "channel": "c", "username": "ws_viewer", "text": "a clip for the overlay"}
        r = client.post("/api/danmaku/enqueue", json=msg)
        assert r.status_code == 202, r.text
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            frame = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
            if isinstance(frame, bytes):  # the clip (text frames are control events)
                assert len(frame) > 1000
                return
    raise AssertionError("no clip on the playback WebSocket")
