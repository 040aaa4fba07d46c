"""What the Ray Serve tests and benchmarks share: a free port, a config, the server deployed on Ray
(``deployed``) and the one-process server (``plain_server``) it is compared with, and ``wait_until``.

``deployed(config)`` runs both Serve applications (``ishowtts.deploy.ray.start``) and yields an httpx
client on Ray's HTTP proxy once every synthesis replica reports; Serve is shut down afterwards, so each test
module gets a fresh layout. ``plain_server(config)`` runs ``python -m ishowtts serve``'s app with uvicorn
in a thread.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from ishowtts.config import Config, load_config
from live_server import ThreadServer

RAY_CPUS = 8  # logical CPUs Ray may schedule (replicas ask for 0.5 each); the machine's 2 cores are shared


@contextlib.contextmanager
def local_ray(namespace: str, *, high_throughput: bool = False) -> Iterator[None]:
    """A local Ray on loopback, started as ``serve --ray`` starts one: ``[scale] high_throughput``'s
    environment (a variable already set wins) is in place before Ray starts, and is taken back afterwards.
    The mode is fixed for the Ray's lifetime, so deployments on it must ask for the same mode."""
    import ray

    from ishowtts.deploy.settings import ScaleSettings

    applied = ScaleSettings(high_throughput=high_throughput).apply_ray_env()
    ray.init(num_cpus=RAY_CPUS, include_dashboard=False, _node_ip_address="127.0.0.1", namespace=namespace,
             log_to_driver=False, configure_logging=False)  # fmt: skip
    try:
        yield
    finally:
        from ray import serve

        with contextlib.suppress(Exception):
            serve.shutdown()
        ray.shutdown()
        for key in applied:
            os.environ.pop(key, None)


def serve_mode() -> str:
    """Which Ray Serve mode this process's Ray runs in, for printing next to a figure."""
    from ishowtts.deploy.settings import HIGH_THROUGHPUT_ENV

    on = all(os.environ.get(k) == v for k, v in HIGH_THROUGHPUT_ENV.items())
    return "high-throughput (HAProxy, gRPC)" if on else "default (Serve proxy)"


def make_config(data_dir: Path, port: int, **sections: dict[str, Any]) -> Config:
    overrides: dict[str, Any] = {k: dict(v) for k, v in sections.items()}
    overrides.setdefault("server", {}).update({"data_dir": str(data_dir), "port": port})
    return load_config(None, env={}, overrides=overrides)


@contextlib.contextmanager
def deployed(config: Config) -> Iterator[httpx.Client]:
    from ray import serve

    from ishowtts.deploy import ray as deploy

    deploy.start(config)
    client = httpx.Client(base_url=f"http://127.0.0.1:{config.server.port}", timeout=60)
    try:
        wait_until(lambda: client.get("/api/health").json().get("cluster", {}).get("replicas", 0) >= _replicas(config))
        yield client
    finally:
        client.close()
        serve.shutdown()  # the next deployment starts its proxy on its own port


def _replicas(config: Config) -> int:
    return int(config.scale.raw.get("replicas", 2))


@contextlib.contextmanager
def plain_server(config: Config) -> Iterator[httpx.Client]:
    """``python -m ishowtts serve`` in this process: the same app, uvicorn on loopback."""
    from ishowtts.server.app import create_app

    app = create_app(config)
    with (
        ThreadServer(app, port=config.server.port, start_timeout=120, lifespan="on") as srv,
        httpx.Client(base_url=srv.url, timeout=60) as client,
    ):
        yield client


def wait_until(check: Callable[[], Any], timeout: float = 120.0, every: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(every)
    raise AssertionError(f"not true within {timeout} s (last error: {last!r})")
