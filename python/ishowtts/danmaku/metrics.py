"""Prometheus view of a :class:`DanmakuService` (a custom collector: no global state, one per app).

The server registers it in its own registry: ``registry.register(DanmakuCollector(service))``.

``ishowtts_danmaku_messages_total{outcome}``      received messages: accepted, or the filter reason
``ishowtts_danmaku_dropped_total{priority}``      evicted from the full queue (or refused by it)
``ishowtts_danmaku_clips_total{outcome}``         synthesised / failed / retried (scheduler queue full)
``ishowtts_danmaku_normalize_characters_total{action}`` unreadable characters mapped / dropped
``ishowtts_danmaku_playback_dropped_total{where}`` clips lost in the pending backlog or to a slow page
``ishowtts_danmaku_queue_depth``, ``ishowtts_danmaku_playback_clients``, ``ishowtts_danmaku_connected``
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from ishowtts.danmaku.service import DanmakuService


class DanmakuCollector(Collector):
    def __init__(self, service: DanmakuService) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        s = self.service
        g = s.gateway.stats()
        msgs = CounterMetricFamily(
            "ishowtts_danmaku_messages",
            "Chat messages seen by the danmaku gateway by outcome",
            labels=["outcome"],
        )
        msgs.add_metric(["accepted"], float(g["accepted"]))  # type: ignore[arg-type]
        for reason, n in g["filtered"].items():  # type: ignore[union-attr]
            msgs.add_metric([reason], float(n))
        yield msgs
        dropped = CounterMetricFamily(
            "ishowtts_danmaku_dropped", "Chat messages dropped by the full danmaku queue", labels=["priority"]
        )
        for prio, n in g["dropped"].items():  # type: ignore[union-attr]
            dropped.add_metric([prio], float(n))
        yield dropped
        clips = CounterMetricFamily(
            "ishowtts_danmaku_clips", "Danmaku synthesis outcomes", labels=["outcome"]
        )
        clips.add_metric(["synthesised"], float(s.synthesized))
        clips.add_metric(["failed"], float(s.failed))
        clips.add_metric(["retried"], float(s.retries))
        yield clips
        chars = CounterMetricFamily(
            "ishowtts_danmaku_normalize_characters",
            "Characters of chat lines the model cannot read: mapped to readable ones or dropped",
            labels=["action"],
        )
        chars.add_metric(["mapped"], float(s.normalize_mapped))
        chars.add_metric(["dropped"], float(s.normalize_dropped))
        yield chars
        pb = CounterMetricFamily(
            "ishowtts_danmaku_playback_dropped",
            "Clips lost before reaching a playback page",
            labels=["where"],
        )
        pb.add_metric(["backlog"], float(s.hub.dropped_pending))
        pb.add_metric(["slow_client"], float(s.hub.dropped_slow_client))
        yield pb
        yield GaugeMetricFamily(
            "ishowtts_danmaku_queue_depth", "Messages waiting in the danmaku queue", len(s.gateway)
        )
        yield GaugeMetricFamily(
            "ishowtts_danmaku_playback_clients", "Connected playback pages", s.hub.clients
        )
        yield GaugeMetricFamily(
            "ishowtts_danmaku_connected",
            "1 when the chat source is logged in",
            1.0 if s.twitch is not None and s.twitch.connected else 0.0,
        )
