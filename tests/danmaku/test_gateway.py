"""Gateway: every filter rule, CJK truncation, cooldown, dedupe window, priority order, drop-oldest."""

from __future__ import annotations

import asyncio
import time

import pytest

from ishowtts.danmaku.gateway import Gateway
from ishowtts.danmaku.message import ChatMessage, MessagePriority
from ishowtts.danmaku.settings import DanmakuSettings


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def gw(**kw) -> tuple[Gateway, Clock]:
    base = {"cooldown_s": 0.0, "dedupe_window_s": 0.0, "rate_limit": 0.0}
    base.update(kw)
    clock = Clock()
    return Gateway(DanmakuSettings.from_dict(base), clock=clock), clock


def msg(text: str, user: str = "alice", **kw) -> ChatMessage:
    kw.setdefault("channel", "streamer")
    return ChatMessage(platform="twitch", username=user, text=text, **kw)


def test_accepts_and_renders_template() -> None:
    g, _ = gw()
    d = g.submit(msg("hello there", metadata={"display_name": "Alice"}))
    assert d.accepted and d.reason is None
    item = g.pop_nowait()
    assert item is d.item
    assert g.render(item) == "Alice says: hello there"


def test_custom_template_fields() -> None:
    g, _ = gw(template="[{platform}/{channel}] {username}: {text}")
    g.submit(msg("hi"))
    assert g.render(g.pop_nowait()) == "[twitch/streamer] alice: hi"


def test_template_braces_in_user_text_are_literal() -> None:
    g, _ = gw()
    g.submit(msg("{username} {0} {text}"))
    assert g.render(g.pop_nowait()) == "alice says: {username} {0} {text}"


@pytest.mark.parametrize(
    ("text", "meta", "reason"),
    [
        ("sub!", {"system": True}, "system"),
        ("   \r\n\t  ", {}, "empty"),
        ("\u200b\u200b", {}, "empty"),
        ("!uptime", {}, "command"),
        ("  !so someone", {}, "command"),
        ("see https://evil.example/x", {}, "link"),
        ("go to www.example.org now", {}, "link"),
        ("visit scam.com/free", {}, "link"),
        ("you are a BadWord indeed", {}, "banned_keyword"),
        ("这个是禁词啊", {}, "banned_keyword"),
    ],
)
def test_each_filter_rule_rejects_with_its_reason(text: str, meta: dict, reason: str) -> None:
    g, _ = gw(banned_keywords=["badword", "禁词"], link_action="drop")
    d = g.submit(msg(text, metadata=meta))
    assert not d.accepted
    assert d.reason == reason
    assert g.stats()["filtered"] == {reason: 1}
    assert len(g) == 0


def test_links_allowed_when_configured() -> None:
    g, _ = gw(allow_links=True)
    assert g.submit(msg("see https://example.com")).item.text == "see https://example.com"


def test_links_spoken_as_a_word_by_default() -> None:
    g, _ = gw()
    assert g.submit(msg("see https://evil.example/x?a=1 now")).item.text == "see link now"
    g2, _ = gw(link_word="a link")
    assert g2.submit(msg("visit scam.com/free and www.example.org")).item.text == "visit a link and a link"


def test_optional_filters_can_be_disabled() -> None:
    g, _ = gw(filters=["links"], banned_keywords=["bad"], blocked_users=["bob"], link_action="drop")
    assert g.submit(msg("!command")).accepted
    assert g.submit(msg("bad words", user="x1")).accepted
    assert g.submit(msg("hi", user="bob")).accepted
    assert g.submit(msg("http://x.com", user="x2")).reason == "link"


def test_blocked_user_case_insensitive_and_display_name() -> None:
    g, _ = gw(blocked_users=["NightBot"])
    assert g.submit(msg("hello", user="nightbot")).reason == "blocked_user"
    assert g.submit(msg("hello", user="nb2", metadata={"display_name": "Nightbot"})).reason == "blocked_user"


def test_normalisation_control_chars_newlines_action() -> None:
    g, _ = gw()
    g.submit(msg("line one\r\nline\ttwo\x00\x07  end\u202e"))
    assert g.pop_nowait().text == "line one line two end"
    g.submit(msg("\x01ACTION waves hello\x01", user="b"))
    assert g.pop_nowait().text == "waves hello"


def test_truncate_words_then_chars() -> None:
    g, _ = gw(max_words=3, max_chars=100)
    g.submit(msg("one two three four five"))
    assert g.pop_nowait().text == "one two three"
    g, _ = gw(max_words=77, max_chars=10)
    g.submit(msg("abcdefghij klmnop"))
    assert g.pop_nowait().text == "abcdefghij"


def test_cjk_truncation_counts_characters_not_bytes() -> None:
    g, _ = gw(max_chars=5)
    text = "你好世界今天天气很好"  # 10 characters, 30 UTF-8 bytes
    d = g.submit(msg(text))
    assert d.accepted
    out = g.pop_nowait().text
    assert out == "你好世界今"
    assert len(out) == 5 and len(out.encode()) == 15
    # Emoji beyond the BMP count as one character each and are never split.
    g.submit(msg("😀😃😄😁😆😅", user="emoji"))
    assert g.pop_nowait().text == "😀😃😄😁😆"


def test_cooldown_per_user_and_exemptions() -> None:
    g, clock = gw(cooldown_s=5.0, user_max_queued=0)
    assert g.submit(msg("first")).accepted
    clock.t += 4.9
    assert g.submit(msg("second")).reason == "cooldown"
    assert g.submit(msg("other user", user="bob")).accepted  # per user
    assert g.submit(msg("mod talk", metadata={"badges": {"moderator": "1"}})).accepted  # exempt
    assert g.submit(msg("cheer", metadata={"bits": 100})).accepted  # exempt
    clock.t += 0.2
    assert g.submit(msg("third")).accepted
    # A filtered message does not restart the cooldown.
    clock.t += 5.1
    assert g.submit(msg("!cmd")).reason == "command"
    assert g.submit(msg("fourth")).accepted


