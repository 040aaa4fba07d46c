"""Security checks beyond tests/server/test_security.py (which walks the route table for the API key):
no secret in logs, /api/health, the danmaku status or /metrics (in process with caplog and a real IRC
login, and in the real ``serve`` subprocess at debug level); the key is not accepted from the query
string on ordinary routes; voice ids cannot reach outside the data directory; uploads over the limit are
refused while streaming in; the server binds loopback unless told otherwise."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from _server_helpers import make_config, serve_app, wait_until

from ishowtts.config import load_config
from ishowtts.server.app import create_app

API_KEY = "k3y-Very-Secret-0123456789"
TOKEN = "tok3nSECRETabcdef987"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


def record_text(record: logging.LogRecord) -> str:
    """Everything a formatter could print: the message, its args and every structured field."""
    return record.getMessage() + " " + " ".join(f"{k}={v!r}" for k, v in vars(record).items())


# ---------------------------------------------------------------------------------------------- secrets
@pytest.mark.anyio
@pytest.mark.slow
async def test_no_secrets_in_logs_health_status_or_metrics(
    tmp_path, fake_backend, caplog, ngircd_mod
) -> None:
    if shutil.which("ngircd") is None:
        pytest.fail("ngircd is required for this test (apt-get install ngircd)")
    mod = ngircd_mod
    (tmp_path / "irc").mkdir()
    irc = mod.NgircdServer(tmp_path / "irc", password=f"oauth:{TOKEN}")
    irc.start()
    caplog.set_level(logging.DEBUG)
    try:
        cfg = make_config(
            tmp_path / "data",
            server={"api_key": API_KEY},
            danmaku={
                "enabled": True,
                "oauth_token": TOKEN,
                "nick": "mybot",
                "twitch_host": "127.0.0.1",
                "twitch_port": irc.port,
                "reconnect_base_s": 0.1,
                "reconnect_max_s": 0.5,
            },
        )
        app = create_app(cfg, fake_backend)
        service = app.state.ishowtts.extras["danmaku"]
        async with serve_app(app) as client:
            bodies = []
            for headers in ({}, {"Authorization": "Bearer " + API_KEY[:-1]}, AUTH):
                bodies.append((await client.get("/api/voices", headers=headers)).text)
            r = await client.post("/api/danmaku/start", json={"channel": "streamer"}, headers=AUTH)
            assert r.status_code == 202, r.text
            await wait_until(
                lambda: bool(service.twitch and "streamer" in service.twitch.joined),
                20,
                what="authenticated IRC join",
            )
            await asyncio.to_thread(irc.restart)  # the connection drops: reconnect and log in again
            await wait_until(
                lambda: bool(service.twitch and service.twitch.reconnects >= 1), 20, what="reconnect"
            )
            await wait_until(
                lambda: bool(service.twitch and "streamer" in service.twitch.joined), 20, what="re-join"
            )
            assert (await client.post("/api/tts", json={"text": "hello"}, headers=AUTH)).status_code == 200
            bodies.append((await client.get("/api/health")).text)
            bodies.append((await client.get("/api/danmaku/status", headers=AUTH)).text)
            bodies.append((await client.get("/metrics", headers=AUTH)).text)
            bodies.append((await client.get("/openapi.json", headers=AUTH)).text)
    finally:
        irc.stop()
    assert len(caplog.records) > 5  # logging was really captured
    for secret in (API_KEY, TOKEN, API_KEY[:-1]):
        leaks = [record_text(r)[:300] for r in caplog.records if secret in record_text(r)]
        assert not leaks, f"secret in logs: {leaks[:3]}"
        for body in bodies:
            assert secret not in body


@pytest.mark.anyio
async def test_key_in_query_string_only_for_streams(tmp_path, fake_backend) -> None:
    """``?api_key=`` exists for browsers' WebSocket/EventSource; ordinary routes must not take it (it would
    end up in proxy logs and browser history)."""
    app = create_app(make_config(tmp_path, server={"api_key": API_KEY}), fake_backend)
    async with serve_app(app) as client:
        codes = [
            (await client.get(f"/api/voices?api_key={API_KEY}")).status_code,
            (await client.post(f"/api/tts?api_key={API_KEY}", json={"text": "hi"})).status_code,
            (await client.get(f"/metrics?api_key={API_KEY}")).status_code,
            (await client.get("/api/voices", headers=AUTH)).status_code,
        ]
    assert codes == [401, 401, 401, 200]


# ---------------------------------------------------------------------------------------------- voice ids
TRAVERSALS = [
    "..",
    "../overrides",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fsecret",
    "..%5C..%5Csecret",
    "%2Fetc%2Fpasswd",
    "default%00.wav",
    "default%2F..%2F..%2Fsecret",
    "C:%5Cwindows",
    "~root",
    "default%0Aevil",
    "%E2%80%AE",
    "a" * 200,
]


@pytest.mark.anyio
@pytest.mark.parametrize("voice", TRAVERSALS)
async def test_voice_ids_cannot_escape_the_data_dir(tmp_path, fake_backend, voice) -> None:
    outside = tmp_path / "secret"
    outside.write_text("do not touch")
    data = tmp_path / "data"
    app = create_app(make_config(data), fake_backend)
    wav = _tone()
    async with serve_app(app) as client:
        statuses = [
            (await client.get(f"/api/voices/{voice}/reference")).status_code,
            (await client.get(f"/api/voices/{voice}/reference/audio")).status_code,
            (await client.get(f"/api/voices/{voice}/reference/audio?source=override")).status_code,
            (await client.delete(f"/api/voices/{voice}/reference")).status_code,
            (
                await client.post(
                    f"/api/voices/{voice}/reference",
                    data={"text": "x"},
                    files={"audio": ("a.wav", wav, "audio/wav")},
                )
            ).status_code,
            (await client.post("/api/tts", json={"text": "hi", "voice_id": voice[:64]})).status_code,
        ]
        created = await client.post(
            "/v1/audio/voices", data={"name": voice[:64]}, files={"audio_sample": ("a.wav", wav, "audio/wav")}
        )
    assert all(s in (400, 404, 405, 422) for s in statuses), statuses
    assert outside.read_text() == "do not touch"
    everything = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(p == outside or p.is_relative_to(data) for p in everything), everything
    if created.status_code == 200:  # a voice *name* may be anything: its id and files are safe
        vid = created.json()["id"]
        assert all(c.isalnum() or c in "_.-" for c in vid) and ".." not in vid and vid[0] != ".", vid
        files = [p for p in data.rglob("*") if p.is_file()]
        assert files and all(p.resolve().is_relative_to(data.resolve()) for p in files)
    else:
        assert created.status_code in (400, 422), created.text


def _tone() -> bytes:
    import io

    import numpy as np
    import soundfile as sf

    t = np.arange(24000) / 24000
    buf = io.BytesIO()
    sf.write(
        buf, (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 24000, format="WAV", subtype="PCM_16"
    )
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------- uploads
@pytest.mark.anyio
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_oversized_upload_refused_and_nothing_stored(tmp_path, fake_backend, declared) -> None:
    data = tmp_path / "data"
    cfg = make_config(data, server={"max_upload_bytes": 64 * 1024, "max_body_bytes": 128 * 1024})
    app = create_app(cfg, fake_backend)
    boundary = "----reliability"
    big = b"RIFF" + os.urandom(512 * 1024)
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="audio"; filename="big.wav"\r\n'
            "Content-Type: audio/wav\r\n\r\n"
        ).encode()
        + big
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}

    async def chunks():
        for i in range(0, len(body), 16 * 1024):
            yield body[i : i + 16 * 1024]

    async with serve_app(app) as client:
        if declared:
            r = await client.post("/api/voices/default/reference", content=body, headers=headers)
        else:
            r = await client.post("/api/voices/default/reference", content=chunks(), headers=headers)
        assert r.status_code == 413, r.text
        assert "limit" in r.json()["detail"]
        info = (await client.get("/api/voices/default/reference")).json()
    assert not info["override_audio_available"]
    assert not [p for p in data.rglob("*") if p.is_file()]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("x.wav", b"MZ\x90\x00" + b"\x00" * 4000),
        ("x.exe", None),
        ("x.html", b"<script>alert(1)</script>" * 50),
    ],
)
async def test_non_audio_uploads_refused_and_nothing_stored(
    tmp_path, fake_backend, filename, content
) -> None:
    data = tmp_path / "data"
    app = create_app(make_config(data), fake_backend)
    payload = content if content is not None else _tone()  # real audio with an executable's name
    async with serve_app(app) as client:
        r = await client.post(
            "/api/voices/default/reference", files={"audio": (filename, payload, "application/octet-stream")}
        )
        r2 = await client.post(
            "/v1/audio/voices", data={"name": "x"}, files={"audio_sample": (filename, payload, "text/html")}
        )
    if content is not None:
        assert r.status_code == 400 and r2.status_code == 400, (r.text, r2.text)
        assert not [p for p in data.rglob("*") if p.is_file()]
    else:  # the bytes are audio: accepted, but stored under our own name and extension
        assert r.status_code == 200, r.text
        names = [p.name for p in data.rglob("*") if p.is_file() and "audio" in p.parent.name]
        assert names and not any(n.endswith(".exe") for n in names), names


# ---------------------------------------------------------------------------------------------- bind
def test_default_bind_is_loopback() -> None:
    cfg = load_config(None, env={})
    assert cfg.server.host == "127.0.0.1"


def _listening(pid: int, port: int) -> list[str]:
    """Local addresses the process's network namespace listens on for ``port`` (from /proc/net/tcp*)."""
    out = []
    for name in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.split(":")
            if state == "0A" and int(p, 16) == port:  # LISTEN
                out.append(addr)
    return out


