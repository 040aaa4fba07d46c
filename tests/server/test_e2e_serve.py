"""End to end: the real ``python -m ishowtts serve`` subprocess on a free port, over real sockets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from _server_helpers import SR, decode, rms

from live_server import free_port  # tests/live_server.py, registered by tests/conftest.py

pytestmark = [pytest.mark.e2e, pytest.mark.slow]



class Server:
    def __init__(self, tmp: Path, config_toml: str, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfg = tmp / "ishowtts.toml"
        cfg.write_text(config_toml)
        self.log = tmp / "server.log"
        env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
        cmd = [sys.executable, "-m", "ishowtts", "serve", "--config", str(cfg), "--port", str(self.port)]
        cmd += ["--data-dir", str(tmp / "data"), *extra]
        self._log_file = self.log.open("wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log_file, stderr=subprocess.STDOUT, env=env)

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited early ({self.proc.returncode}):\n{self.output()}")
            try:
                if httpx.get(self.url + "/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"server not ready in {timeout} s:\n{self.output()}")

    def output(self) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log_file.close()
        return int(self.proc.returncode)


@pytest.fixture
def server_factory(tmp_path):
    started: list[Server] = []

    def start(config_toml: str, *extra: str) -> Server:
        srv = Server(tmp_path, config_toml, *extra)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


def check_disconnect_cancels(
    srv: Server, headers: dict[str, str], sentences: int = 120, speed: float = 0.5
) -> None:
    """A client that goes away mid-stream gets its synthesis cancelled and its slot freed.

    The synthesis must outlast the disconnect handling by a wide margin or it may finish first (nothing
    left to cancel): espeak renders 120 sentences at half speed (~10 minutes of audio, 3969 characters,
    under the 4096 limit) in ~1.5 s on a 2-core machine, 80 at full speed in only ~0.45 s."""
    long_text = " ".join(f"Sentence {i} goes on for a while." for i in range(sentences))
    with httpx.stream(
        "POST",
        srv.url + "/v1/audio/speech",
        json={"input": long_text, "response_format": "pcm", "speed": speed},
        headers=headers,
        timeout=120,
    ) as resp:
        assert resp.status_code == 200
        next(resp.iter_raw())
    deadline = time.monotonic() + 60
    metrics = ""
    while time.monotonic() < deadline:
        metrics = httpx.get(srv.url + "/metrics", headers=headers, timeout=10).text
        if 'ishowtts_synthesis_events_total{event="cancelled"} 1.0' in metrics:
            break
        time.sleep(0.2)
    else:
        events = [
            ln
            for ln in metrics.splitlines()
            if ln.startswith(("ishowtts_synthesis_events", "ishowtts_requests"))
        ]
        raise AssertionError("the disconnected stream was not cancelled:\n" + "\n".join(events))
    assert "ishowtts_requests_running 0.0" in metrics


def test_serve_espeak_end_to_end(server_factory):
    srv = server_factory(
        '[engine]\nkind = "espeak"\n[server]\napi_key = "sekret"\n[queue]\nmax_size = 2\n', "--warmup"
    )
    srv.wait_ready()
    auth = {"Authorization": "Bearer sekret"}
    h = httpx.get(srv.url + "/api/health", timeout=10).json()
    assert h["engine"] == "espeak" and h["ready"] is True and "sekret" not in str(h)
    assert httpx.get(srv.url + "/api/voices", timeout=10).status_code == 401
    r = httpx.post(
        srv.url + "/api/tts", json={"text": "Hello from the real server."}, headers=auth, timeout=60
    )
    assert r.status_code == 200
    with httpx.stream(
        "POST",
        srv.url + "/v1/audio/speech",
        json={"input": "First sentence. Second sentence. Third one.", "response_format": "wav"},
        headers=auth,
        timeout=60,
    ) as resp:
        assert resp.status_code == 200
        assert resp.headers["transfer-encoding"] == "chunked" and resp.headers["x-accel-buffering"] == "no"
        pieces = list(resp.iter_raw())
    audio, sr = decode(b"".join(pieces), "wav")
    assert sr == SR and len(audio) > SR and rms(audio) > 0.01
    check_disconnect_cancels(srv, auth)
    assert srv.stop() == 0
    out = srv.output()
    assert "engine in use" in out and "warm-up done" in out


def test_serve_auto_falls_back_loudly(server_factory, tmp_path):
    missing = tmp_path / "nowhere" / "model.safetensors"
    srv = server_factory(f'[engine]\nkind = "auto"\nckpt = "{missing}"\n')
    srv.wait_ready()
    h = httpx.get(srv.url + "/api/health", timeout=10).json()
    assert h["engine"] == "espeak" and h["fallback"] is True and h["fallback_reason"]
    assert srv.stop() == 0
    assert "RUNNING ON THE espeak-ng FALLBACK ENGINE" in srv.output()


def test_serve_tiny_f5(server_factory, f5_paths):
    toml = (
        '[engine]\nkind = "f5"\nmodel = "tiny"\nnfe = 2\ndevice = "cpu"\n'
        f'ckpt = "{f5_paths["ckpt"]}"\nvocab = "{f5_paths["vocab"]}"\nvocoder = "{f5_paths["vocoder"]}"\n'
    )
    srv = server_factory(toml, "--warmup")
    srv.wait_ready(timeout=300)
    h = httpx.get(srv.url + "/api/health", timeout=10).json()
    assert h["engine"] == "f5" and h["model"] == "tiny" and h["fallback"] is False
    r = httpx.post(
        srv.url + "/v1/audio/speech", json={"input": "Hi there.", "response_format": "flac"}, timeout=120
    )
    assert r.status_code == 200
    audio, sr = decode(r.content, "flac")
    assert sr == SR and len(audio) > 0 and np.all(np.isfinite(audio))
    check_disconnect_cancels(srv, {}, sentences=20, speed=1.0)
    assert srv.stop() == 0


def test_serve_bad_config_names_the_key(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[engine]\nnfe = "lots"\n')
    r = subprocess.run(
        [sys.executable, "-m", "ishowtts", "serve", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "engine.nfe" in r.stderr


def test_official_openai_client(server_factory, tmp_path):
    """The README's OpenAI-client snippets, run with the official ``openai`` package against the real
    server: streamed to a file, whole content, voices and models, and errors mapped to its exceptions."""
    openai = pytest.importorskip("openai", reason="pip install openai (test extra)")
    srv = server_factory('[engine]\nkind = "espeak"\n[server]\napi_key = "sekret"\n')
    srv.wait_ready()
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key="sekret", max_retries=0, timeout=60)

    out = tmp_path / "hello.wav"
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="default", input="Hello from ishowtts!", response_format="wav"
    ) as response:
        assert response.headers["content-type"].startswith("audio/wav")
        response.stream_to_file(out)
    audio, sr = decode(out.read_bytes(), "wav")
    assert sr == SR and len(audio) > SR // 2 and rms(audio) > 0.01

    pcm = client.audio.speech.create(
        model="tts-1", voice="alloy", input="Raw samples.", response_format="pcm"
    )
    samples = np.frombuffer(pcm.content, dtype="<i2")
    assert len(samples) > SR // 4 and np.abs(samples).max() > 1000  # 24 kHz s16le speech

    assert {"tts-1", "tts-1-hd"} <= {m.id for m in client.models.list()}
    with pytest.raises(openai.BadRequestError) as bad:
        client.audio.speech.create(model="tts-1", voice="default", input="x", response_format="aac")
    assert "aac" in str(bad.value)
    with pytest.raises(openai.BadRequestError):
        client.audio.speech.create(model="tts-1", voice="default", input="")
    with pytest.raises(openai.NotFoundError):
        client.audio.speech.create(model="tts-1", voice="no-such-voice", input="Hello.")
    wrong = openai.OpenAI(base_url=srv.url + "/v1", api_key="wrong", max_retries=0, timeout=30)
    with pytest.raises(openai.AuthenticationError):
        wrong.audio.speech.create(model="tts-1", voice="default", input="Hello.")
    assert srv.stop() == 0
