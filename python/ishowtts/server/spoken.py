"""What a request will speak: its text through the normalizer (:mod:`ishowtts.text.normalize`) with the
server's ``[normalize]`` options, changed by the request's own. Characters the model cannot read are
counted in ``ishowtts_normalize_characters_total``."""

from __future__ import annotations

import asyncio
from typing import Any

from ishowtts.config import Config, ConfigError
from ishowtts.server.errors import ApiError
from ishowtts.server.state import AppState
from ishowtts.text.normalize import NormalizeOptions, normalize

__all__ = ["options_from_config", "spoken_text"]

_INLINE_CHARS = 2_000  # longer texts are normalised in a worker thread, off the event loop


def options_from_config(config: Config) -> NormalizeOptions:
    """The server's ``[normalize]`` options; a bad key or value is a :class:`ConfigError` naming it."""
    try:
        return NormalizeOptions.from_mapping(config.normalize.raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from None


async def spoken_text(state: AppState, text: str, changes: dict[str, Any], field: str) -> str:
    """``text`` as it will be spoken; 400 when a request option is bad or nothing speakable is left."""
    try:
        options = NormalizeOptions.from_mapping(changes, base=state.normalize) if changes else state.normalize
    except (TypeError, ValueError) as exc:
        raise ApiError(400, str(exc), code="invalid_request", param="normalize") from None
    vocab = state.speakable_symbols
    if len(text) > _INLINE_CHARS:
        result = await asyncio.to_thread(normalize, text, options, vocab=vocab)
    else:
        result = normalize(text, options, vocab=vocab)
    state.metrics.normalized_chars.labels("mapped").inc(result.mapped)
    state.metrics.normalized_chars.labels("dropped").inc(result.dropped)
    if not result.text:
        raise ApiError(
            400,
            f"{field}: nothing to speak once normalized (only emoji, symbols or characters the voice "
            "cannot read); send words, or change the normalize options",
            code="empty_text",
            param=field,
        )
    return result.text
