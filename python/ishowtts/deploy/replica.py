"""One synthesis replica: an engine and its scheduler (batching stays here, in our masked batcher), the
shared voice store, and a report of its state to the registry every second.

Plain Python (no Ray): :mod:`ishowtts.deploy.ray` wraps it in a Serve deployment, and the unit tests
drive it directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from ishowtts.config import Config
from ishowtts.engine.factory import build
from ishowtts.engine.jobs import Priority
from ishowtts.logging_setup import kv
from ishowtts.voices.reference import VoiceReference
from ishowtts.voices.store import VoiceStore

log = logging.getLogger(__name__)

REPORT_S = 1.0
PIECE_SAMPLES = 16_384  # 64 KiB of float32: Ray passes an object this small inline, not via its object store
FIRST_PIECE_SAMPLES = 2_048  # the first ~85 ms of audio leaves at once: the time to first byte

Report = Callable[[dict[str, Any]], Awaitable[Any]]


class SynthesisReplica:
    def __init__(self, config: Config, replica: str, *, report: Report | None = None, warmup: bool = False) -> None:
        self.replica = replica
        self.backend, self.scheduler, self.fallback_reason = build(config)
        self.store = VoiceStore(
            config.server.data_dir,
            config.voices,
            self.backend.name,
            self.backend.label,
            default_voice=config.default_voice,
            max_upload_bytes=config.server.max_upload_bytes,
        )
        if warmup:  # before Serve routes anything here: a replica is ready when it is warm
            self.backend.warmup([self.store.get(v.id) for v in self.store.list() if v.preload])
        self._report = report
        self._reporter: asyncio.Task[None] | None = None
        self.started_at = time.time()

    async def start(self) -> None:
        await self.scheduler.start()
        if self._report is not None and self._reporter is None:
            self._reporter = asyncio.get_running_loop().create_task(self._report_loop())
        log.info("synthesis replica started", extra=kv(replica=self.replica, engine=self.backend.name))

    async def stop(self) -> None:
        if self._reporter is not None:
            self._reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reporter
        await self.scheduler.stop()

    def describe(self) -> dict[str, Any]:
        """What the ingress needs to build its app: the backend's face."""
        symbols = getattr(self.backend, "vocab_symbols", None)
        return {
            "name": self.backend.name,
            "label": self.backend.label,
            "sample_rate": int(self.backend.sample_rate),
            "vocab_symbols": tuple(symbols) if symbols else None,
            "fallback_reason": self.fallback_reason,
            "info": self._info(),
        }

    def report(self) -> dict[str, Any]:
        stats = self.scheduler.stats()
        info = self._info()
        return {
            "replica": self.replica,
            "engine": self.backend.name,
            "device": info.get("device"),
            "dtype": info.get("dtype"),
            **{k: v for k, v in stats.items() if isinstance(v, (int, float)) and not isinstance(v, bool)},
        }

    async def synthesize(self, req: dict[str, Any]) -> dict[str, Any]:
        voice = await self._voice(req["voice_id"])
        result = await self.scheduler.synthesize(
            req["text"], voice, req["params"], priority=Priority(req["priority"])
        )
        return {
            "audio": result.audio,
            "sample_rate": result.sample_rate,
            "cached": result.cached,
            "queue_s": result.queue_s,
            "synth_s": result.synth_s,
            "rtf": result.rtf,
            "replica": self.replica,
        }

    async def stream(self, req: dict[str, Any]) -> AsyncIterator[Any]:
        """``({"replica", "whole"}, first chunk)`` (the chunk None for no audio), then the float32 chunks.
        Closing it (the caller cancelled) cancels the work."""
        voice = await self._voice(req["voice_id"])
        chunks = self.scheduler.stream(req["text"], voice, req["params"], priority=Priority(req["priority"]))
        try:
            first = await anext(chunks, None)
            whole = bool(getattr(chunks, "whole", False))  # a cache hit: the clip in one piece, as the route expects
            pieces = _pieces(first, FIRST_PIECE_SAMPLES) if first is not None and not whole else [first]
            yield {"replica": self.replica, "whole": whole}, pieces[0]
            for piece in pieces[1:]:
                yield piece
            if first is not None:
                async for chunk in chunks:
                    for piece in _pieces(chunk):
                        yield piece
        finally:
            await chunks.aclose()

    async def _voice(self, voice_id: str) -> VoiceReference:
        """The voice as the shared store holds it now; the first use of a voice (or of its new content)
        reads and decodes its file, in a thread; later ones are in memory."""
        if self.store.is_loaded(voice_id):
            return self.store.get(voice_id)
        return await asyncio.to_thread(self.store.get, voice_id)

    def _info(self) -> dict[str, Any]:
        try:
            return dict(self.backend.info())
        except Exception as exc:
            log.warning("backend.info() failed", exc_info=exc)
            return {}

    async def _report_loop(self) -> None:
        assert self._report is not None
        while True:
            try:
                await self._report(self.report())
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the registry restarting: the next report gets through
                log.debug("replica report failed", extra=kv(replica=self.replica, error=repr(exc)))
            await asyncio.sleep(REPORT_S)


def _pieces(chunk: Any, first: int = PIECE_SAMPLES) -> list[Any]:
    """A chunk as pieces (views, no copies): ``first`` samples, then at most :data:`PIECE_SAMPLES` each, so
    the first audio leaves sooner and each piece travels inline."""
    if len(chunk) <= first:
        return [chunk]
    return [chunk[:first]] + [chunk[i : i + PIECE_SAMPLES] for i in range(first, len(chunk), PIECE_SAMPLES)]


class Registry:
    """The replicas' latest reports; one older than ``stale_s`` is of a replica that is gone."""

    def __init__(self, stale_s: float = 3.0 * REPORT_S) -> None:
        self.stale_s = stale_s
        self._reports: dict[str, tuple[float, dict[str, Any]]] = {}

    def report(self, snapshot: dict[str, Any]) -> None:
        self._reports[str(snapshot["replica"])] = (time.monotonic(), dict(snapshot))

    def snapshot(self) -> dict[str, Any]:
        now = time.monotonic()
        for rid in [rid for rid, (t, _) in self._reports.items() if now - t > self.stale_s]:
            del self._reports[rid]
        replicas = [
            {**snap, "report_age_s": round(now - t, 3)} for _, (t, snap) in sorted(self._reports.items())
        ]
        cluster: dict[str, Any] = {"replicas": len(replicas)}
        for _, snap in self._reports.values():  # every count a replica reports (its scheduler's stats), summed
            for key, value in snap.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    cluster[key] = cluster.get(key, 0) + value
        return {"replicas": replicas, "cluster": cluster}
