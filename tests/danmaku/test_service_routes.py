"""Service + routes with a fake synthesize function: enqueue -> gateway -> synthesis -> WebSocket/SSE."""

from __future__ import annotations

import base64
import io
import json
import time

import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest

from ishowtts.danmaku.message import ChatMessage
from ishowtts.danmaku.metrics import DanmakuCollector
from ishowtts.danmaku.playback import Clip, PlaybackHub, parse_frame
from ishowtts.danmaku.service import DanmakuService


def message(text: str, user: str = "alice", **kw: object) -> dict:
    body = {"platform": "bilibili", "channel": "room1", "username": user, "text": text}
    body.update(kw)
    return body


def wait_for(cond, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_enqueue_accept_filter_and_stream(h) -> None:
    synth = h.FakeSynth()
    service = DanmakuService(h.make_settings(banned_keywords=["spoiler"]), synth, h.encode_wav)
    with TestClient(h.make_app(service)) as client:
        with client.websocket_connect("/api/danmaku/stream") as ws:
            r = client.post(
                "/api/danmaku/enqueue", json=message("hello 世界", metadata={"display_name": "Alice"})
            )
            assert r.status_code == 202, r.text
            body = r.json()
            assert body["accepted"] and body["priority"] == "normal" and body["display_text"] == "hello 世界"
            r = client.post("/api/danmaku/enqueue", json=message("big spoiler here", user="bob"))
            assert r.status_code == 204 and r.headers["X-Danmaku-Filtered"] == "banned_keyword"
            assert r.content == b""
            header, audio = h.receive_clip(ws)
        assert header["username"] == "Alice" and header["display_text"] == "hello 世界"
        assert header["platform"] == "bilibili" and header["channel"] == "room1"
        assert header["format"] == "audio/wav" and header["color"].startswith("#")
        data, sr = sf.read(io.BytesIO(audio))
        assert sr == 24_000 and len(data) == 240 * len("Alice says: hello 世界")
        assert synth.calls == [("Alice says: hello 世界", None)]
        st = client.get("/api/danmaku/status").json()
        assert st["gateway"]["filtered"] == {"banned_keyword": 1}
        assert st["synthesis"]["completed"] == 1 and st["queue_depth"] == 0


def test_pending_clips_replayed_on_connect_in_order(h) -> None:
    service = DanmakuService(h.make_settings(), h.FakeSynth(), h.encode_wav)
    with TestClient(h.make_app(service)) as client:
        for i in range(3):
            assert (
                client.post("/api/danmaku/enqueue", json=message(f"msg {i}", user=f"u{i}")).status_code == 202
            )
        wait_for(lambda: service.hub.pending == 3)
        with client.websocket_connect("/api/danmaku/stream") as ws:
            texts = [h.receive_clip(ws)[0]["display_text"] for _ in range(3)]
        assert texts == ["msg 0", "msg 1", "msg 2"]
        assert service.hub.pending == 0


def test_playback_backlog_bounded_and_counted(h) -> None:
    service = DanmakuService(h.make_settings(playback_backlog=2), h.FakeSynth(), h.encode_wav)
    with TestClient(h.make_app(service)) as client:
        for i in range(5):
            client.post("/api/danmaku/enqueue", json=message(f"m{i}", user=f"u{i}"))
        wait_for(lambda: service.synthesized == 5)
        st = client.get("/api/danmaku/status").json()["playback"]
        assert st["pending"] == 2 and st["dropped_pending"] == 3
        with client.websocket_connect("/api/danmaku/stream") as ws:
            assert [h.receive_clip(ws)[0]["display_text"] for _ in range(2)] == ["m3", "m4"]


def test_queue_full_synthesis_is_retried_not_dropped(h) -> None:
    synth = h.FakeSynth(refuse=3)
    service = DanmakuService(h.make_settings(), synth, h.encode_wav)
    with TestClient(h.make_app(service)) as client:
        client.post("/api/danmaku/enqueue", json=message("persistent"))
        wait_for(lambda: service.synthesized == 1)
        st = client.get("/api/danmaku/status").json()["synthesis"]
        assert st["retries"] == 3 and st["failed"] == 0
        assert synth.calls == [("alice says: persistent", None)]


def test_engine_failure_counted_and_worker_continues(h) -> None:
    synth = h.FakeSynth(fail_on="boom")
    service = DanmakuService(h.make_settings(), synth, h.encode_wav)
    with TestClient(h.make_app(service)) as client:
        client.post("/api/danmaku/enqueue", json=message("boom", user="a"))
        client.post("/api/danmaku/enqueue", json=message("fine", user="b"))
        wait_for(lambda: service.synthesized == 1 and service.failed == 1)
        st = client.get("/api/danmaku/status").json()["synthesis"]
        assert "engine exploded" in st["last_error"]


def test_priority_and_voice_and_template(h) -> None:
    synth = h.FakeSynth(gated=True)
    # spoken as rendered (usernames such as "n0" would otherwise be read "n zero"; see the normalize test)
    settings = h.make_settings(template="{username}: {text}", voice_id="narrator", normalize={"enabled": False})
    service = DanmakuService(settings, synth, h.encode_wav)
    with TestClient(h.make_app(service)) as client:
        client.post("/api/danmaku/enqueue", json=message("first normal", user="n0"))
        wait_for(lambda: service.in_flight is not None)  # n0 is being synthesised; the rest queue up
        client.post("/api/danmaku/enqueue", json=message("normal", user="n1"))
        client.post("/api/danmaku/enqueue", json=message("paid", user="p1", priority="paid"))
        client.post("/api/danmaku/enqueue", json=message("mod", user="m1", metadata={"moderator": True}))
        client.post("/api/danmaku/enqueue", json=message("voice", user="v1", metadata={"voice_id": "other"}))
        assert len(service.gateway) == 4
        synth.gate.set()
        wait_for(lambda: service.synthesized == 5)
    assert [c[0] for c in synth.calls] == [
        "n0: first normal",
        "p1: paid",
        "m1: mod",
        "n1: normal",
        "v1: voice",
    ]
    assert [c[1] for c in synth.calls] == ["narrator"] * 4 + ["other"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"platform": "bilibili", "channel": "r", "username": "u"}, "text"),
        ({"platform": "Bad Platform", "channel": "r", "username": "u", "text": "x"}, "platform"),
        ({"platform": "bilibili", "channel": "r", "username": "", "text": "x"}, "username"),
        ({"platform": "bilibili", "channel": "r", "username": "u", "text": "x" * 5000}, "text"),
    ],
)
def test_enqueue_validation(h, body: dict, fragment: str) -> None:
    service = DanmakuService(h.make_settings(), h.FakeSynth(), h.encode_wav)
    with TestClient(h.make_app(service)) as client:
        r = client.post("/api/danmaku/enqueue", json=body)
        assert r.status_code == 422 and fragment in r.text


