"""Split long text into chunks the model can speak in one pass.

F5-TTS generates reference + new speech in one sequence, so each pass is limited to about 22 s in total.
Text is cut after sentence/clause punctuation (ASCII punctuation followed by whitespace, or CJK
punctuation) and the pieces are packed greedily up to a UTF-8 byte budget derived from the reference's
speaking rate (upstream's rule). Pieces longer than the budget are split further at spaces, or between
characters for text without spaces, so no chunk exceeds the budget unless a single word does.

For streaming, ``first_chunk_bytes`` makes the first chunk short so the first audio arrives early.
"""

from __future__ import annotations

import re

from ishowtts import defaults

__all__ = [
    "MAX_PASS_SECONDS",
    "MIN_CHUNK_BYTES",
    "chunk_text",
    "first_chunk_budget",
    "max_chunk_bytes",
    "split_pieces",
    "utf8_len",
]

MAX_PASS_SECONDS = 22.0  # reference + generated speech per pass
MIN_CHUNK_BYTES = 10  # below this the duration rule slows speech down (see duration.py)

_SPLIT = re.compile(r"(?<=[;:,.!?])\s+|(?<=[；：，。！？])")


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def max_chunk_bytes(ref_text_bytes: int, ref_seconds: float, speed: float = 1.0) -> int:
    """Upstream's budget: the reference's bytes per second times the seconds left in a pass, times speed."""
    if ref_seconds <= 0 or ref_text_bytes <= 0:
        raise ValueError(f"need a non-empty reference (got {ref_text_bytes} bytes, {ref_seconds} s)")
    if speed <= 0:
        raise ValueError(f"speed must be > 0, got {speed}")
    budget = int(ref_text_bytes / ref_seconds * (MAX_PASS_SECONDS - ref_seconds) * speed)
    return max(budget, MIN_CHUNK_BYTES)


def first_chunk_budget(
    ref_text_bytes: int, ref_seconds: float, speed: float = defaults.SPEED, seconds: float = defaults.FIRST_CHUNK_SECONDS
) -> int:
    """Bytes of text that take about ``seconds`` to speak at the reference's rate (at least 2x the minimum)."""
    if ref_seconds <= 0 or ref_text_bytes <= 0:
        raise ValueError(f"need a non-empty reference (got {ref_text_bytes} bytes, {ref_seconds} s)")
    return max(int(ref_text_bytes / ref_seconds * seconds * speed), 2 * MIN_CHUNK_BYTES)


def split_pieces(text: str) -> list[str]:
    """Sentence/clause pieces, punctuation kept at the end of each piece; no empty pieces."""
    return [p for p in _SPLIT.split(text) if p and not p.isspace()]


def _split_words(piece: str, budget: int) -> list[str]:
    """Split one over-long piece into parts of at most ``budget`` bytes, at spaces when it has any."""
    words = piece.split()
    if len(words) <= 1:
        return _split_chars(piece.strip(), budget) if _is_cjk_run(piece) else [piece.strip()]
    parts: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if current and utf8_len(candidate) > budget:
            parts.append(current)
            current = word
        else:
            current = candidate
    if current:
        parts.append(current)
    out: list[str] = []
    for part in parts:  # a single word longer than the budget (e.g. CJK text with a few spaces)
        too_long = utf8_len(part) > budget and _is_cjk_run(part)
        out.extend(_split_chars(part, budget) if too_long else [part])
    return out


def _is_cjk_run(text: str) -> bool:
    """Text written without spaces between words (any multi-byte character): may be cut between characters."""
    return utf8_len(text) != len(text)


def _split_chars(piece: str, budget: int) -> list[str]:
    parts: list[str] = []
    current = ""
    for ch in piece:
        if current and utf8_len(current + ch) > budget:
            parts.append(current)
            current = ""
        current += ch
    if current:
        parts.append(current)
    return parts


def _joiner(piece: str) -> str:
    """Pieces ending in a 1-byte character get a space after them when packed (upstream's rule)."""
    return piece + " " if utf8_len(piece[-1]) == 1 else piece


def _pack(pieces: list[str], budget: int) -> list[str]:
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if utf8_len(current) + utf8_len(piece) <= budget:
            current += _joiner(piece)
        else:
            if current.strip():
                chunks.append(current.strip())
            current = _joiner(piece)
    if current.strip():
        chunks.append(current.strip())
    return chunks


def _fit(pieces: list[str], budget: int) -> list[str]:
    out: list[str] = []
    for piece in pieces:
        out.extend(_split_words(piece, budget) if utf8_len(piece) > budget else [piece])
    return out


def _cut_prefix(piece: str, budget: int) -> tuple[str, str]:
    """The longest prefix of ``piece`` within ``budget`` bytes ending at a space, and the rest. When the
    first word alone is too long, CJK text is cut between characters and other text after that word.
    The prefix is never empty."""
    end = 0
    for match in re.finditer(r"\S+", piece):
        if utf8_len(piece[: match.end()].strip()) > budget:
            break
        end = match.end()
    if end == 0:
        first = piece.split()[0]
        head = _split_chars(first, budget)[0] if _is_cjk_run(first) else first
        end = piece.index(head) + len(head)
    return piece[:end].strip(), piece[end:].strip()


def chunk_text(text: str, max_bytes: int, *, first_chunk_bytes: int | None = None) -> list[str]:
    """Chunks of ``text``, each at most ``max_bytes`` UTF-8 bytes (unless one word is longer).

    With ``first_chunk_bytes`` (smaller than ``max_bytes``), the first chunk holds only the leading pieces
    that fit that smaller budget; a first piece over it is kept whole up to twice the budget, and cut at
    a space beyond that. This applies when the text after the first chunk still has at least
    :data:`MIN_CHUNK_BYTES` bytes; the rest is packed normally.
    Returns no empty chunks; an empty or whitespace-only text gives ``[]``.
    """
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be >= 1, got {max_bytes}")
    if first_chunk_bytes is not None and first_chunk_bytes < 1:
        raise ValueError(f"first_chunk_bytes must be >= 1, got {first_chunk_bytes}")
    pieces = split_pieces(text)
    if not pieces:
        return []
    normal = _pack(_fit(pieces, max_bytes), max_bytes)
    if first_chunk_bytes is None or first_chunk_bytes >= max_bytes:
        return normal

    taken, size = 0, 0
    while taken < len(pieces) and size + utf8_len(pieces[taken]) <= first_chunk_bytes:
        size += utf8_len(_joiner(pieces[taken]))
        taken += 1
    if taken:
        head = _pack(pieces[:taken], first_chunk_bytes)[0]
        rest = pieces[taken:]
    elif utf8_len(pieces[0]) <= min(2 * first_chunk_bytes, max_bytes):
        head, rest = pieces[0].strip(), pieces[1:]  # a whole clause sounds better than a cut one
    else:
        head, tail = _cut_prefix(pieces[0], first_chunk_bytes)
        rest = ([tail] if tail else []) + pieces[1:]
    if sum(utf8_len(p) for p in rest) < MIN_CHUNK_BYTES:
        return normal
    return [head, *_pack(_fit(rest, max_bytes), max_bytes)]
