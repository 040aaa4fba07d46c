"""One data directory shared by several processes (the replicas of ``serve --ray``, or two servers).

* Writers take :class:`DirLock`, an exclusive ``fcntl.flock`` on ``<data_dir>/.voices.lock``, around
  read-index / write-audio / write-index, so two processes never lose each other's change and the start-up
  sweep never removes audio that another process has written but not yet indexed.
* Readers notice another process's write by the index files' :func:`stamp`, a digest of their bytes.
  (inode, mtime, size) is not enough: a freed inode is reused by the next file, the file system's clock
  ticks in milliseconds, and two indexes can have the same length, so two quick writes could look like
  none and a process would then write over the other's voice (seen in ~1 of 12 runs of four writers).
  An index is a few kB: reading it costs microseconds, parsing it happens only when it changed.

Where ``fcntl`` does not exist (Windows) the lock is only the in-process one: one server per data directory
there, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".voices.lock"

Stamp = bytes | None


def stamp(path: Path) -> Stamp:
    """A digest of ``path``'s bytes, None when it does not exist."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return hashlib.blake2b(data, digest_size=16).digest()


class DirLock:
    """Re-entrant across threads of one process (an ``RLock``), exclusive across processes (``flock``)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        self._local = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._local:
            if self._depth == 0 and fcntl is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except BaseException:
                    os.close(fd)
                    raise
                self._fd = fd
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    fd, self._fd = self._fd, None
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    os.close(fd)
