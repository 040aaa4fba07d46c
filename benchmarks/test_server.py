"""HTTP server overhead, measured against the engine in the same run (ratios; absolute times are noisy).

For the espeak-ng engine and the tiny random-weight F5 config (weights written to disk and loaded through
the real factory), alternating measurements in one run (this shared 2-core machine is noisy: only
same-run ratios mean anything):

* ``test_stream_ttfb_vs_engine_ttfa[...]``: one backend object, timed directly and served by uvicorn in a
  background thread of the same process. Time to the first audio byte of a streamed
  ``POST /v1/audio/speech`` (``response_format=pcm``, so the first byte is audio) against the engine's
  own time to first audio (``backend.stream(...)`` -> first chunk), measured alternately, ``ROUNDS`` each.
  ``extra_info["ttfb_over_ttfa"]`` = min server TTFB / min engine TTFA (1.0 = no HTTP overhead). The
  benchmark's own timing is the whole streamed request.
* ``test_requests_per_second_8_clients[...]``: the real ``python -m ishowtts serve`` in a subprocess
  (its event loop does not share a GIL with the clients), 8 client threads each sending ``PER_CLIENT``
  one-sentence requests; requests/s against the engine's serial rate for the same texts in this process
  (``extra_info["server_over_engine_rps"]``; the scheduler runs one engine at a time, so ~1.0 means the
  HTTP layer adds little).

Run: ``python -m pytest benchmarks/test_server.py -s``.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from gate import load_module
from ishowtts.config import load_config
from ishowtts.engine.backend import SynthesisParams
from ishowtts.server.app import create_app

ROUNDS = 7
CLIENTS = 8
PER_CLIENT = 3
TTFB_TEXT = "Thanks for the follow. Welcome to the stream, have fun in chat."
RPS_TEXTS = [f"Message number {i} from the chat." for i in range(CLIENTS * PER_CLIENT)]
F5_NFE = 4

_live = load_module(Path(__file__).resolve().parents[1] / "tests" / "live_server.py", "live_server")
ThreadServer, free_port = _live.ThreadServer, _live.free_port


class SubprocessServer:
    def __init__(self, tmp: Path, overrides: dict[str, Any]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfg = tmp / "bench.toml"
        cfg.write_text(_toml(overrides))
        self.log = (tmp / "server.log").open("wb")
        cmd = [sys.executable, "-m", "ishowtts", "serve", "--config", str(cfg), "--port", str(self.port)]
        cmd += ["--log-level", "warning"]
        env = dict(os.environ, HF_HUB_OFFLINE="1")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def __enter__(self) -> SubprocessServer:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                if httpx.get(self.url + "/ready", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not become ready")

    def __exit__(self, *exc: object) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


def _toml(sections: dict[str, dict[str, Any]]) -> str:
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        for key, value in values.items():
            lines.append(f"{key} = {json.dumps(value)}")  # JSON scalars are valid TOML here
    return "\n".join(lines) + "\n"


def _engine_setup(kind: str, tmp: Path) -> tuple[Any, dict[str, Any]]:
    data = {"data_dir": str(tmp / "data")}
    if kind == "espeak":
        from ishowtts.engine.espeak import EspeakBackend

        return EspeakBackend(), {"server": data, "engine": {"kind": "espeak"}}
    from ishowtts.engine.factory import build_backend
    from ishowtts.engine.random_weights import save_random_checkpoint

    paths = {k: str(v) for k, v in save_random_checkpoint(tmp / "f5", config="tiny", seed=0).items()}
    # fp32 eager, as on every CPU before dtype/compile "auto": the serving figures stay comparable across
    # CPU models (benchmarks/test_cpu.py measures what "auto" picks)
    engine = {"kind": "f5", "model": "tiny", "nfe": F5_NFE, "device": "cpu", "dtype": "fp32", "compile": False, **paths}
    cfg = load_config(None, env={}, overrides={"server": data, "engine": engine})
    backend, reason = build_backend(cfg.engine)
    assert reason is None
    return backend, {"server": data, "engine": engine}


@pytest.fixture(scope="module", params=["espeak", "f5-tiny"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The engine built in this process, the same backend object served by an in-process uvicorn thread
    (``url``), and the real CLI server in a subprocess with the same config (``subprocess_url``)."""
    kind = request.param
    tmp = tmp_path_factory.mktemp(kind)
    backend, overrides = _engine_setup("espeak" if kind == "espeak" else "f5", tmp)
    overrides["queue"] = {"max_size": 64, "timeout_s": 600.0, "cache_size": 0}
    app = create_app(load_config(None, env={}, overrides=overrides), backend)
    state = app.state.ishowtts
    ref = state.store.get(state.store.default_voice_id())
    with (
        ThreadServer(app, start_timeout=120, log_level="warning") as srv,
        SubprocessServer(tmp_path_factory.mktemp(kind + "-server"), overrides) as sub,
    ):
        yield {"kind": kind, "backend": backend, "ref": ref, "url": srv.url, "subprocess_url": sub.url}