@pytest.mark.slow
@pytest.mark.e2e
def test_serve_binds_loopback_and_logs_no_secret(tmp_path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "ishowtts.toml").write_text(
        f'[engine]\nkind = "espeak"\n[danmaku]\noauth_token = "{TOKEN}"\nnick = "mybot"\n'
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1", ISHOWTTS__SERVER__API_KEY=API_KEY)
    log = tmp_path / "server.log"
    cmd = [sys.executable, "-m", "ishowtts", "serve", "--config", str(tmp_path / "ishowtts.toml")]
    cmd += ["--port", str(port), "--data-dir", str(tmp_path / "data"), "--log-level", "debug"]
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, log.read_text()
                try:
                    if httpx.get(url + "/ready", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            assert _listening(proc.pid, port) == ["0100007F"], _listening(proc.pid, port)
            assert httpx.get(url + "/api/voices", timeout=10).status_code == 401
            assert httpx.get(url + "/api/voices", headers={"Authorization": "Bearer nope"}).status_code == 401
            assert httpx.get(url + "/api/voices", headers=AUTH, timeout=10).status_code == 200
            health = httpx.get(url + "/api/health", timeout=10).text
            status = httpx.get(url + "/api/danmaku/status", headers=AUTH, timeout=10).text
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
    text = log.read_text(errors="replace")
    assert "DEBUG" in text.upper() or len(text) > 200, text  # the log really was written
    for secret in (API_KEY, TOKEN):
        assert secret not in text and secret not in health and secret not in status
