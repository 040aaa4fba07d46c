"""Text branch of the DiT: token embedding, sinusoidal positions and ConvNeXtV2 blocks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .layers import ConvNeXtV2Block, text_position_table


class TextEmbedding(nn.Module):
    """Upstream ``TextEmbedding`` (keys ``text_embed.weight``, ``text_blocks.{i}.*``).

    Token ids arrive as upstream's transformer receives them (``-1`` = batch padding); they are shifted
    by +1 so that 0 is the filler, padded/truncated to the mel length ``seq_len``.
    """

    def __init__(
        self,
        text_num_embeds: int,
        text_dim: int,
        mask_padding: bool = True,
        conv_layers: int = 0,
        conv_mult: int = 2,
    ) -> None:
        super().__init__()
        self.text_dim = text_dim
        self.mask_padding = mask_padding
        self.text_embed = nn.Embedding(text_num_embeds + 1, text_dim)
        self.extra_modeling = conv_layers > 0
        if self.extra_modeling:
            self.text_blocks = nn.Sequential(
                *[ConvNeXtV2Block(text_dim, text_dim * conv_mult) for _ in range(conv_layers)]
            )

    def forward(
        self,
        text: Tensor,
        seq_len: int,
        drop_text: bool = False,
        valid: Tensor | None = None,
        full_mask: bool = True,
    ) -> Tensor:
        """``text`` (B, Nt) int ids -> (B, seq_len, text_dim).

        ``valid`` (B, seq_len) bool marks real frames of a padded batch: tokens beyond a sample's length
        become filler and their embeddings/positions are zeroed (upstream's masked path). With
        ``full_mask`` the padding is also kept out of every ConvNeXt block (zeroed after each block and
        excluded from GRN's sequence norm), so a padded sample equals its unpadded self.
        """
        ids = text.long() + 1
        ids = ids[:, :seq_len]
        if ids.shape[1] < seq_len:
            ids = F.pad(ids, (0, seq_len - ids.shape[1]), value=0)
        if valid is not None:
            ids = ids.masked_fill(~valid, 0)
        filler = (ids == 0).unsqueeze(-1) if self.mask_padding else None
        if drop_text:
            ids = torch.zeros_like(ids)
        h = self.text_embed(ids)
        keep = None if valid is None else valid.unsqueeze(-1)
        if keep is not None:
            h = h.masked_fill(~keep, 0.0)
        if not self.extra_modeling:
            return h

        pos = text_position_table(self.text_dim, seq_len, h.device).to(h.dtype)
        if keep is not None:
            h = h + pos.unsqueeze(0) * keep.to(pos.dtype)
        else:
            h = h + pos
        block_valid = valid if (full_mask and valid is not None) else None
        # what is zeroed after each block: filler tokens (mask_padding) and, with full_mask, padded frames
        zero = filler
        if block_valid is not None:
            pad = ~block_valid.unsqueeze(-1)
            zero = pad if zero is None else (zero | pad)
        if zero is not None:
            h = h.masked_fill(zero, 0.0)
        for block in self.text_blocks:
            h = block(h, block_valid)
            if zero is not None:
                h = h.masked_fill(zero, 0.0)
        return h
