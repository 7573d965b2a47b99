"""Prometheus metrics of the card, from the telemetry's latest snapshot.

Where it sits: behind GET /metrics (sw/control/routes/metrics.py). The counters are the card's
own hardware counters (they restart at zero when the card resets, as Prometheus counters may);
the tick-to-trade histogram is built from the card's order events by sw/control/telemetry.py.
Base units (seconds), `_total` counters, no per-order labels. A value the backend does not
model, or any value while the card cannot be read, is left out: absent means unknown.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from sw.control.telemetry import Telemetry

#: (metric name without _total, snapshot section, key, help)
COUNTERS = (
    ("nerve_messages", "counters", "messages", "ITCH messages the card's feed handler delivered"),
    ("nerve_orders", "counters", "orders", "orders the card sent (D and G accepted, and F)"),
    ("nerve_risk_checks", "counters", "checked", "D and G orders the risk gate checked"),
    ("nerve_feed_gaps", "feed", "gaps", "MoldUDP64 sequence gaps"),
    ("nerve_feed_missing_messages", "feed", "missing_messages",
     "feed messages skipped over by sequence gaps"),
    ("nerve_feed_malformed_messages", "feed", "malformed_messages",
     "malformed ITCH messages dropped"),
    ("nerve_events_lost", "counters", "events_lost",
     "card-to-host events lost to a full queue (halts trading)"),
)


class CardCollector(Collector):
    """Yields the metric families of the telemetry's latest snapshot on every scrape."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry

    def collect(self) -> Iterator[Metric]:
        snap = self.telemetry.snapshot
        up = GaugeMetricFamily("nerve_up", "1 if the last poll read the card, else 0")
        up.add_metric([], 0 if snap is None or not snap["card"]["reachable"] else 1)
        yield up
        if snap is None:
            return
        loaded = GaugeMetricFamily("nerve_limits_loaded",
                                   "1 once the persisted limits are committed to the card")
        loaded.add_metric([], int(snap["limits_loaded"]))
        yield loaded
        if not snap["card"]["reachable"]:
            return
        gauges = (("nerve_halted", snap["halted"], "1 while the card is halted"),
                  ("nerve_feed_stale", snap["feed"]["stale"],
                   "1 while a feed gap or malformed message blocks trading"),
                  ("nerve_open_order_chains", snap["counters"]["open_chains"],
                   "order chains the card has sent and the host has not yet ended"))
        for name, value, doc in gauges:
            if value is not None:
                yield GaugeMetricFamily(name, doc, value=int(value))
        for name, section, key, doc in COUNTERS:
            value = snap[section][key]
            if value is not None:
                yield CounterMetricFamily(name, doc, value=value)
        rejects = CounterMetricFamily("nerve_rejects", "orders the risk gate rejected, by "
                                      "first failing check", labels=["reason"])
        for reason, count in snap["rejects_by_reason"].items():
            if count is not None:
                rejects.add_metric([reason], count)
        yield rejects
        buckets, _, seconds = self.telemetry.tick_to_trade.cumulative()
        yield HistogramMetricFamily(
            "nerve_tick_to_trade_seconds",
            "feed packet ingress to the order's first egress byte, as the card stamps them",
            buckets=[("+Inf" if b == float("inf") else repr(b), n) for b, n in buckets],
            sum_value=seconds)


def registry_for(telemetry: Telemetry) -> CollectorRegistry:
    """A registry of its own per app (not the process-wide default): several apps, e.g. in
    tests, never share or collide."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CardCollector(telemetry))
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
