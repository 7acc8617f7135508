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
        yield CounterMetricFamily(
            "faust_messages_received", "Messages received by faust", value=m.messages_received_total
        )
        by_topic = CounterMetricFamily(
            "faust_topic_messages_received",
            "Messages received by faust, by topic",
            labels=["topic"],
        )
        for topic, n in sorted((m.messages_received_by_topic or {}).items()):
            by_topic.add_metric([str(topic)], n)
        yield by_topic
        yield GaugeMetricFamily(
            "faust_messages_active", "Messages being processed", value=m.messages_active
        )
        yield CounterMetricFamily("faust_events", "Stream events processed", value=m.events_total)
        yield GaugeMetricFamily(
            "faust_events_active", "Events being processed", value=m.events_active
        )
        yield GaugeMetricFamily(
            "faust_events_runtime_avg_seconds",
            "Average event runtime over the recent history",
            value=m.events_runtime_avg,
        )
        yield CounterMetricFamily(
            "faust_messages_sent", "Messages sent by faust's producer", value=m.messages_sent
        )
        yield CounterMetricFamily(
            "faust_send_errors", "Produce operations that failed", value=m.send_errors
        )
        yield GaugeMetricFamily(
            "faust_commit_latency_avg_seconds",
            "Average offset-commit latency over the recent history",
            value=_avg(m.commit_latency),
        )
        yield CounterMetricFamily(
            "faust_assignments_completed",
            "Partition assignments completed",
            value=m.assignments_completed,
        )
        yield CounterMetricFamily(
            "faust_assignments_failed", "Partition assignments failed", value=m.assignments_failed
        )
        yield CounterMetricFamily("faust_rebalances", "Rebalances seen", value=m.rebalances)
        yield GaugeMetricFamily(
            "faust_rebalance_end_avg_seconds",
            "Average rebalance duration over the recent history",
            value=m.rebalance_end_avg,
        )
        for name, doc, offsets in (
            (
                "faust_topic_partition_committed_offset",
                "Last committed offset",
                m.tp_committed_offsets,
            ),
            ("faust_topic_partition_read_offset", "Last read offset", m.tp_read_offsets),
            ("faust_topic_partition_end_offset", "Log end offset", m.tp_end_offsets),
        ):
            family = GaugeMetricFamily(name, doc, labels=["topic", "partition"])
            for tp, offset in sorted((offsets or {}).items()):
                family.add_metric([tp.topic, str(tp.partition)], offset)
            yield family


def _avg(values: Any) -> float:
    return fmean(values) if values else 0.0