def test_enqueue_bad_priority(h) -> None:
    service = DanmakuService(h.make_settings(), h.FakeSynth(), h.encode_wav)
    with TestClient(h.make_app(service)) as client:
        r = client.post("/api/danmaku/enqueue", json=message("x", priority="urgent"))
        assert r.status_code == 400 and "priority" in r.json()["detail"]


def test_start_stop_validation(h) -> None:
    service = DanmakuService(
        h.make_settings(twitch_host="127.0.0.1", twitch_port=1),
        h.FakeSynth(),
        h.encode_wav,
        voice_exists=lambda v: v == "known",
    )
    with TestClient(h.make_app(service)) as client:
        r = client.post("/api/danmaku/start", json={"platform": "youtube", "channel": "x"})
        assert r.status_code == 400 and "enqueue" in r.json()["detail"]
        r = client.post("/api/danmaku/start", json={"platform": "twitch", "channel": "fine, not_ok!"})
        assert r.status_code == 400 and "not_ok!" in r.json()["detail"]
        assert client.get("/api/danmaku/status").json()["channels"] == []  # nothing half-started
        r = client.post("/api/danmaku/start", json={"platform": "twitch", "channel": "x", "voice_id": "nope"})
        assert r.status_code == 400 and "voice_id" in r.json()["detail"]
        r = client.post(
            "/api/danmaku/start",
            json={"platform": "twitch", "channel": "twitch.tv/Some_One", "voice_id": "known"},
        )
        assert r.status_code == 202
        assert r.json()["started"] == [{"platform": "twitch", "channel": "some_one", "voice_id": "known"}]
        r = client.post("/api/danmaku/start", json={"channel": "second, https://twitch.tv/third"})
        assert [c["channel"] for c in r.json()["started"]] == ["second", "third"]
        r = client.post("/api/danmaku/stop", json={"platform": "twitch", "channel": "third"})
        assert r.json()["stopped"] == [{"platform": "twitch", "channel": "third"}]
        r = client.post("/api/danmaku/stop", json={"platform": "twitch", "channel": "second"})
        st = client.get("/api/danmaku/status").json()
        assert st["channels"] == [
            {"platform": "twitch", "channel": "some_one", "voice_id": "known", "joined": False}
        ]
        assert st["sources"][0]["state"] in ("connecting", "backoff")  # port 1: nothing listens
        r = client.post("/api/danmaku/stop")
        assert r.status_code == 200 and r.json()["stopped"] == [{"platform": "twitch", "channel": "some_one"}]
        assert client.get("/api/danmaku/status").json()["sources"] == []


