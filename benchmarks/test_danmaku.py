"""Danmaku pipeline benchmarks (information only; no gate).

* ``test_gateway_throughput``: messages/s through the gateway (every filter + the bounded priority queue,
  no synthesis) for a realistic mix: normal chat, commands, links, banned words, CJK, paid/moderator
  messages, duplicates; reported as ``extra_info["messages_per_s"]``.
* ``test_enqueue_to_first_frame_latency``: end-to-end latency from ``POST /api/danmaku/enqueue`` to the
  first audio frame received on ``/api/danmaku/stream`` through the real app with the espeak engine
  (scheduler, synthesis, WAV encoding, framing); reported in seconds.

* ``test_tagged_gateway_throughput``: tagged Twitch lines/s through IRC parsing and the gateway with every
  filter on (emotes by position, cheermotes, triggers, links as a word, banned-word masking, spam, per-user
  limits, cooldown, dedupe).
* ``test_live_chat[8|64]``: a scripted Twitch-style IRC server on loopback sends tagged lines at 8 and 64
  messages/s into the real app on the espeak engine with a WebSocket player connected; reports chat line ->
  first audio frame p50/p99 and a moderator's ``!skip`` -> the skip control frame on the player (p50/max
  of 5 skips sent during the stream). About 3 s of chat per rate.

Run: ``python -m pytest benchmarks/test_danmaku.py -s`` (prints the CPU model beside the figures)
"""

from __future__ import annotations

import itertools
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from gate import load_module
from gatelib import cpu_model
from ishowtts.danmaku.gateway import Gateway
from ishowtts.danmaku.irc import parse_line, privmsg_to_message
from ishowtts.danmaku.message import ChatMessage
from ishowtts.danmaku.playback import parse_frame
from ishowtts.danmaku.settings import DanmakuSettings

_twitch = load_module(Path(__file__).resolve().parents[1] / "tests" / "danmaku" / "twitch_server.py")
ALL_FILTERS = {
    "filters": ["commands", "links", "keywords", "users", "cooldown", "dedupe", "emotes", "spam", "limits"],
    "banned_keywords": ["badword", "spoiler"],
    "banned_action": "mask",
    "emote_words": ["PogChamp"],
    "user_messages_per_minute": 30,
}

BATCH = 2000


def _messages(n: int) -> list[ChatMessage]:
    texts = [
        "hello streamer, how is it going today?",
        "!uptime",
        "check out https://spam.example/free",
        "that was a BADWORD moment",
        "主播今天玩得真好，加油！" * 3,
        "lol " * 100,
        "gg wp",
    ]
    meta = [{}, {}, {"bits": 100}, {"badges": {"moderator": "1"}}, {}, {"color": "#FF0000"}]
    out = []
    for i, (t, m) in enumerate(zip(itertools.cycle(texts), itertools.cycle(meta))):
        if i >= n:
            break
        # every 3rd text unique (the rest exercise the dedupe window)
        text = f"{t} #{i}" if i % 3 else t
        out.append(ChatMessage("twitch", "streamer", f"user{i % 97}", text, metadata=dict(m)))
    return out


def test_gateway_throughput(benchmark: Any) -> None:
    settings = DanmakuSettings.from_dict(
        {
            "banned_keywords": ["badword", "spoiler"],
            "rate_limit": 0.0,
            "cooldown_s": 1.0,
            "queue_capacity": 512,
        }
    )
    msgs = _messages(BATCH)

    def run() -> int:
        g = Gateway(settings)
        for m in msgs:
            g.submit(m)
        n = 0
        while g.pop_nowait() is not None:
            n += 1
        return g.received

    received = benchmark(run)
    assert received == BATCH
    benchmark.extra_info["messages_per_s"] = round(BATCH / benchmark.stats.stats.min)
    benchmark.extra_info["batch"] = BATCH


def _tagged_lines(n: int) -> list[str]:
    srv = _twitch.ScriptedTwitch()
    texts = [
        ("😀你好 Kappa hello there Kappa", {"emotes": "25:4-8,22-26"}),
        ("Cheer100 great stream PogChamp", {"bits": 100, "emotes": "88:22-29"}),
        ("check https://spam.example/free loooooool", {}),
        ("that was a BADWORD moment", {"badges": "subscriber/3"}),
        ("主播今天玩得真好，加油！" * 3, {"first-msg": 1}),
        ("lol " * 50, {"custom-reward-id": "rw"}),
        ("!tts read this one please", {}),
    ]
    out = []
    for i, (t, tags) in enumerate(itertools.islice(itertools.cycle(texts), n)):
        out.append(srv.privmsg_line("chan", f"user{i % 97}", f"{t} #{i}" if i % 3 else t, **tags))
    return out


def test_tagged_gateway_throughput(benchmark: Any) -> None:
    settings = DanmakuSettings.from_dict(
        {**ALL_FILTERS, "rate_limit": 0.0, "cooldown_s": 1.0, "queue_capacity": 512,
         "triggers": ["all", "command"]}
    )
    lines = _tagged_lines(BATCH)

    def run() -> int:
        g = Gateway(settings)
        for raw in lines:
            msg = privmsg_to_message(parse_line(raw))
            assert msg is not None
            g.submit(msg)
        while g.pop_nowait() is not None:
            pass
        return g.received

    assert benchmark(run) == BATCH
    rate = round(BATCH / benchmark.stats.stats.min)
    benchmark.extra_info["messages_per_s"] = rate
    print(f"\n[{cpu_model()}] tagged gateway throughput, every filter on: {rate} msgs/s")


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


