"""A real server in this process, for tests and benchmarks: uvicorn on a free loopback port in a daemon
thread. ``tests/conftest.py`` registers this file as ``live_server`` (``from live_server import ...``); the
benchmarks load it by path."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThreadServer:
    """``app`` served by uvicorn in a daemon thread: ``with ThreadServer(app) as srv: srv.url``, or
    ``start()`` / ``stop()``. ``options`` go to ``uvicorn.Config`` (``log_level``, ``ws``, ...)."""

    def __init__(
        self, app: Any, port: int | None = None, start_timeout: float = 60.0, **options: Any
    ) -> None:
        import uvicorn

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.start_timeout = start_timeout
        options.setdefault("log_config", None)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, **options))
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{self.port}", daemon=True)

    def start(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout)

    def __enter__(self) -> ThreadServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
