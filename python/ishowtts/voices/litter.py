"""Start-up clean-up of what a killed upload leaves in the voice store's folders.

An upload writes its audio file first and the index after it, each through a ``*.tmp`` file that is renamed
into place (:mod:`ishowtts.voices.atomic`). A process killed in between leaves a ``*.tmp`` file or an
audio file that no index names. :func:`sweep` removes exactly those: ``*.tmp`` files, and files with a
store audio name (``<id>-<16 hex>.<ext>``) that are not in ``keep``. With ``keep=None`` (the index was
corrupt, or a moved-aside copy of it exists, so the files it names are unknown) no audio file is touched.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from ishowtts.logging_setup import kv
from ishowtts.voices.atomic import fsync_dir

log = logging.getLogger(__name__)


@dataclass
class SweepResult:
    removed: list[Path] = field(default_factory=list)
    bytes: int = 0

    def add(self, other: SweepResult) -> None:
        self.removed.extend(other.removed)
        self.bytes += other.bytes


def sweep(
    directory: Path,
    keep: Collection[str] | None,
    audio_name: re.Pattern[str],
    protected: Collection[Path] = (),
) -> SweepResult:
    """Remove ``*.tmp`` files and unnamed store audio from ``directory`` (not recursive). ``protected``
    paths (e.g. configured reference files) are never removed."""
    result = SweepResult()
    if not directory.is_dir():
        return result
    safe = {_resolved(p) for p in protected}
    for path in sorted(directory.iterdir()):
        name = path.name
        is_tmp = name.endswith(".tmp")
        is_orphan = keep is not None and audio_name.match(name) is not None and name not in keep
        if not (is_tmp or is_orphan) or path.is_symlink() or not path.is_file() or _resolved(path) in safe:
            continue
        try:
            size = path.stat().st_size
            path.unlink()
        except OSError as exc:
            log.warning("cannot remove leftover file", extra=kv(path=path, error=exc))
            continue
        result.removed.append(path)
        result.bytes += size
    if result.removed:
        fsync_dir(directory)
    return result


def _resolved(path: Path) -> Path:
    with contextlib.suppress(OSError):
        return path.resolve()
    return path