def test_cooldown_keys_by_user_id_when_present() -> None:
    g, _ = gw(cooldown_s=5.0)
    assert g.submit(msg("a", user="renamed1", user_id="42")).accepted
    assert g.submit(msg("b", user="renamed2", user_id="42")).reason == "cooldown"


def test_dedupe_window() -> None:
    g, clock = gw(dedupe_window_s=10.0)
    assert g.submit(msg("Same  Text")).accepted
    clock.t += 9.0
    assert g.submit(msg("same text", user="bob")).reason == "duplicate"
    assert g.submit(msg("same text", user="carol", channel="other")).accepted  # per channel
    clock.t += 1.5
    assert g.submit(msg("SAME TEXT", user="dave")).accepted
    assert g.stats()["filtered"] == {"duplicate": 1}


def test_duplicate_message_id_dropped() -> None:
    g, _ = gw()
    assert g.submit(msg("hello", id="abc")).accepted
    d = g.submit(msg("hello again", user="z", id="abc"))
    assert d.reason == "duplicate_id"


def test_priority_order_fifo_within_class() -> None:
    g, _ = gw()
    g.submit(msg("n1", user="u1"))
    g.submit(msg("hey @Streamer look", user="u2"))
    g.submit(msg("m1", user="u3", metadata={"badges": {"moderator": "1"}}))
    g.submit(msg("b1", user="u4", metadata={"bits": 50}))
    g.submit(msg("n2", user="u5"))
    g.submit(msg("bc", user="u6", metadata={"badges": {"broadcaster": "1"}}))
    g.submit(msg("explicit", user="u7", priority=MessagePriority.PAID))
    order = [g.pop_nowait().text for _ in range(7)]
    assert order == ["b1", "explicit", "m1", "bc", "hey @Streamer look", "n1", "n2"]
    assert g.pop_nowait() is None


def test_mention_names_setting() -> None:
    g, _ = gw(mention_names=["ishow"])
    assert g.classify(msg("hi @iShow")) == MessagePriority.MENTION
    assert g.classify(msg("hi ishow")) == MessagePriority.NORMAL


def test_full_queue_drops_oldest_normal_first_and_counts() -> None:
    g, _ = gw(queue_capacity=3)
    g.submit(msg("n1", user="a"))
    g.submit(msg("m1", user="b", metadata={"badges": {"moderator": "1"}}))
    g.submit(msg("n2", user="c"))
    d = g.submit(msg("n3", user="d"))  # full: oldest normal (n1) goes
    assert d.accepted and [x.text for x in d.dropped] == ["n1"]
    d = g.submit(msg("p1", user="e", metadata={"bits": 1}))  # oldest normal (n2) goes
    assert d.accepted and [x.text for x in d.dropped] == ["n2"]
    d = g.submit(msg("p2", user="f", metadata={"bits": 1}))  # oldest normal (n3) goes
    assert [x.text for x in d.dropped] == ["n3"]
    # Only moderator + paid left: a new normal message is the lowest class, so it is the one dropped.
    d = g.submit(msg("n4", user="g"))
    assert not d.accepted and d.reason == "queue_full" and d.dropped[0].text == "n4"
    # A paid message evicts the oldest of the lowest queued class (the moderator message).
    d = g.submit(msg("p3", user="h", metadata={"bits": 1}))
    assert d.accepted and [x.text for x in d.dropped] == ["m1"]
    st = g.stats()
    assert st["dropped"] == {"paid": 0, "moderator": 1, "mention": 0, "normal": 4}
    assert st["dropped_total"] == 5
    assert st["queue_depth"] == 3
    assert [g.pop_nowait().text for _ in range(3)] == ["p1", "p2", "p3"]


def test_pressure_many_messages_counts_balance() -> None:
    g, _ = gw(queue_capacity=50)
    for i in range(500):
        g.submit(msg(f"message {i}", user=f"user{i}"))
    st = g.stats()
    assert st["queue_depth"] == 50
    assert st["dropped"]["normal"] == 450
    # The newest 50 survive, oldest first.
    assert [g.pop_nowait().text for _ in range(50)] == [f"message {i}" for i in range(450, 500)]


def test_requeue_front_keeps_order() -> None:
    g, _ = gw()
    g.submit(msg("a", user="1"))
    g.submit(msg("b", user="2"))
    first = g.pop_nowait()
    g.requeue_front(first)
    assert [g.pop_nowait().text for _ in range(2)] == ["a", "b"]


@pytest.mark.anyio
async def test_get_honours_rate_limit() -> None:
    settings = DanmakuSettings.from_dict({"cooldown_s": 0.0, "dedupe_window_s": 0.0, "rate_limit": 20.0})
    g = Gateway(settings)
    for i in range(5):
        g.submit(msg(f"m{i}", user=f"u{i}"))
    times = []
    for _ in range(5):
        await g.get()
        times.append(time.monotonic())
    # 5 items at 20/s with burst 1: at least 4 intervals of 50 ms.
    assert times[-1] - times[0] >= 4 * 0.05 * 0.95


@pytest.mark.anyio
async def test_get_waits_for_items() -> None:
    g, _ = gw()
    task = asyncio.create_task(g.get())
    await asyncio.sleep(0.02)
    assert not task.done()
    g.submit(msg("late"))
    item = await asyncio.wait_for(task, 1.0)
    assert item.text == "late"
