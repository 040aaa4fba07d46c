"""A real IRC server (Debian's ``ngircd``) on loopback for the IRC client tests.

Started in the foreground (``-n``) with a generated config on a free port; ``restart()`` stops and
starts it on the same port (clients see a dropped connection); always stopped at teardown. The nick length
is ngircd's stock default (9, RFC 2812) unless ``max_nick_length`` is given, so the anonymous
``justinfanNNNNNNNN`` nick is refused (432) as on any stock server and the client has to pick another.
Needs the Debian package ``ngircd`` (``apt-get install -y ngircd``); tests skip with that reason otherwise.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from live_server import free_port  # tests/live_server.py, registered by tests/conftest.py

NGIRCD = shutil.which("ngircd") or ("/usr/sbin/ngircd" if Path("/usr/sbin/ngircd").exists() else None)



class NgircdServer:
    def __init__(
        self,
        workdir: Path,
        *,
        ping_timeout: int = 120,
        password: str | None = None,
        max_nick_length: int | None = None,
    ) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.ping_timeout = ping_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.conf = workdir / "ngircd.conf"
        self.log = workdir / "ngircd.log"
        motd = workdir / "motd"
        motd.write_text("ishowtts test server\n")
        self.conf.write_text(
            "[Global]\n"
            "Name = irc.ishowtts.test\n"
            "Info = ishowtts test server\n"
            "Listen = 127.0.0.1\n"
            f"Ports = {self.port}\n"
            f"MotdFile = {motd}\n"
            f"PidFile = {workdir / 'ngircd.pid'}\n"
            + (f"Password = {password}\n" if password else "")
            + "[Limits]\n"
            + (f"MaxNickLength = {max_nick_length}\n" if max_nick_length else "")
            + f"PingTimeout = {ping_timeout}\n"
            "PongTimeout = 20\n"
            "MaxConnectionsIP = 0\n"
            "[Options]\n"
            "DNS = no\n"
            "Ident = no\n"
            "PAM = no\n"
            "MaxPenaltyTime = 0\n"
            "RequireAuthPing = no\n"
        )

    def start(self) -> None:
        assert NGIRCD is not None
        check = subprocess.run([NGIRCD, "--configtest", "-f", str(self.conf)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"ngircd rejected its config: {check.stdout}{check.stderr}")
        self._logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [NGIRCD, "-n", "-f", str(self.conf)], stdout=self._logf, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"ngircd exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}"
                )
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("ngircd did not start listening within 20 s")

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
            self.proc = None
            self._logf.close()

    def restart(self) -> None:
        self.stop()
        self.start()


def _require_ngircd() -> None:
    if NGIRCD is None:
        pytest.skip("ngircd is not installed (Debian: apt-get install -y ngircd)")


@pytest.fixture
def ngircd_factory(tmp_path: Path) -> Iterator[Callable[..., NgircdServer]]:
    """``make(ping_timeout=..., password=..., max_nick_length=...)`` starts another server; all are stopped at teardown."""
    _require_ngircd()
    servers: list[NgircdServer] = []

    def make(**kw: object) -> NgircdServer:
        d = tmp_path / f"ngircd{len(servers)}"
        d.mkdir()
        server = NgircdServer(d, **kw)  # type: ignore[arg-type]
        servers.append(server)
        server.start()
        return server

    try:
        yield make
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def ngircd(ngircd_factory: Callable[..., NgircdServer]) -> NgircdServer:
    return ngircd_factory()