def test_disabled_service(h) -> None:
    service = DanmakuService(h.make_settings(enabled=False), h.FakeSynth(), h.encode_wav)
    with TestClient(h.make_app(service)) as client:
        assert client.post("/api/danmaku/enqueue", json=message("x")).status_code == 503
        assert client.post("/api/danmaku/start", json={"channel": "x"}).status_code == 400


def test_sse_events(h) -> None:
    service = DanmakuService(h.make_settings(), h.FakeSynth(), h.encode_wav)
    with TestClient(h.make_app(service)) as client:
        client.post("/api/danmaku/enqueue", json=message("over sse"))
        wait_for(lambda: service.hub.pending == 1)
        with client.stream("GET", "/api/danmaku/events") as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            lines = []
            for line in r.iter_lines():
                lines.append(line)
                if line.startswith("data:") and lines[-3] == "event: clip":
                    break
        data = json.loads(lines[-1][5:])
        assert lines[-3] == "event: clip"
        assert data["display_text"] == "over sse" and data["format"] == "audio/wav"
        audio, sr = sf.read(io.BytesIO(base64.b64decode(data["audio_base64"])))
        assert sr == 24_000 and len(audio) > 0


def test_streaming_routes_api_key(h) -> None:
    service = DanmakuService(h.make_settings(), h.FakeSynth(), h.encode_wav)
    with TestClient(h.make_app(service, api_key="k3y")) as client:
        from starlette.websockets import WebSocketDisconnect

        with pytest.raises(WebSocketDisconnect) as ei, client.websocket_connect("/api/danmaku/stream") as ws:
            ws.receive_bytes()
        assert ei.value.code == 1008
        assert client.get("/api/danmaku/events").status_code == 401
        client.post("/api/danmaku/enqueue", json=message("keyed"))
        with client.websocket_connect("/api/danmaku/stream?api_key=k3y") as ws:
            assert h.receive_clip(ws)[0]["display_text"] == "keyed"


def test_hub_slow_client_and_requeue_on_disconnect() -> None:
    hub = PlaybackHub(backlog=2)
    a = hub.subscribe()
    for i in range(3):
        hub.publish(Clip({"n": i}, b""))
    clips = [c.header["n"] for c in a.queue if isinstance(c, Clip)]
    assert clips == [1, 2] and hub.dropped_slow_client == 1
    assert a.queue[0] == {"type": "state", "paused": False, "queued": 0}  # control events are never dropped
    hub.unsubscribe(a)  # last page gone: undelivered clips return to pending
    assert hub.pending == 2
    b = hub.subscribe()
    assert [c.header["n"] for c in b.queue if isinstance(c, Clip)] == [1, 2] and hub.pending == 0


def test_frame_round_trip() -> None:
    clip = Clip({"username": "名字", "display_text": "x"}, b"RIFFdata")
    frame = clip.frame()
    n = int.from_bytes(frame[:4], "little")
    assert json.loads(frame[4 : 4 + n]) == clip.header and frame[4 + n :] == b"RIFFdata"
    assert parse_frame(frame) == (clip.header, b"RIFFdata")
    with pytest.raises(ValueError):
        parse_frame(b"\xff\x00\x00\x00{}")


