"""Build what serves synthesis from the config: the backend and the scheduler in front of it.

:func:`build` is the one entry point (the server app and the CLI's ``synth`` use it; ``bench`` builds
its random-weight engine from :func:`engine_options`). ``[engine]`` becomes :class:`EngineOptions`
here, so the engine never reads the config class.

``kind = "auto"``: F5 when its weights can be found (explicit paths, the HF cache, or a download when
online), else espeak-ng labelled "espeak-ng (fallback)", with a one-line reason and one start-up banner.
``"f5"``: F5 or raise :class:`BackendUnavailable`. ``"espeak"``: espeak-ng, labelled "espeak-ng" (chosen,
not a fallback). The F5 modules are imported lazily, so an espeak-only server never loads torch model code.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ishowtts.config import Config, EngineConfig
from ishowtts.engine.backend import Backend
from ishowtts.engine.scheduler import Scheduler, SchedulerObserver
from ishowtts.logging_setup import kv

if TYPE_CHECKING:  # an espeak-only server never loads torch
    from ishowtts.engine.options import EngineOptions

log = logging.getLogger(__name__)

_BANNER = "=" * 78
ESPEAK_LABEL = "espeak-ng"
FALLBACK_LABEL = "espeak-ng (fallback)"


class BackendUnavailable(RuntimeError):
    """The requested engine cannot be built; the message says why and how to fix it."""


class Built(NamedTuple):
    backend: Backend
    scheduler: Scheduler
    fallback_reason: str | None  # set only when "auto" fell back to espeak


def build(
    config: Config, *, backend: Backend | None = None, observer: SchedulerObserver | None = None
) -> Built:
    """The backend ``[engine]`` asks for (or ``backend``, already built) and its scheduler, sized by
    ``[queue]`` and batching by ``[engine] max_batch`` / ``batch_window_ms`` when the backend can."""
    reason = None
    if backend is None:
        backend, reason = build_backend(config.engine)
    scheduler = Scheduler(
        backend,
        max_queue=config.queue.max_size,
        timeout_s=config.queue.timeout_s,
        cache_size=config.queue.cache_size,
        observer=observer,
        max_batch=config.engine.max_batch,
        batch_window_ms=config.engine.batch_window_ms,
    )
    return Built(backend, scheduler, reason)


def engine_options(cfg: EngineConfig) -> EngineOptions:
    """``[engine]`` as the engine's own options."""
    from ishowtts.engine.options import EngineOptions

    return EngineOptions(
        device=cfg.device,
        dtype=cfg.dtype,
        nfe_step=cfg.nfe,
        renderer=cfg.renderer,
        buckets=tuple(cfg.buckets),
        max_batch=cfg.max_batch,
        graphs=cfg.graphs,
        compile=cfg.compile,
        quantize=cfg.quantize,
        attention=cfg.attention,
        memory_cap=cfg.memory_cap,
    )


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

    return Engine.from_pretrained(
        args["model"], args["ckpt"], args["vocab"], args["vocoder"], engine_options(cfg), config=args["config"]
    )