def _engine_ttfa(ctx: dict[str, Any], text: str) -> float:
    t0 = time.perf_counter()
    gen = ctx["backend"].stream(text, ctx["ref"], SynthesisParams(), None)
    first = next(iter(gen))
    elapsed = time.perf_counter() - t0
    for _ in gen:  # finish like the server does, so both sides leave the engine idle
        pass
    assert len(first) > 0
    return elapsed


def _server_ttfb(client: httpx.Client, url: str, text: str) -> float:
    t0 = time.perf_counter()
    ttfb = None
    with client.stream("POST", url + "/v1/audio/speech", json={"input": text, "response_format": "pcm"}) as r:
        assert r.status_code == 200
        for piece in r.iter_raw():
            if piece and ttfb is None:
                ttfb = time.perf_counter() - t0
    assert ttfb is not None
    return ttfb


def test_stream_ttfb_vs_engine_ttfa(benchmark: Any, served: dict[str, Any]) -> None:
    engine_ttfa: list[float] = []
    server_ttfb: list[float] = []
    with httpx.Client(timeout=600) as client:
        _engine_ttfa(served, TTFB_TEXT)  # warm-up both paths
        _server_ttfb(client, served["url"], TTFB_TEXT)

        def setup() -> None:
            engine_ttfa.append(_engine_ttfa(served, TTFB_TEXT))

        def target() -> None:
            server_ttfb.append(_server_ttfb(client, served["url"], TTFB_TEXT))

        benchmark.pedantic(target, setup=setup, rounds=ROUNDS, iterations=1)
    ratio = min(server_ttfb) / min(engine_ttfa)
    benchmark.extra_info.update(
        {
            "engine": served["kind"],
            "engine_ttfa_min_s": round(min(engine_ttfa), 5),
            "engine_ttfa_median_s": round(statistics.median(engine_ttfa), 5),
            "server_ttfb_min_s": round(min(server_ttfb), 5),
            "server_ttfb_median_s": round(statistics.median(server_ttfb), 5),
            "ttfb_over_ttfa": round(ratio, 3),
            "added_ms_min": round(1000 * (min(server_ttfb) - min(engine_ttfa)), 2),
        }
    )
    print(
        f"\n[{served['kind']}] engine TTFA min {1000 * min(engine_ttfa):.1f} ms, "
        f"server TTFB min {1000 * min(server_ttfb):.1f} ms -> ratio {ratio:.3f} "
        f"(+{1000 * (min(server_ttfb) - min(engine_ttfa)):.1f} ms), {ROUNDS} rounds each"
    )


def test_requests_per_second_8_clients(benchmark: Any, served: dict[str, Any]) -> None:
    backend, ref, url = served["backend"], served["ref"], served["subprocess_url"]

    def engine_serial() -> float:
        t0 = time.perf_counter()
        for text in RPS_TEXTS:
            backend.synthesize(text, ref, SynthesisParams(), None)
        return len(RPS_TEXTS) / (time.perf_counter() - t0)

    def one_client(texts: list[str]) -> None:
        with httpx.Client(timeout=600) as client:
            for text in texts:
                r = client.post(url + "/v1/audio/speech", json={"input": text, "response_format": "wav"})
                assert r.status_code == 200

    def server_concurrent() -> float:
        batches = [RPS_TEXTS[i::CLIENTS] for i in range(CLIENTS)]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(one_client, batches))
        return len(RPS_TEXTS) / (time.perf_counter() - t0)

    engine_rps = [engine_serial()]
    server_rps: list[float] = []

    def target() -> None:
        server_rps.append(server_concurrent())
        engine_rps.append(engine_serial())

    benchmark.pedantic(target, rounds=2, iterations=1)
    ratio = max(server_rps) / max(engine_rps)
    benchmark.extra_info.update(
        {
            "engine": served["kind"],
            "clients": CLIENTS,
            "requests": len(RPS_TEXTS),
            "server_rps_max": round(max(server_rps), 3),
            "engine_serial_rps_max": round(max(engine_rps), 3),
            "server_over_engine_rps": round(ratio, 3),
        }
    )
    print(
        f"\n[{served['kind']}] {CLIENTS} clients: server {max(server_rps):.2f} req/s vs engine serial "
        f"{max(engine_rps):.2f} req/s -> ratio {ratio:.3f}"
    )