def test_irc_to_websocket_end_to_end(h, ngircd) -> None:
    """A real IRC server: /start joins, a second connection speaks, the clip arrives on the WebSocket."""
    import socket

    synth = h.FakeSynth()
    settings = h.make_settings(twitch_host="127.0.0.1", twitch_port=ngircd.port, reconnect_base_s=0.05)
    service = DanmakuService(settings, synth, h.encode_wav)
    with TestClient(h.make_app(service)) as client:
        r = client.post(
            "/api/danmaku/start", json={"platform": "twitch", "channel": "#Streamer", "voice_id": "v1"}
        )
        assert r.status_code == 202
        wait_for(lambda: client.get("/api/danmaku/status").json()["channels"][0]["joined"])
        with (
            socket.create_connection(("127.0.0.1", ngircd.port)) as s,
            client.websocket_connect("/api/danmaku/stream") as ws,
        ):
            s.sendall(b"NICK viewer\r\nUSER viewer 8 * :v\r\nJOIN #streamer\r\n")
            buf = b""
            while b" 366 " not in buf:
                buf += s.recv(4096)
            s.sendall("PRIVMSG #streamer :!command ignored\r\nPRIVMSG #streamer :主播好 hello\r\n".encode())
            header, _audio = h.receive_clip(ws)
        assert header["username"] == "viewer" and header["display_text"] == "主播好 hello"
        assert header["platform"] == "twitch" and header["channel"] == "streamer"
        assert synth.calls == [("viewer says: 主播好 hello", "v1")]
        st = client.get("/api/danmaku/status").json()
        assert st["connected"] and st["gateway"]["filtered"] == {"command": 1}


def test_prometheus_collector(h) -> None:
    service = DanmakuService(
        h.make_settings(queue_capacity=1, banned_keywords=["bad"]), h.FakeSynth(), h.encode_wav
    )
    registry = CollectorRegistry()
    registry.register(DanmakuCollector(service))
    service.enqueue(ChatMessage("web", "c", "u1", "one"))
    service.enqueue(ChatMessage("web", "c", "u2", "two"))  # evicts "one"
    service.enqueue(ChatMessage("web", "c", "u3", "bad word"))
    text = generate_latest(registry).decode()
    assert 'ishowtts_danmaku_messages_total{outcome="accepted"} 2.0' in text
    assert 'ishowtts_danmaku_messages_total{outcome="banned_keyword"} 1.0' in text
    assert 'ishowtts_danmaku_dropped_total{priority="normal"} 1.0' in text
    assert "ishowtts_danmaku_queue_depth 1.0" in text


def test_chat_lines_are_spoken_normalized_and_frames_say_what_was_spoken(h) -> None:
    from ishowtts.text.normalize import CHAT_DEFAULTS, normalize

    synth = h.FakeSynth()
    service = DanmakuService(h.make_settings(), synth, h.encode_wav)
    with TestClient(h.make_app(service)) as client:
        with client.websocket_connect("/api/danmaku/stream") as ws:
            r = client.post("/api/danmaku/enqueue", json=message("gg 🔥🔥 2nd win!!!", user="carol"))
            assert r.status_code == 202, r.text
            header, _ = h.receive_clip(ws)
        spoken = normalize("carol says: gg 🔥🔥 2nd win!!!", CHAT_DEFAULTS).text
        assert header["display_text"] == "gg 🔥🔥 2nd win!!!"  # the page shows what was written
        assert header["spoken_text"] == spoken and synth.calls == [(spoken, None)]
        assert "🔥" not in spoken and "fire" not in spoken and "!!" not in spoken  # chat drops emoji
        assert not any(ch.isdigit() for ch in spoken)


def test_danmaku_normalize_setting_changes_the_chat_defaults(h) -> None:
    from ishowtts.danmaku.settings import DanmakuSettings

    settings = DanmakuSettings.from_dict({"normalize": {"emoji": "name"}})
    assert settings.normalize.emoji == "name" and settings.normalize.urls == "say"
    assert settings.public_dict()["normalize"]["emoji"] == "name"
    with pytest.raises(ValueError, match=r"danmaku\.normalize: unknown normalize option"):
        DanmakuSettings.from_dict({"normalize": {"colour": 1}})
    with pytest.raises(ValueError, match=r"danmaku\.normalize: must be a table"):
        DanmakuSettings.from_dict({"normalize": "yes"})
