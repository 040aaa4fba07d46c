"""Pick and build the synthesis backend from ``[engine]``.

``kind = "auto"``: F5 when its weights can be found (explicit paths, the HF cache, or a download when
online), else espeak-ng labelled "espeak-ng (fallback)", with a one-line reason and one start-up banner.
``"f5"``: F5 or raise :class:`BackendUnavailable`. ``"espeak"``: espeak-ng, labelled "espeak-ng" (chosen,
not a fallback). The F5 modules are imported lazily, so an espeak-only server never loads torch model code.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ishowtts.config import EngineConfig
from ishowtts.engine.backend import Backend
from ishowtts.logging_setup import kv

log = logging.getLogger(__name__)

_BANNER = "=" * 78
ESPEAK_LABEL = "espeak-ng"
FALLBACK_LABEL = "espeak-ng (fallback)"


class BackendUnavailable(RuntimeError):
    """The requested engine cannot be built; the message says why and how to fix it."""


def build_backend(cfg: EngineConfig) -> tuple[Backend, str | None]:
    """``(backend, fallback_reason)``; the reason is set only when "auto" fell back to espeak."""
    if cfg.kind == "espeak":
        return _build_espeak(ESPEAK_LABEL), None
    if cfg.kind not in ("auto", "f5"):
        raise BackendUnavailable(f"engine.kind: unknown engine {cfg.kind!r} (auto, f5, espeak)")
    try:
        backend = _build_f5(cfg)
    except Exception as exc:
        detail = str(exc) or type(exc).__name__
        if cfg.kind == "f5":
            raise BackendUnavailable(f"engine.kind is 'f5' but the F5 engine cannot start: {detail}") from exc
        reason = fallback_reason(exc)
        more = "".join(f"{line}\n" for line in detail.splitlines()[1:])  # the first line is in the reason
        log.warning(  # the one start-up banner: the reason on one line, then the full explanation
            "\n%s\nRUNNING ON THE espeak-ng FALLBACK ENGINE: no voice cloning, robotic speech.\nReason: %s\n%s%s",
            _BANNER,
            reason,
            more,
            _BANNER,
            extra=kv(engine="espeak", fallback_reason=reason),
        )
        return _build_espeak(FALLBACK_LABEL), reason
    log.info("engine ready", extra=kv(engine=backend.name, label=backend.label))
    return backend, None


def fallback_reason(exc: BaseException) -> str:
    """One complete line (what /api/health, the log field, the banner and the page show) for why F5
    could not start."""
    from ishowtts.engine.weights import WeightsNotFound

    if isinstance(exc, WeightsNotFound) and exc.missing:
        names = ", ".join(m.name for m in exc.missing)
        return (
            f"F5-TTS weights not found (missing {names}; looked in {exc.cache} and the config's [engine] "
            "ckpt/vocab/vocoder); run `python -m ishowtts download` or set those keys"
        )
    detail = " ".join((str(exc) or type(exc).__name__).split())
    return f"F5 engine unavailable: {detail}"


def _build_espeak(label: str) -> Backend:
    from ishowtts.engine.espeak import EspeakBackend

    backend = EspeakBackend()
    backend.label = label  # chosen in the config -> "espeak-ng"; fallen back to -> "espeak-ng (fallback)"
    return backend


def f5_model_args(cfg: EngineConfig) -> dict[str, Any]:
    """Arguments for weights resolution: ``model`` is a known model name, a checkpoint path, or (with an
    explicit ``ckpt``) an architecture config name such as ``tiny``."""
    from ishowtts.engine.weights import MODELS

    model: str = cfg.model
    config: str | None = None
    if model not in MODELS and cfg.ckpt is not None and not Path(model).expanduser().exists():
        model, config = str(cfg.ckpt), cfg.model
    return {
        "model": model,
        "ckpt": cfg.ckpt,
        "vocab": cfg.vocab,
        "vocoder": cfg.vocoder,
        "config": config,
    }


def _build_f5(cfg: EngineConfig) -> Backend:
    from ishowtts.engine.weights import resolve_weights

    args = f5_model_args(cfg)
    # Resolve first: a missing checkpoint is reported without importing/loading any model code.
    resolve_weights(args["model"], args["ckpt"], args["vocab"], args["vocoder"], config=args["config"])
    from ishowtts.engine.engine import Engine
    from ishowtts.engine.f5_backend import F5Backend

    engine = Engine.from_pretrained(
        args["model"],
        args["ckpt"],
        args["vocab"],
        args["vocoder"],
        cfg.device,
        cfg.dtype,
        config=args["config"],
        nfe=cfg.nfe,
    )
    if wants_fast_path(cfg):
        from ishowtts.engine.fastpath.fast_backend import FastF5Backend
        from ishowtts.engine.fastpath.fast_engine import FastEngine
        from ishowtts.engine.fastpath.wiring import options_from_config

        return FastF5Backend(FastEngine.from_engine(engine, options_from_config(cfg)))
    return F5Backend(engine)


def wants_fast_path(cfg: EngineConfig) -> bool:
    """The bucketed fast path (CUDA graphs, dynamic batching, compile, int8) is opt-in: any of
    ``engine.buckets``, ``engine.compile``, ``engine.quantize`` or ``engine.graphs = true``. Default:
    the plain engine (the graph capture has not yet been validated on a GPU; see benchmarks/README.md)."""
    return bool(cfg.buckets) or cfg.compile or cfg.quantize is not None or cfg.graphs is True
