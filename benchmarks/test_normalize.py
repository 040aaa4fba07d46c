"""Text normalization benchmarks (pytest-benchmark; the CPU model is in the header).

* ``test_chat_lines_per_second``: realistic chat lines through the chat defaults; ``messages_per_s``.
* ``test_time_is_linear_in_length``: 1k / 10k / 100k characters of mixed text; the cost per character
  at 100k stays within 2.5x of the cost at 1k (same run).
* ``test_adds_under_5_percent_to_espeak_time_to_first_audio``: normalizing a one-sentence request
  against the espeak-ng engine's time to its first audio chunk for the same sentence (same run): under 5%.

Run: ``python -m pytest benchmarks/test_normalize.py -s``
"""

from __future__ import annotations

from typing import Any

from gatelib import min_time
from ishowtts.text.normalize import CHAT_DEFAULTS, DEFAULTS, normalize

CHAT = [
    "gg wp 🔥🔥🔥",
    "lol that was 2ez",
    "!!!!!!! 100% agree",
    "brb 5 min",
    "omg the GPU is at 90°C",
    "who won? 3-2 final",
    "check https://example.com/clip?id=42",
    "主播加油！！第1名",
    "哈哈哈 666",
    "今天 10:30 开播吗？",
    "I paid $4.99 for this skin",
    "@streamer what's your FPS? 144 or 240",
    "❤️❤️❤️ love from 🇧🇷",
    "first time here, 2nd stream I watch",
    "Dr. Disrespect vs Shroud etc",
    "email me at fan@example.org",
    "3.5GB download?? ugh",
    "買了3个 5km 跑鞋 😂",
    "wait... WHAT",
    "C++ or GPT-4o for the bot?",
]
ONE_SENTENCE = "The 3rd match starts at 10:30pm and tickets cost $5.20, see you there!"


def test_chat_lines_per_second(benchmark: Any) -> None:
    lines = CHAT * 10

    def run() -> int:
        return sum(len(normalize(line, CHAT_DEFAULTS).text) for line in lines)

    assert benchmark(run) > 0
    benchmark.extra_info["messages_per_s"] = round(len(lines) / benchmark.stats.stats.min)


def test_time_is_linear_in_length(benchmark: Any) -> None:
    unit = " ".join(CHAT) + " "
    texts = {n: (unit * (n // len(unit) + 1))[:n] for n in (1_000, 10_000, 100_000)}
    per_char = {n: min_time(lambda t=t: normalize(t), 5 if n < 100_000 else 2) / n for n, t in texts.items()}
    out = benchmark.pedantic(lambda: normalize(texts[100_000]), rounds=2, iterations=1)
    assert out.text
    for n, s in per_char.items():
        benchmark.extra_info[f"us_per_char_{n}"] = round(s * 1e6, 3)
    growth = per_char[100_000] / per_char[1_000]
    benchmark.extra_info["per_char_growth_100k_vs_1k"] = round(growth, 2)
    print(f"\nnormalize cost per character: {benchmark.extra_info}")
    assert growth < 2.5, f"cost per character grows {growth:.2f}x from 1k to 100k characters: not linear"


def test_adds_under_5_percent_to_espeak_time_to_first_audio(benchmark: Any) -> None:
    from ishowtts.engine.backend import SynthesisParams
    from ishowtts.engine.espeak import EspeakBackend
    from ishowtts.voices.reference import VoiceReference

    backend = EspeakBackend()
    voice = VoiceReference(id="bench", audio=None, sample_rate=0, text="", language="en")
    spoken = normalize(ONE_SENTENCE, DEFAULTS).text

    def first_audio() -> None:
        stream = backend.stream(spoken, voice, SynthesisParams())
        next(iter(stream))
        stream.close()

    ttfa = min_time(first_audio, 7)  # its warm-up call loads the voice
    cost = benchmark(lambda: normalize(ONE_SENTENCE, DEFAULTS))
    assert cost.text == spoken
    share = benchmark.stats.stats.min / ttfa
    benchmark.extra_info.update(
        normalize_ms=round(benchmark.stats.stats.min * 1e3, 3), espeak_ttfa_ms=round(ttfa * 1e3, 3),
        share_of_ttfa=round(share, 4),
    )  # fmt: skip
    print(f"\nnormalize vs espeak time to first audio: {benchmark.extra_info}")
    assert share < 0.05, f"normalizing adds {share:.1%} to espeak's time to first audio (limit 5%)"
