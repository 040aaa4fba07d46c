"""Build the fast-path backend and scheduler from ``[engine]`` settings.

``engine/factory.py`` builds a :class:`FastF5Backend` from :func:`options_from_config` when the fast path is
asked for; the server calls ``build_scheduler(backend, cfg, **queue_kwargs)``, which gives a
:class:`BatchingScheduler` when the backend can batch and ``max_batch > 1``, else the plain one.
Keys read from the config object (missing ones take the defaults here, which keep today's behaviour):
``buckets``, ``max_batch``, ``batch_window_ms``, ``compile``, ``dtype`` (also ``"auto"``), ``quantize`` (None | "int8"),
``graphs`` (None = CUDA only), ``memory_cap``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ishowtts.engine.scheduler import Scheduler

from .batching import BatchBackend, BatchingScheduler

if TYPE_CHECKING:  # the server imports this module; an espeak-only server must not load torch
    from .fast_engine import FastPathOptions

__all__ = ["build_scheduler", "options_from_config"]


def options_from_config(cfg: Any) -> FastPathOptions:
    from .fast_engine import FastPathOptions

    return FastPathOptions(
        buckets=tuple(getattr(cfg, "buckets", ()) or ()),
        max_batch=int(getattr(cfg, "max_batch", 8)),
        graphs=getattr(cfg, "graphs", None),
        compile=bool(getattr(cfg, "compile", False)),
        quantize=getattr(cfg, "quantize", None),
        memory_cap=getattr(cfg, "memory_cap", None),
    )


def build_scheduler(backend: Any, cfg: Any, **queue_kwargs: Any) -> Scheduler:
    """``queue_kwargs``: ``max_queue``, ``timeout_s``, ``cache_size``, ``observer`` (as for Scheduler)."""
    max_batch = int(getattr(cfg, "max_batch", 1))
    if isinstance(backend, BatchBackend) and max_batch > 1:
        return BatchingScheduler(
            backend,
            batch_window_ms=float(getattr(cfg, "batch_window_ms", 5.0)),
            max_batch=max_batch,
            **queue_kwargs,
        )
    return Scheduler(backend, **queue_kwargs)
