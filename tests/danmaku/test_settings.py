from __future__ import annotations

import pytest

from ishowtts.danmaku.settings import DanmakuSettings


def test_defaults() -> None:
    s = DanmakuSettings.from_dict({})
    assert s.max_words == 77 and s.max_chars == 280 and s.queue_capacity == 512
    assert s.template == "{username} says: {text}" and s.nfe == 8
    assert (s.twitch_host, s.twitch_port) == ("irc.chat.twitch.tv", 6667)
    assert DanmakuSettings.from_dict(None) == s


def test_parses_values() -> None:
    s = DanmakuSettings.from_dict(
        {
            "banned_keywords": ["a", " b ", ""],
            "max_words": 10,
            "cooldown_s": 2,
            "channels": ["x", "https://twitch.tv/y"],
            "socks5_proxy": "socks5://u:p@127.0.0.1:1080",
            "oauth_token": "oauth:abc",
            "nick": "me",
            "filters": ["links"],
        }
    )
    assert s.banned_keywords == ("a", "b") and s.cooldown_s == 2.0 and s.filters == ("links",)
    pub = s.public_dict()
    assert pub["oauth_token"] == "***" and pub["socks5_proxy"] == "socks5://127.0.0.1:1080"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"bogus": 1}, "danmaku.bogus"),
        ({"max_words": "77"}, "danmaku.max_words"),
        ({"max_words": 0}, "danmaku.max_words"),
        ({"max_chars": True}, "danmaku.max_chars"),
        ({"nfe": 65}, "danmaku.nfe"),
        ({"allow_links": "yes"}, "danmaku.allow_links"),
        ({"banned_keywords": "x"}, "danmaku.banned_keywords"),
        ({"filters": ["nope"]}, "danmaku.filters"),
        ({"template": "no text field"}, "danmaku.template"),
        ({"template": "{text} {secret}"}, "danmaku.template"),
        ({"template": "{text} {"}, "danmaku.template"),
        ({"twitch_port": 70000}, "danmaku.twitch_port"),
        ({"rate_limit": -1}, "danmaku.rate_limit"),
        ({"socks5_proxy": "http://proxy:8080"}, "danmaku.socks5_proxy"),
        ({"socks5_proxy": "socks5://host"}, "danmaku.socks5_proxy"),
        ({"oauth_token": "oauth:abc"}, "danmaku.nick"),
        ({"reconnect_base_s": 10.0, "reconnect_max_s": 1.0}, "danmaku.reconnect_max_s"),
    ],
)
def test_errors_name_the_key(raw: dict, key: str) -> None:
    with pytest.raises(ValueError, match=f"^{key}:"):
        DanmakuSettings.from_dict(raw)
