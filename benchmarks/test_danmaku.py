"""Danmaku pipeline benchmarks (information only; no gate).

* ``test_gateway_throughput``: messages/s through the gateway (every filter + the bounded priority queue,
  no synthesis) for a realistic mix: normal chat, commands, links, banned words, CJK, paid/moderator
  messages, duplicates; reported as ``extra_info["messages_per_s"]``.
* ``test_enqueue_to_first_frame_latency``: end-to-end latency from ``POST /api/danmaku/enqueue`` to the
  first audio frame received on ``/api/danmaku/stream`` through the real app with the espeak engine
  (scheduler, synthesis, WAV encoding, framing); reported in seconds.

Run: ``python -m pytest benchmarks/test_danmaku.py --benchmark-min-rounds=5``
"""

from __future__ import annotations

import itertools
import tempfile
from typing import Any

import pytest

from ishowtts.danmaku.gateway import Gateway
from ishowtts.danmaku.message import ChatMessage
from ishowtts.danmaku.playback import parse_frame
from ishowtts.danmaku.settings import DanmakuSettings

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
            header, audio = parse_frame(ws.receive_bytes())
            assert audio[:4] == b"RIFF" and len(audio) > 1000
            return header

        header = benchmark.pedantic(once, rounds=8, warmup_rounds=1)
    assert header["format"] == "audio/wav"
    benchmark.extra_info["min_latency_s"] = round(benchmark.stats.stats.min, 4)
    benchmark.extra_info["median_latency_s"] = round(benchmark.stats.stats.median, 4)
