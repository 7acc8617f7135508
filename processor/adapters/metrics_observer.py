"""The batch service's ``Observer`` (``processor.ports``) on the Prometheus metrics."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime

from processor.adapters.metrics import Metrics
from processor.ports import BatchResult, InputRecord


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
        if result.accepted:
            m.events_accepted.inc(result.accepted)
        if result.duplicate:
            m.events_duplicate.inc(result.duplicate)
        for event_type, n in result.ignored.items():
            m.events_ignored.labels(event_type).inc(n)
        for reason, n in result.rejected.items():
            m.events_rejected.labels(reason).inc(n)
        if result.edges_folded:
            m.edges_folded.inc(result.edges_folded)
        if result.deletes:
            m.deletes_applied.inc(result.deletes)
        for reason, n in result.skipped.items():
            m.edges_skipped.labels(reason).inc(n)
        if result.column_edges_folded:
            m.column_edges_folded.inc(result.column_edges_folded)
        for reason, n in result.column_dropped.items():
            m.column_dropped.labels(reason).inc(n)
        m.batch_seconds.observe(seconds)
        m.batch_size.observe(len(records))
        now = self.clock()
        for rec in records:
            if rec.timestamp_ms is not None:
                m.event_lag.observe(max(0.0, now - rec.timestamp_ms / 1000))
        for fold in result.folded:
            when = datetime.fromisoformat(fold.event_time.replace("Z", "+00:00")).timestamp()
            m.event_time_lag.observe(max(0.0, now - when))
