"""The batch service's ``Observer`` (``processor.ports``) on the Prometheus metrics."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime

from processor.adapters.histogram_bulk import observe_many
from processor.adapters.metrics import Metrics
from processor.ports import BatchResult, InputRecord

# A batch's counts (``BatchResult`` fields) and the metrics they add to: totals,
# and counters by one label (event type or reason).
_TOTALS = (
    ("accepted", "events_accepted"),
    ("duplicate", "events_duplicate"),
    ("edges_folded", "edges_folded"),
    ("deletes", "deletes_applied"),
    ("column_edges_folded", "column_edges_folded"),
)
_BY_LABEL = (
    ("ignored", "events_ignored"),
    ("rejected", "events_rejected"),
    ("skipped", "edges_skipped"),
    ("column_dropped", "column_dropped"),
)


class MetricsObserver:
    """Counts outcomes, times store calls and flags outages in ``metrics``;
    lags are measured against ``clock`` (Unix seconds)."""

    def __init__(self, metrics: Metrics, clock: Callable[[], float] = time.time) -> None:
        self.metrics = metrics
        self.clock = clock

    def redis_call(self, operation: str, seconds: float, *, failed: bool) -> None:
        if failed:
            self.metrics.redis_errors.labels(operation).inc()
        self.metrics.redis_seconds.labels(operation).observe(seconds)

    def dependency_down(self, dependency: str) -> None:
        self.metrics.dependency_down.labels(dependency).set(1)
        if dependency != "redis":  # Redis failures are counted per call (redis_call)
            self.metrics.dlq_publish_errors.inc()

    def dependencies_up(self) -> None:
        self.metrics.dependency_down.labels("redis").set(0)
        self.metrics.dependency_down.labels("kafka").set(0)

    def batch_done(
        self, records: Sequence[InputRecord], result: BatchResult, seconds: float
    ) -> None:
        m = self.metrics
        topics = Counter(rec.topic for rec in records)
        for topic, n in topics.items():
            m.events_consumed.labels(topic).inc(n)
        for field, metric in _TOTALS:
            if n := getattr(result, field):
                getattr(m, metric).inc(n)
        for field, metric in _BY_LABEL:
            for label, n in getattr(result, field).items():
                getattr(m, metric).labels(label).inc(n)
        m.batch_seconds.observe(seconds)
        m.batch_size.observe(len(records))
        now = self.clock()
        observe_many(
            m.event_lag,
            [max(0.0, now - t / 1000) for rec in records if (t := rec.timestamp_ms) is not None],
        )
        times = [_unix_seconds(event_time) for event_time in result.event_times]
        observe_many(m.event_time_lag, [max(0.0, now - when) for when in times])


def _unix_seconds(event_time: str) -> float:
    """A normalised eventTime (``...Z``) as Unix seconds."""
    return datetime.fromisoformat(event_time.replace("Z", "+00:00")).timestamp()
