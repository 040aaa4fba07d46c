"""Regenerate ``data/frontend_cases.json`` with upstream's converter (run in the reference venv).

    /work/refvenv/bin/python tests/text/make_frontend_cases.py

Upstream (f5-tts) is only the oracle here; package code never imports it.
"""

from __future__ import annotations

import json
from pathlib import Path

CASES = [
    "Hello world, this is a test.",
    "你好，世界！",
    "我们今天去公园玩。",
    "Hello 你好 world 世界",
    "这是一个 test 用例, with mixed 中英文 text.",
    "他说：“我不知道。”然后走了。",
    "It's 3:45 PM; let's go!",
    "一二三四五六七八九十",
    "你好吗？我很好，谢谢。",
    "ChatGPT和F5-TTS都很厉害！",
    "Zoë's café costs 5€.",
    "数字123和符号#@!混合",
    "老师说：‘明天见’。",
    "   leading and trailing spaces   ",
    "不要不要不要",
    "了不起的盖茨比",
    "Wait... what?! No way — really?",
    "iShowTTS 直播间的弹幕：主播好厉害啊！！！",
    "日本語のテキストも少し",
    "한국어 텍스트",
    "",
    "a",
    "A B C",
    "喂，你在干嘛呢？",
    "一会儿",
    "Mr. Smith went to Washington, D.C. on Jan. 5th.",
]


def main() -> None:
    from f5_tts.model.utils import convert_char_to_pinyin

    out = [{"text": t, "symbols": convert_char_to_pinyin([t])[0]} for t in CASES]
    path = Path(__file__).parent / "data" / "frontend_cases.json"
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(out)} cases to {path}")


if __name__ == "__main__":
    main()