@pytest.mark.parametrize("rate", [8, 64])
def test_live_chat(benchmark: Any, rate: int) -> None:
    from fastapi.testclient import TestClient

    from ishowtts.config import load_config
    from ishowtts.engine.espeak import EspeakBackend
    from ishowtts.server.app import create_app

    server = _twitch.ScriptedTwitch().start()
    danmaku = {**ALL_FILTERS, "cooldown_s": 0.0, "dedupe_window_s": 0.0, "rate_limit": 0.0,
               "twitch_host": "127.0.0.1", "twitch_port": server.port, "template": "{text}"}  # fmt: skip
    cfg = load_config(
        None,
        env={},
        overrides={
            "server": {"data_dir": tempfile.mkdtemp(prefix="ishowtts-bench-")},
            "engine": {"kind": "espeak"},
            "danmaku": danmaku,
        },
    )
    n = int(rate * 3)
    sent: dict[str, float] = {}
    skips_sent: list[float] = []

    def feed() -> None:
        t0 = time.perf_counter()
        for i in range(n):
            time.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
            line = server.privmsg_line("chan", f"viewer{i}", f"message {i} from the chat Kappa", id=f"b{i}",
                                       emotes="25:25-29")  # fmt: skip
            sent[f"b{i}"] = time.perf_counter()
            server.send(line)
            if i % max(1, n // 5) == n // 10:
                skips_sent.append(time.perf_counter())
                server.privmsg("chan", "mod", "!skip", badges="moderator/1")

    def run() -> dict[str, Any]:
        first: dict[str, float] = {}
        skip_at: list[float] = []
        with TestClient(create_app(cfg, EspeakBackend())) as client:
            assert client.post("/api/danmaku/start", json={"channel": "chan"}).status_code == 202
            deadline = time.monotonic() + 10
            while "chan" not in server.joined:
                assert time.monotonic() < deadline, "never joined"
                time.sleep(0.01)
            with client.websocket_connect("/api/danmaku/stream") as ws:
                feeder = threading.Thread(target=feed)
                feeder.start()
                while len(first) < n or len(skip_at) < 5:
                    m = ws.receive()
                    now = time.perf_counter()
                    if m.get("bytes") is not None:
                        first[str(parse_frame(m["bytes"])[0]["id"])] = now
                    elif json.loads(m["text"]).get("type") == "skip":
                        skip_at.append(now)
                feeder.join()
        return {"first": first, "skip": skip_at}

    try:
        out = benchmark.pedantic(run, rounds=1, iterations=1)
    finally:
        server.close()
    lat = [out["first"][k] - sent[k] for k in sent]
    skips = [b - a for a, b in zip(skips_sent, out["skip"], strict=False)]
    info = {
        "rate_msgs_per_s": rate,
        "messages": n,
        "first_frame_p50_s": round(_pct(lat, 50), 4),
        "first_frame_p99_s": round(_pct(lat, 99), 4),
        "skip_to_frame_p50_s": round(statistics.median(skips), 4),
        "skip_to_frame_max_s": round(max(skips), 4),
    }
    benchmark.extra_info.update(info)
    print(f"\n[{cpu_model()}] espeak, {rate} tagged msgs/s: {info}")


@pytest.fixture(scope="module")
def espeak_client() -> Any:
    from fastapi.testclient import TestClient

    from ishowtts.config import load_config
    from ishowtts.engine.espeak import EspeakBackend
    from ishowtts.server.app import create_app

    cfg = load_config(
        None,
        env={},
        overrides={
            "server": {"data_dir": tempfile.mkdtemp(prefix="ishowtts-bench-")},
            "engine": {"kind": "espeak"},
            "danmaku": {"cooldown_s": 0.0, "dedupe_window_s": 0.0, "rate_limit": 0.0},
        },
    )
    with TestClient(create_app(cfg, EspeakBackend())) as client:
        yield client


def test_enqueue_to_first_frame_latency(benchmark: Any, espeak_client: Any) -> None:
    counter = itertools.count()
    with espeak_client.websocket_connect("/api/danmaku/stream") as ws:

        def once() -> dict:
            i = next(counter)
            r = espeak_client.post(
                "/api/danmaku/enqueue",
                json={
                    "platform": "bench",
                    "channel": "bench",
                    "username": f"viewer{i}",
                    "text": f"message number {i} from the chat",
                },
            )
            assert r.status_code == 202, r.text
            while True:  # control events (state) come as text frames
                m = ws.receive()
                if m.get("bytes") is not None:
                    break
            header, audio = parse_frame(m["bytes"])
            assert audio[:4] == b"RIFF" and len(audio) > 1000
            return header

        header = benchmark.pedantic(once, rounds=8, warmup_rounds=1)
    assert header["format"] == "audio/wav"
    benchmark.extra_info["min_latency_s"] = round(benchmark.stats.stats.min, 4)
    benchmark.extra_info["median_latency_s"] = round(benchmark.stats.stats.median, 4)
