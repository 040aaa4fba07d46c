"""`python -m ishowtts serve [--config FILE] [--host H] [--port P] [--warmup] [--log-level L] [--data-dir D] [--ray]`.

``--ray`` runs the same app on Ray Serve instead (synthesis replicas, ``[scale]``, docs/scale-out.md); it
needs the ``scale`` extra, and without ``--ray`` nothing imports Ray.

Loads the config (defaults work without a file), builds the engine (F5 when its weights are found, else
espeak-ng — said loudly, with the reason, in the one banner the engine factory logs), and runs uvicorn.
Exit status 2 on a bad config or an engine that cannot start, with the reason on stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from ishowtts.logging_setup import configure_logging, kv

log = logging.getLogger("ishowtts.serve")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="Run the HTTP server (iShowTTS + OpenAI-compatible API)")
    p.add_argument("--config", type=Path, default=None, help="TOML config file (default: built-in defaults)")
    p.add_argument("--host", default=None, help="bind address (default from config: 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default from config: 27121)")
    p.add_argument(
        "--data-dir", type=Path, default=None, help="where overrides and created voices are stored"
    )
    p.add_argument(
        "--warmup", action="store_true", help="synthesise once per preloaded voice before /ready is 200"
    )
    p.add_argument(
        "--ray",
        action="store_true",
        help="run on Ray Serve: synthesis replicas from [scale] (pip install '.[scale]'; docs/scale-out.md)",
    )
    p.add_argument(
        "--log-level",
        dest="serve_log_level",
        metavar="LEVEL",
        default=None,
        help="debug, info, warning, error",
    )
    p.set_defaults(func=run)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    server: dict[str, Any] = {}
    if args.host is not None:
        server["host"] = args.host
    if args.port is not None:
        server["port"] = args.port
    if args.data_dir is not None:
        server["data_dir"] = str(args.data_dir)
    return {"server": server} if server else {}


def run(args: argparse.Namespace) -> int:
    level = args.serve_log_level or getattr(args, "log_level", "info") or "info"
    configure_logging(level)
    from ishowtts.config import ConfigError, load_config
    from ishowtts.engine.factory import BackendUnavailable, build_backend

    try:
        config = load_config(args.config, overrides=_overrides(args))
    except ConfigError as exc:
        print(f"ishowtts serve: invalid config: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "ray", False):
        return _run_ray(config, warmup=args.warmup)
    try:
        backend, fallback_reason = build_backend(config.engine)
    except BackendUnavailable as exc:
        print(f"ishowtts serve: {exc}", file=sys.stderr)
        return 2
    info = _safe_info(backend)
    log.info(
        "engine in use",
        extra=kv(
            engine=backend.name,
            label=backend.label,
            model=info.get("model"),
            device=info.get("device"),
            dtype=info.get("dtype"),
            fallback=fallback_reason is not None,
        ),
    )
    from ishowtts.server.app import create_app

    try:
        app = create_app(config, backend, fallback_reason=fallback_reason, warmup=args.warmup)
    except (ValueError, OSError) as exc:
        print(f"ishowtts serve: cannot start: {exc}", file=sys.stderr)
        return 2
    import uvicorn

    host, port = config.server.host, config.server.port
    if host not in ("127.0.0.1", "localhost", "::1") and not config.server.api_key:
        log.warning("listening beyond localhost without an API key", extra=kv(host=host))
    log.info("listening", extra=kv(url=f"http://{host}:{port}", docs=f"http://{host}:{port}/docs"))
    uvicorn.run(
        app, host=host, port=port, log_level=level.lower(), log_config=None, timeout_graceful_shutdown=5
    )
    return 0


def _run_ray(config: Any, *, warmup: bool) -> int:
    from ishowtts.config import ConfigError

    try:
        from ishowtts.deploy.ray import start
    except ImportError as exc:
        print(f"ishowtts serve --ray: Ray Serve is not installed ({exc}); pip install '.[scale]'", file=sys.stderr)
        return 2
    try:
        start(config, warmup=warmup, blocking=True)
    except ConfigError as exc:
        print(f"ishowtts serve --ray: invalid config: {exc}", file=sys.stderr)
        return 2
    return 0


def _safe_info(backend: Any) -> dict[str, Any]:
    try:
        return dict(backend.info())
    except Exception:
        return {}
