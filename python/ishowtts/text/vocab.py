"""F5-TTS token vocabulary: ``vocab.txt`` with one symbol a line, line index = token id, unknown -> 0."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence

import torch

from ishowtts.logging_setup import kv

log = logging.getLogger(__name__)

#: batch padding value of the id tensors upstream's transformer receives (shifted to filler 0 inside)
PAD_ID = -1


class Vocab:
    """Symbol <-> id mapping with upstream semantics.

    Lines are taken verbatim minus their trailing newline (a line may be a single space, which is id 0
    in upstream's vocab). If a symbol repeats, the last line wins, like upstream's dict construction;
    ``len(vocab)`` is then the number of distinct symbols (upstream's ``vocab_size``).
    """

    def __init__(self, symbols: Sequence[str]) -> None:
        if not symbols:
            raise ValueError("vocab is empty")
        self.symbols: list[str] = list(symbols)
        self.index: dict[str, int] = {s: i for i, s in enumerate(self.symbols)}

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Vocab:
        with open(path, encoding="utf-8", newline="") as f:
            lines = [line[:-1] if line.endswith("\n") else line for line in f]
        if lines and lines[-1] == "":
            lines.pop()
        vocab = cls(lines)
        if vocab.index.get(" ") != 0:
            log.warning(
                "vocab line 0 is not a space; unknown symbols still map to id 0", extra=kv(path=str(path))
            )
        log.debug("vocab loaded", extra=kv(path=str(path), size=len(vocab)))
        return vocab

    @classmethod
    def coerce(cls, vocab: Vocab | str | os.PathLike[str] | Sequence[str] | dict[str, int]) -> Vocab:
        """Accept a Vocab, a vocab.txt path, a list of symbols or a {symbol: id} dict."""
        if isinstance(vocab, Vocab):
            return vocab
        if isinstance(vocab, (str, os.PathLike)):
            return cls.from_file(vocab)
        if isinstance(vocab, dict):
            ordered = sorted(vocab.items(), key=lambda kv_: kv_[1])
            if [i for _, i in ordered] != list(range(len(ordered))):
                raise ValueError("vocab dict ids must be exactly 0..len-1")
            return cls([s for s, _ in ordered])
        if isinstance(vocab, Sequence):
            return cls(list(vocab))
        raise TypeError(f"cannot make a Vocab from {type(vocab).__name__}")

    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self.index

    def encode(self, symbols: Iterable[str]) -> list[int]:
        """Map symbols (a string's characters or a list of tokens such as pinyin syllables) to ids."""
        return [self.index.get(s, 0) for s in symbols]

    def batch_ids(
        self, texts: Sequence[str | Sequence[str]], device: torch.device | str | None = None
    ) -> torch.Tensor:
        """Upstream ``list_str_to_idx``: list of strings / token lists -> (B, Nt) int64, padded with -1."""
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings or token lists, not a single string")
        return pad_ids([self.encode(t) for t in texts], device=device)


def pad_ids(rows: Sequence[Sequence[int]], device: torch.device | str | None = None) -> torch.Tensor:
    """Right-pad id lists with -1 into a (B, max_len) int64 tensor."""
    if not rows:
        raise ValueError("empty batch of token rows")
    width = max(len(r) for r in rows)
    out = torch.full((len(rows), width), PAD_ID, dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            out[i, : len(r)] = torch.as_tensor(list(r), dtype=torch.long)
    return out.to(device) if device is not None else out
