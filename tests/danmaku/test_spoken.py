"""What a chat line sounds like: emotes by code-point position, cheermotes, links, spam, banned words."""

from __future__ import annotations

import pytest

from ishowtts.danmaku import spoken
from ishowtts.danmaku.gateway import Gateway
from ishowtts.danmaku.irc import parse_line, privmsg_to_message
from ishowtts.danmaku.message import ChatMessage
from ishowtts.danmaku.settings import DanmakuSettings


def gw(**kw: object) -> Gateway:
    base: dict[str, object] = {"cooldown_s": 0.0, "dedupe_window_s": 0.0, "rate_limit": 0.0}
    base.update(kw)
    return Gateway(DanmakuSettings.from_dict(base))


def tagged(text: str, emotes: str = "", **tags: str) -> ChatMessage:
    extra = "".join(f";{k}={v}" for k, v in tags.items())
    line = f"@emotes={emotes};id=x{abs(hash(text))}{extra} :bob!bob@bob.tmi.twitch.tv PRIVMSG #chan :{text}"
    msg = privmsg_to_message(parse_line(line))
    assert msg is not None
    return msg


def test_emote_positions_are_code_points_after_emoji_and_cjk() -> None:
    # "😀你好 Kappa hi": 😀 is 1 code point (2 UTF-16 units, 4 bytes); Kappa spans code points 4..8
    text = "😀你好 Kappa hi Kappa"
    msg = tagged(text, emotes="25:4-8,13-17")
    assert msg.metadata["emotes"] == [[4, 9], [13, 18]]
    item = gw().submit(msg).item
    assert item is not None and item.text == "😀你好 hi"


def test_emote_only_message_is_dropped_and_emote_words_are_kept() -> None:
    assert gw().submit(tagged("Kappa PogChamp", emotes="25:0-4/88:6-13")).reason == "emote_only"
    item = gw(emote_words=["pogchamp"]).submit(tagged("Kappa PogChamp", emotes="25:0-4/88:6-13")).item
    assert item is not None and item.text == "PogChamp"


@pytest.mark.parametrize(
    "emotes",
    ["25:40-50", "25:5-2", "25:a-b", "25:", ":::", "25:0-4,0-2", "25:-1-3", "x" * 5000, "25:0-99999999999999"],
)
def test_bad_emote_tags_are_ignored_safely(emotes: str) -> None:
    msg = tagged("Kappa hello", emotes=emotes)
    d = gw().submit(msg)
    assert d.accepted and d.item is not None and d.item.text in ("hello", "Kappa hello")


def test_strip_emotes_ignores_spans_outside_text() -> None:
    assert spoken.strip_emotes("hi", [(0, 1), (5, 9)]) == ("i", 1)
    assert spoken.parse_emotes("1:0-1,3-4/2:2-2") == [(0, 2), (2, 3), (3, 5)]


def test_cheermotes_removed_from_bits_messages_only() -> None:
    d = gw().submit(tagged("Cheer100 great stream cheer50 BibleThump10 p1", bits="160"))
    assert d.item is not None and d.item.text == "great stream p1"
    d = gw().submit(tagged("Cheer100 is a word here"))  # no bits: nothing removed
    assert d.item is not None and d.item.text == "Cheer100 is a word here"


@pytest.mark.parametrize("bits", ["abc", "-5", "１００", "1e3", "", "99999999999999999999"])
def test_non_numeric_bits_are_ignored(bits: str) -> None:
    msg = tagged("hello", bits=bits)
    assert "bits" not in msg.metadata
    assert gw(triggers=["bits"]).submit(msg).reason == "trigger"


def test_links_become_a_word_or_drop_the_message() -> None:
    assert gw().submit(tagged("look https://x.example/a?b=1 and www.y.org")).item.text == "look link and link"
    assert gw(link_action="drop").submit(tagged("look https://x.example")).reason == "link"
    assert gw(allow_links=True).submit(tagged("see x.tv")).item.text == "see x.tv"


def test_spam_collapses_runs_and_repeats() -> None:
    assert spoken.collapse_spam("loooooool") == "loool"  # a run of 7 -> 3
    assert spoken.collapse_spam("lol lol LOL lol gg") == "lol lol gg"
    assert spoken.collapse_spam("1000000 wins!!!!!!") == "1000000 wins!!!"
    assert spoken.collapse_spam("啊啊啊啊啊啊") == "啊啊啊"
    g = gw()
    assert g.submit(tagged("noooooo way way way way")).item.text == "nooo way way"
    assert g.submit(tagged("@#$%^&*()!! ?? ok")).reason == "symbols"
    assert gw(filters=["dedupe"]).submit(tagged("@#$%^&*()!!")).accepted  # spam filter off


def test_banned_words_word_boundaries_casefold_and_mask() -> None:
    bw = spoken.BannedWords(["ass", "straße", "bad phrase", "禁词"])
    assert bw.search("a class act") is None  # word boundary
    assert bw.search("what an ASS") == "ASS"
    assert bw.search("die STRASSE hier") == "STRASSE"  # Unicode case folding: ß == SS
    assert bw.search("a Bad   Phrase here") == "Bad   Phrase"
    assert bw.search("这个是禁词啊") == "禁词"  # no word boundaries in CJK
    assert bw.mask("you ASS, you", "bleep") == ("you bleep , you", 1)
    g = gw(banned_keywords=["darn"], banned_action="mask", banned_mask="beep")
    assert g.submit(tagged("darn it DARN")).item.text == "beep it beep"
    assert gw(banned_keywords=["darn"]).submit(tagged("darn it")).reason == "banned_keyword"


def test_template_only_on_change_of_speaker() -> None:
    g = gw(template_on_change=True)
    for user, text in (("ann", "one"), ("ann", "two"), ("ben", "three")):
        g.submit(ChatMessage("twitch", "chan", user, text))
    assert [g.render(g.pop_nowait()) for _ in range(3)] == ["ann says: one", "two", "ben says: three"]


def test_per_user_limits_rate_and_queue() -> None:
    t = [1000.0]
    g = Gateway(
        DanmakuSettings.from_dict(
            {"cooldown_s": 0.0, "dedupe_window_s": 0.0, "user_messages_per_minute": 2, "user_max_queued": 5}
        ),
        clock=lambda: t[0],
    )
    assert g.submit(ChatMessage("twitch", "c", "ann", "a")).accepted
    assert g.submit(ChatMessage("twitch", "c", "ann", "b")).accepted
    assert g.submit(ChatMessage("twitch", "c", "ann", "c")).reason == "user_rate"
    assert g.submit(ChatMessage("twitch", "c", "ben", "c")).accepted  # per user
    t[0] += 60.0
    assert g.submit(ChatMessage("twitch", "c", "ann", "d")).accepted  # window slid
    q = Gateway(DanmakuSettings.from_dict({"cooldown_s": 0.0, "dedupe_window_s": 0.0, "user_max_queued": 2}))
    assert q.submit(ChatMessage("twitch", "c", "ann", "a")).accepted
    assert q.submit(ChatMessage("twitch", "c", "ann", "b")).accepted
    assert q.submit(ChatMessage("twitch", "c", "ann", "c")).reason == "user_queue"
    q.pop_nowait()  # one leaves the queue: room again
    assert q.submit(ChatMessage("twitch", "c", "ann", "d")).accepted
