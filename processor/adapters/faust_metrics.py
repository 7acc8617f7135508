"""faust's own metrics on ``/metrics``, read from its default Monitor at scrape time.

faust's Prometheus sensor updates several labelled series for every message,
which cost a fifth of the worker's CPU under load. faust's default Monitor
already counts the same things in plain attributes, so this collector turns
them into ``faust_*`` series only when Prometheus asks.
"""

from __future__ import annotations

from collections.abc import Iterator
from statistics import fmean
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector


class FaustMonitorCollector(Collector):
    """Exports ``app.monitor`` (a ``faust.sensors.Monitor``) as ``faust_*`` metrics."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def collect(self) -> Iterator[Any]:
        m = self.app.monitor
        for family, name, doc, value in (
            (CounterMetricFamily, "messages_received", "Messages received by faust",
             m.messages_received_total),
            (GaugeMetricFamily, "messages_active", "Messages being processed",
             m.messages_active),
            (CounterMetricFamily, "events", "Stream events processed", m.events_total),
            (GaugeMetricFamily, "events_active", "Events being processed", m.events_active),
            (GaugeMetricFamily, "events_runtime_avg_seconds",
             "Average event runtime over the recent history", m.events_runtime_avg),
            (CounterMetricFamily, "messages_sent", "Messages sent by faust's producer",
             m.messages_sent),
            (CounterMetricFamily, "send_errors", "Produce operations that failed",
             m.send_errors),
            (GaugeMetricFamily, "commit_latency_avg_seconds",
             "Average offset-commit latency over the recent history", _avg(m.commit_latency)),
            (CounterMetricFamily, "assignments_completed", "Partition assignments completed",
             m.assignments_completed),
            (CounterMetricFamily, "assignments_failed", "Partition assignments failed",
             m.assignments_failed),
            (CounterMetricFamily, "rebalances", "Rebalances seen", m.rebalances),
            (GaugeMetricFamily, "rebalance_end_avg_seconds",
             "Average rebalance duration over the recent history", m.rebalance_end_avg),
        ):  # fmt: skip
            yield family(f"faust_{name}", doc, value=value)
        by_topic = CounterMetricFamily(
            "faust_topic_messages_received",
            "Messages received by faust, by topic",
            labels=["topic"],
        )
        for topic, n in sorted((m.messages_received_by_topic or {}).items()):
            by_topic.add_metric([str(topic)], n)
        yield by_topic
        for name, doc, offsets in (
            ("committed_offset", "Last committed offset", m.tp_committed_offsets),
            ("read_offset", "Last read offset", m.tp_read_offsets),
            ("end_offset", "Log end offset", m.tp_end_offsets),
        ):
            per_tp = GaugeMetricFamily(
                f"faust_topic_partition_{name}", doc, labels=["topic", "partition"]
            )
            for tp, offset in sorted((offsets or {}).items()):
                per_tp.add_metric([tp.topic, str(tp.partition)], offset)
            yield per_tp


def _avg(values: Any) -> float:
    return fmean(values) if values else 0.0
