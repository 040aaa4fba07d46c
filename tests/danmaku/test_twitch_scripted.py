"""Against a scripted Twitch-style IRC server (``twitch_server.py``): tagged lines -> triggers -> clips on a
WebSocket player; chat commands from moderators and viewers; CLEARMSG / CLEARCHAT; readable errors; bad
input. Every "is NOT spoken" check sends a later sentinel line and expects the sentinel next."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient

from ishowtts.danmaku.message import ChatEvent, MessagePriority
from ishowtts.danmaku.service import DanmakuService
from ishowtts.danmaku.twitch import CAPS, TwitchIrcClient

MOD = {"badges": "moderator/1", "mod": 1}


@contextlib.contextmanager
def live(h: Any, server: Any, channel: str = "chan", **kw: Any) -> Iterator[tuple[Any, DanmakuService, Any]]:
    synth = kw.pop("synth", None) or h.FakeSynth()
    state_path = kw.pop("state_path", None)
    base: dict[str, Any] = {"cooldown_s": 0.0, "dedupe_window_s": 0.0, "rate_limit": 0.0}
    base.update(kw)
    service = DanmakuService(h.settings_for(server.port, **base), synth, h.encode_wav, state_path=state_path)
    with TestClient(h.make_app(service)) as client:
        assert client.post("/api/danmaku/start", json={"channel": channel}).status_code == 202
        if channel in (server.channels or {channel}):
            h.wait_for(lambda: service.twitch is not None and channel in service.twitch.joined)
        yield client, service, synth


def test_each_trigger(h, twitch_server) -> None:
    s = twitch_server
    with live(
        h, s, triggers=["bits", "reward", "badges", "first_msg", "command"], min_bits=100,
        reward_ids=["rw-1"], trigger_badges=["subscriber", "vip"],
    ) as (client, _service, synth):  # fmt: skip
        with client.websocket_connect("/api/danmaku/stream") as ws:
            s.privmsg("chan", "u1", "plain chat")
            s.privmsg("chan", "u2", "Cheer50 small cheer", bits=50)
            s.privmsg("chan", "u3", "Cheer100 big cheer", bits=100, id="bits-1")
            s.privmsg("chan", "u4", "reward text", custom_reward_id="rw-1")
            s.privmsg("chan", "u5", "other reward", custom_reward_id="rw-2")
            s.privmsg("chan", "u6", "sub talk", badges="subscriber/12")
            s.privmsg("chan", "u7", "vip talk", badges="vip/1", vip=1)
            s.privmsg("chan", "u8", "mod talk", badges="moderator/1")
            s.privmsg("chan", "u9", "first time here", first_msg=1)
            s.privmsg("chan", "u10", "!tts spoken by command")
            s.privmsg("chan", "u11", "!ttsx not a command")
            heads = [h.receive_clip(ws)[0] for _ in range(6)]
        got = {(x["kind"], x["display_text"], x["user"]) for x in heads}
        assert got == {
            ("bits", "big cheer", "u3"), ("reward", "reward text", "u4"), ("chat", "sub talk", "u6"),
            ("chat", "vip talk", "u7"), ("chat", "first time here", "u9"),
            ("command", "spoken by command", "u10"),
        }  # fmt: skip
        bits = next(x for x in heads if x["kind"] == "bits")
        assert bits["msg_id"] == "bits-1" and bits["id"] == "bits-1" and bits["voice"] is None
        st = client.get("/api/danmaku/status").json()
        assert st["gateway"]["filtered"] == {"trigger": 5} and st["triggers"] == [
            "bits", "reward", "badges", "first_msg", "command",
        ]  # fmt: skip
        assert len(synth.calls) == 6


def test_moderator_commands_act_and_viewer_commands_are_ignored(h, twitch_server) -> None:
    s = twitch_server
    with live(h, s) as (client, service, synth):
        with client.websocket_connect("/api/danmaku/stream") as ws:
            controls: list[dict] = []
            s.privmsg("chan", "viewer", "!skip")
            s.privmsg("chan", "viewer", "!tts pause")
            s.privmsg("chan", "viewer", "!tts ban someone")
            s.privmsg("chan", "mod1", "!skip", **MOD)
            s.privmsg("chan", "ann", "sentinel one")
            head, _ = h.receive_clip(ws, controls)
            assert head["display_text"] == "sentinel one"
            assert [c["type"] for c in controls].count("skip") == 1
            assert not service.gateway.paused and service.moderation.banned == []

            s.privmsg("chan", "mod1", "!tts pause", **MOD)
            assert h.receive_control(ws, "state")["paused"] is True
            s.privmsg("chan", "ann", "waits while paused")
            s.privmsg("chan", "viewer", "!tts resume")  # ignored
            h.wait_for(lambda: len(service.gateway) == 1)
            assert service.gateway.paused
            s.privmsg("chan", "chan", "!tts resume")  # the channel owner (broadcaster)
            assert h.receive_clip(ws)[0]["display_text"] == "waits while paused"

            s.privmsg("chan", "mod1", "!tts pause", **MOD)
            s.privmsg("chan", "bob", "cleared one")
            s.privmsg("chan", "cat", "cleared two")
            h.wait_for(lambda: len(service.gateway) == 2)
            s.privmsg("chan", "boss", "!tts clear", badges="broadcaster/1")
            h.receive_control(ws, "clear")
            assert len(service.gateway) == 0

            s.privmsg("chan", "mod1", "!tts ban @Bob", **MOD)
            h.wait_for(lambda: service.moderation.banned == ["bob"])
            s.privmsg("chan", "bob", "banned talk")
            s.privmsg("chan", "carol", "mine one")
            s.privmsg("chan", "carol", "mine two")
            s.privmsg("chan", "dave", "not mine")
            h.wait_for(lambda: len(service.gateway) == 3)
            s.privmsg("chan", "carol", "!tts cancel")  # a viewer's own lines
            h.wait_for(lambda: len(service.gateway) == 1)
            s.privmsg("chan", "mod1", "!tts unban bob", **MOD)
            s.privmsg("chan", "bob", "bob is back")
            s.privmsg("chan", "mod1", "!tts resume", **MOD)
            texts = [h.receive_clip(ws)[0]["display_text"] for _ in range(2)]
        assert texts == ["not mine", "bob is back"]
        st = client.get("/api/danmaku/status").json()
        assert st["gateway"]["filtered"]["banned_user"] == 1 and st["banned"] == []
        assert st["commands"]["ignored"] == 4  # !skip, !tts pause/ban/resume from viewers
        assert all("!" not in t and "tts" not in t for t, _ in synth.calls)  # no command was ever spoken


def test_control_api(h, twitch_server) -> None:
    with live(h, twitch_server) as (client, _service, _synth):
        with client.websocket_connect("/api/danmaku/stream") as ws:
            assert h.receive_control(ws, "state") == {"type": "state", "paused": False, "queued": 0}
            r = client.post("/api/danmaku/control", json={"action": "pause"})
            assert r.status_code == 200 and r.json()["paused"] is True
            assert h.receive_control(ws, "state")["paused"] is True
            assert client.post("/api/danmaku/control", json={"action": "skip"}).status_code == 200
            h.receive_control(ws, "skip")
            r = client.post("/api/danmaku/control", json={"action": "ban", "user": "Eve"})
            assert r.json()["user"] == "eve" and client.get("/api/danmaku/status").json()["banned"] == ["eve"]
            assert client.post("/api/danmaku/control", json={"action": "ban"}).status_code == 400
            assert client.post("/api/danmaku/control", json={"action": "explode"}).status_code == 422
            assert client.post("/api/danmaku/control", json={"action": "unban", "user": "eve"}).json()[
                "was_banned"
            ]


def test_clearmsg_queued_in_flight_and_playing(h, twitch_server) -> None:
    s = twitch_server
    synth = h.FakeSynth()
    with live(h, s, synth=synth) as (client, service, _):
        with client.websocket_connect("/api/danmaku/stream") as ws:
            # queued: removed from the queue
            client.post("/api/danmaku/control", json={"action": "pause"})
            s.privmsg("chan", "ann", "delete me", id="del-1")
            s.privmsg("chan", "ben", "keep me", id="keep-1")
            h.wait_for(lambda: len(service.gateway) == 2)
            s.clearmsg("chan", "del-1", login="ann")
            h.wait_for(lambda: len(service.gateway) == 1)
            client.post("/api/danmaku/control", json={"action": "resume"})
            assert h.receive_clip(ws)[0]["display_text"] == "keep me"
            # playing: a remove control event for that clip
            s.privmsg("chan", "cat", "playing now", id="play-1")
            assert h.receive_clip(ws)[0]["id"] == "play-1"
            s.clearmsg("chan", "play-1")
            assert h.receive_control(ws, "remove") == {"type": "remove", "id": "play-1"}
            # in flight (being synthesised): discarded when synthesis returns, never published
            synth.gate.clear()
            s.privmsg("chan", "dan", "in flight", id="fly-1")
            h.wait_for(lambda: service.in_flight is not None)
            s.clearmsg("chan", "fly-1")
            h.wait_for(lambda: service.moderation.removed == 2)
            synth.gate.set()
            s.privmsg("chan", "eve", "sentinel")
            assert h.receive_clip(ws)[0]["display_text"] == "sentinel"
        assert service.moderation.discarded == 1
        assert all("delete me" not in t for t, _ in synth.calls)


def test_clearchat_user_and_whole_chat(h, twitch_server) -> None:
    s = twitch_server
    with live(h, s) as (client, service, synth):
        with client.websocket_connect("/api/danmaku/stream") as ws:
            s.privmsg("chan", "troll", "playing troll line", id="t-0")
            assert h.receive_clip(ws)[0]["id"] == "t-0"
            client.post("/api/danmaku/control", json={"action": "pause"})
            s.privmsg("chan", "troll", "troll one")
            s.privmsg("chan", "troll", "troll two")
            s.privmsg("chan", "nice", "nice line")
            h.wait_for(lambda: len(service.gateway) == 3)
            s.clearchat("chan", "troll")  # timeout/ban: their queued lines go, their playing clip stops
            assert h.receive_control(ws, "remove") == {"type": "remove", "id": "t-0"}
            h.wait_for(lambda: len(service.gateway) == 1)
            s.privmsg("chan", "x1", "gone with the chat")
            h.wait_for(lambda: len(service.gateway) == 2)
            s.clearchat("chan")  # the whole chat cleared: the queue too, and the players
            h.receive_control(ws, "clear")
            assert len(service.gateway) == 0
            client.post("/api/danmaku/control", json={"action": "resume"})
            s.privmsg("chan", "x2", "after the clear")
            assert h.receive_clip(ws)[0]["display_text"] == "after the clear"
        assert [t for t, _ in synth.calls if "troll" in t] == ["Troll says: playing troll line"]


def test_readable_errors_auth_channel_connect(h, twitch_server_factory) -> None:
    server = twitch_server_factory(token="good", channels={"real"})
    with live(h, server, oauth_token="bad", nick="mybot") as (client, service, _):
        with client.websocket_connect("/api/danmaku/stream") as ws:
            ev = h.receive_control(ws, "error")
        assert ev["code"] == "auth" and "chat:read" in ev["message"] and "oauth_token" in ev["message"]
        assert client.get("/api/danmaku/status").json()["last_error"] == {
            "code": "auth", "message": ev["message"],
        }  # fmt: skip
    with live(h, server, channel="nosuch", oauth_token="good", nick="mybot") as (client, service, _):
        with client.websocket_connect("/api/danmaku/stream") as ws:
            ev = h.receive_control(ws, "error")
            assert ev["code"] == "channel" and "'nosuch' does not exist" in ev["message"]
            assert client.post("/api/danmaku/start", json={"channel": "real"}).status_code == 202
            h.receive_control(ws, "error_clear")
        assert client.get("/api/danmaku/status").json()["last_error"] is None
    port = h.closed_port()
    service = DanmakuService(h.settings_for(port), h.FakeSynth(), h.encode_wav)
    with TestClient(h.make_app(service)) as client:
        with client.websocket_connect("/api/danmaku/stream") as ws:
            client.post("/api/danmaku/start", json={"channel": "chan"})
            ev = h.receive_control(ws, "error")
        assert ev["code"] == "connect" and "refused the connection" in ev["message"]


def test_bad_input_never_breaks_the_client(h, twitch_server) -> None:
    s = twitch_server
    with live(h, s) as (client, _service, _synth):
        with client.websocket_connect("/api/danmaku/stream") as ws:
            s.send(
                "@;;;=;badges=moderator/1 :x!x@x.tmi.twitch.tv PRIVMSG #chan :malformed tags one",
                "@",
                "@a=b",
                ":only.a.prefix",
                "@badges=\\;bits=\\ :y!y@y.tmi.twitch.tv PRIVMSG #chan :escape soup \\s",
                "@emotes=25:99-120,5-2,zz :z!z@z.tmi.twitch.tv PRIVMSG #chan :short",
                "@bits=abc;emotes=25:0-4 :w!w@w.tmi.twitch.tv PRIVMSG #chan :Kappa non numeric bits",
                "@target-msg-id= :tmi.twitch.tv CLEARMSG #chan :x",
                ":tmi.twitch.tv CLEARCHAT",
                "\xff\xfe garbage",
            )
            texts = [h.receive_clip(ws)[0]["display_text"] for _ in range(4)]
            st = client.get("/api/danmaku/status").json()
        assert texts == ["malformed tags one", "escape soup \\s", "short", "non numeric bits"]
        assert st["connected"] and st["sources"][0]["connects"] == 1


def test_burst_of_10000_lines_stays_bounded(h, twitch_server) -> None:
    s = twitch_server
    with live(h, s, queue_capacity=64) as (client, service, _synth):
        client.post("/api/danmaku/control", json={"action": "pause"})
        lines = [
            s.privmsg_line("chan", f"user{i}", f"burst {i}", **({"bits": 100} if i % 500 == 0 else {}))
            for i in range(10_000)
        ]
        for k in range(0, len(lines), 1000):
            s.send(*lines[k : k + 1000])
        h.wait_for(lambda: service.gateway.received == 10_000, timeout=60)
        st = client.get("/api/danmaku/status").json()
        assert st["queue_depth"] == 64 and st["connected"], st["gateway"]
        assert st["gateway"]["queue_by_priority"]["paid"] == 20  # paid lines are never evicted by chat
        assert st["dropped"]["normal"] == 10_000 - 64
        normal = [it.text for it in service.gateway.remove_where(lambda it: it.priority == MessagePriority.NORMAL)]
        assert normal == [f"burst {i}" for i in range(10_000 - 44, 10_000)]  # the oldest chat went first


@pytest.mark.anyio
async def test_refused_login_is_auth_when_the_server_hangs_up_at_once(h, twitch_server_factory) -> None:
    """Twitch answers a bad token with a NOTICE and hangs up without reading the rest of our login (an RST
    right behind the NOTICE): the NOTICE must still be read, and the error be ``auth``, never ``connect``."""
    server = twitch_server_factory(token="good", hasty=True)
    events: list[ChatEvent] = []
    settings = h.settings_for(server.port, oauth_token="bad", nick="mybot")
    with anyio.fail_after(h.DEADLINE_S):
        client = TwitchIrcClient(settings, lambda m: None, on_event=events.append)
        writes: list[tuple[str, ...]] = []
        send = client._send

        async def spy(*lines: str) -> None:
            writes.append(lines)
            await send(*lines)

        client._send = spy  # type: ignore[method-assign]
        await client.join("chan")
        await client.start()
        await h.until(lambda: len(events) >= 3, what="three refused logins")
        await client.stop()
    assert [(e.kind, e.code) for e in events[:3]] == [("problem", "auth")] * 3, [e.message for e in events]
    assert "PASS oauth:bad" in server.received and client.status()["error"]["kind"] == "auth"
    assert [w[:3] for w in writes[:3]] == [(f"CAP REQ :{CAPS}", "PASS oauth:bad", "NICK mybot")] * 3  # one write
    assert writes[0][3:] == ("USER mybot 8 * :mybot", "CAP END")


def test_stop_clears_the_error_and_a_repeat_is_announced_again(h, twitch_server_factory) -> None:
    server = twitch_server_factory(token="good", channels={"real"})  # "chan" is never joined: no wait
    with live(h, server, oauth_token="bad", nick="mybot") as (client, service, _):
        with client.websocket_connect("/api/danmaku/stream") as ws:
            first = h.receive_control(ws, "error")
            assert first["code"] == "auth"
            r = client.post("/api/danmaku/stop")
            assert r.status_code == 200 and r.json()["status"]["last_error"] is None
            assert {"type": "error_clear"} in h.controls_until_skip(client, ws)
            assert service.moderation.problem is None and service.hub.error is None
            assert client.get("/api/danmaku/status").json()["last_error"] is None
            # the same failure again: a fresh error event (the banner comes back)
            assert client.post("/api/danmaku/start", json={"channel": "chan"}).status_code == 202
            h.wait_for(lambda: service.moderation.problem is not None)
            assert [e for e in h.controls_until_skip(client, ws) if e["type"] == "error"] == [first]
            assert client.get("/api/danmaku/status").json()["last_error"] == {
                "code": "auth", "message": first["message"],
            }  # fmt: skip
        # a page that connects later still sees the error that holds; none once it is stopped
        with client.websocket_connect("/api/danmaku/stream") as ws:
            assert [e["type"] for e in h.controls_until_skip(client, ws)] == ["state", "error"]
            client.post("/api/danmaku/stop")
            assert h.controls_until_skip(client, ws) == [{"type": "error_clear"}]


def test_stopping_the_refused_channel_clears_its_error(h, twitch_server_factory) -> None:
    server = twitch_server_factory(channels={"real"})
    with live(h, server, channel="real") as (client, service, _):
        with client.websocket_connect("/api/danmaku/stream") as ws:
            assert client.post("/api/danmaku/start", json={"channel": "nosuch"}).status_code == 202
            assert h.receive_control(ws, "error")["code"] == "channel"
            r = client.post("/api/danmaku/stop", json={"channel": "nosuch"})
            assert r.json()["stopped"] == [{"platform": "twitch", "channel": "nosuch"}]
            assert {"type": "error_clear"} in h.controls_until_skip(client, ws)
            st = client.get("/api/danmaku/status").json()
            assert st["last_error"] is None and st["connected"] and st["channels"][0]["joined"]
            assert service.hub.error is None and st["sources"][0]["error"] is None
