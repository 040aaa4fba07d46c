"""The server on Ray Serve against itself and against the one-process server, in one run (espeak engine).

One deployment serves both tests (module fixture ``through_ray``, 2 synthesis replicas).

* ``test_ttfb_ray_vs_plain``: time to the first byte of the same streamed ``POST /v1/audio/speech``
  (``pcm``, so the first byte is audio), through Ray and through plain ``serve`` (uvicorn in this
  process), ``ROUNDS`` each, alternating. In the same rounds, Serve's own floor for this layout: an echo
  app of the same shape (an ingress route streaming the first item of a streaming handle call to a second
  deployment) through the same proxy, against the same echo app without Ray. ``added_ms`` is what the Ray
  path adds; ``serve_floor_ms`` what Serve's proxy and handle hops alone add on this machine;
  ``ours_over_floor_ms`` the difference: what our ingress and replica code add to Serve's hops. The check
  target is ``added_ms <= 10`` (issue 15). It is information, not a check: the VM's speed swings several
  times over from hour to hour (Serve's proxy mode has read 10-56 ms added on one 2-vCPU VM), so one run's
  figure decides nothing; the committed results say what was measured where. The Serve mode is printed with the figures:
  high-throughput here (``[scale] high_throughput = true``, the mode for serving at scale);
  ``RAY_SERVE_THROUGHPUT_OPTIMIZED=0 RAY_SERVE_ENABLE_HA_PROXY=0`` in the environment runs the default mode
  (Serve's proxy) for an A/B.
* ``test_throughput_2_vs_1_replicas``: requests/s of ``LOAD`` (48) one-sentence ``POST /api/tts`` requests,
  ``CONCURRENCY`` at a time, through Ray with 2 synthesis replicas and then 1 (the same deployment, scaled
  in place). ``extra_info["two_over_one"]`` is the gain. On a 2-core machine it is bounded: the proxy,
  the ingress, both replicas and the client share the cores.

Every figure is printed with the CPU model and the core count. Run:
``python -m pytest benchmarks/test_scale.py -s`` (needs the scale extra).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from gate import load_module
from gatelib import cpu_model

ray = pytest.importorskip("ray", reason="the scale extra: pip install '.[scale]'")
from ray import cloudpickle, serve  # noqa: E402

_TESTS = Path(__file__).resolve().parents[1] / "tests"
_live = load_module(_TESTS / "live_server.py", "live_server")  # before _ray_helpers, which imports it
_h = load_module(_TESTS / "deploy" / "_ray_helpers.py", "_ray_helpers")

LOAD = 48
CONCURRENCY = 8
ROUNDS = 15
TARGET_ADDED_MS = 10.0  # issue 15's figure for the p50 time to first byte that Ray may add
TEXT = "Thanks for the follow."

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the echo deployments below, in Ray's workers


def echo_app(echo: Any = None) -> FastAPI:
    """The floor's shape: one streamed route whose body is the first item of a streaming handle call to a
    second deployment (``echo``; None: made here, for the same app without Ray)."""
    app = FastAPI()

    @app.post("/echo")
    async def route() -> StreamingResponse:
        async def body() -> Any:
            if echo is None:
                yield bytes(960)
                return
            async for chunk in echo.options(stream=True).chunks.remote(960):
                yield chunk

        return StreamingResponse(body(), media_type="audio/pcm")

    return app


@serve.deployment(name="Echo", ray_actor_options={"num_cpus": 0})
class Echo:
    async def chunks(self, n: int) -> Any:
        yield bytes(n)


@serve.deployment(name="EchoIngress", ray_actor_options={"num_cpus": 0})
@serve.ingress()
class EchoIngress:
    def __init__(self, echo: Any) -> None:
        # made here, as the server's replicas make theirs (ishowtts.deploy.ray._handle)
        self.echo = serve.get_deployment_handle(echo.deployment_name, app_name=echo.app_name)

    def __serve_build_asgi_app__(self) -> Any:
        return echo_app(self.echo)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    with _h.local_ray("ishowtts-bench", high_throughput=True):
        yield


def _config(tmp: Path, port: int, replicas: int) -> Any:
    scale = {"replicas": replicas, "num_cpus": 0.5, "high_throughput": True}
    return _h.make_config(tmp, port, engine={"kind": "espeak"}, scale=scale)


@pytest.fixture(scope="module")
def through_ray(ray_cluster: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    config = _config(tmp_path_factory.mktemp("ray"), _live.free_port(), 2)
    with _h.deployed(config) as client:
        client.config = config  # type: ignore[attr-defined]  # test_throughput scales this deployment
        yield client


def _rps(base: str) -> float:
    async def go() -> float:
        sem = asyncio.Semaphore(CONCURRENCY)
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:

            async def one(i: int) -> None:
                async with sem:
                    r = await client.post("/api/tts", json={"text": f"Chat message number {i} is here."})
                    assert r.status_code == 200, r.text

            await one(-1)  # warm
            t0 = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(LOAD)))
            return LOAD / (time.perf_counter() - t0)

    return asyncio.run(go())


def _ttfb(client: httpx.Client, path: str = "/v1/audio/speech") -> float:
    body = {"model": "tts-1", "input": TEXT, "voice": "default", "response_format": "pcm"}
    t0 = time.perf_counter()
    with client.stream("POST", path, json=body) as r:
        assert r.status_code == 200, r.read()
        chunks = r.iter_raw()
        next(chunks)
        first = time.perf_counter() - t0
        for _ in chunks:
            pass
    return first


def _machine() -> dict[str, Any]:
    return {"cpu_model": cpu_model(), "cores": os.cpu_count()}


@contextlib.contextmanager
def _echo_without_ray() -> Iterator[httpx.Client]:
    with _live.ThreadServer(echo_app()) as srv, httpx.Client(base_url=srv.url, timeout=60) as client:
        yield client


def test_ttfb_ray_vs_plain(benchmark: Any, through_ray: httpx.Client, tmp_path: Path) -> None:
    t: dict[str, list[float]] = {"ray": [], "plain": [], "echo_ray": [], "echo_plain": []}
    serve.run(EchoIngress.bind(Echo.bind()), name="serve-floor", route_prefix="/floor")
    try:
        with _h.plain_server(_config(tmp_path / "plain", _live.free_port(), 2)) as plain, _echo_without_ray() as echo:
            paths = {"ray": (through_ray, "/v1/audio/speech"), "plain": (plain, "/v1/audio/speech"),
                     "echo_ray": (through_ray, "/floor/echo"), "echo_plain": (echo, "/echo")}  # fmt: skip
            for client, path in paths.values():  # warm every path
                for _ in range(3):
                    _ttfb(client, path)
            for _ in range(ROUNDS):  # alternating, so load changes hit every path alike
                for name, (client, path) in paths.items():
                    t[name].append(_ttfb(client, path))
            benchmark.pedantic(_ttfb, args=(through_ray,), rounds=3, iterations=1)
    finally:
        serve.delete("serve-floor")
    p50 = {name: statistics.median(xs) * 1000 for name, xs in t.items()}
    added = p50["ray"] - p50["plain"]
    floor = p50["echo_ray"] - p50["echo_plain"]
    ours = added - floor
    benchmark.extra_info.update(_machine(), serve_mode=_h.serve_mode(), **{f"p50_{k}_ms": round(v, 2) for k, v in p50.items()},
                                added_ms=round(added, 2), serve_floor_ms=round(floor, 2),
                                ours_over_floor_ms=round(ours, 2))  # fmt: skip
    print(f"\n[{cpu_model()}, {os.cpu_count()} cores] TTFB p50, Serve {_h.serve_mode()}: through Ray {p50['ray']:.1f} ms, plain serve "
          f"{p50['plain']:.1f} ms: Ray adds {added:.1f} ms; Serve's own two hops (echo app) add {floor:.1f} ms; "
          f"our code adds {ours:.1f} ms over them (issue 15's target for all of it: {TARGET_ADDED_MS:g})")  # fmt: skip
    assert all(v > 0 for v in p50.values())


def test_throughput_2_vs_1_replicas(benchmark: Any, through_ray: httpx.Client) -> None:
    import dataclasses

    from ishowtts.config import ScaleConfig
    from ishowtts.deploy import ray as deploy

    base = str(through_ray.base_url)
    rates = {2: benchmark.pedantic(_rps, args=(base,), rounds=1, iterations=1)}
    config = through_ray.config  # type: ignore[attr-defined]
    one = dataclasses.replace(config, scale=ScaleConfig(raw={**config.scale.raw, "replicas": 1}))
    deploy.start(one)  # the same applications, the synthesis deployment scaled in place
    _h.wait_until(lambda: through_ray.get("/api/health").json()["cluster"]["replicas"] == 1)
    rates[1] = _rps(base)
    benchmark.extra_info.update(_machine(), rps_1=round(rates[1], 2), rps_2=round(rates[2], 2),
                                two_over_one=round(rates[2] / rates[1], 3))  # fmt: skip
    print(f"\n[{cpu_model()}, {os.cpu_count()} cores] espeak through Ray: 1 replica {rates[1]:.1f} req/s, "
          f"2 replicas {rates[2]:.1f} req/s ({rates[2] / rates[1]:.2f}x)")  # fmt: skip
    assert rates[1] > 0 and rates[2] > 0
