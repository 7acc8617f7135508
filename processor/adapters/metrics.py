"""Prometheus metrics of the processor (docs/design.md section 8).

All live in one registry that ``/metrics`` serves together with faust's own
sensor metrics (prefixed ``faust_``). Labels are bounded: topics, partitions,
reason codes and event types, never dataset or job names.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from processor.core.columns import COLUMN_DROP_REASONS
from processor.core.reasons import Reason

_BATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
# eventTime can trail by hours (batch jobs report at the end) or days (backfills)
_EVENT_TIME_BUCKETS = (1, 10, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 7 * 86400)
_REDIS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5)


class Metrics:
    """The ``lineage_*`` metrics, registered in ``registry``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.events_consumed = Counter(
            "lineage_events_consumed", "Messages read from the input topics", ["topic"], registry=r
        )
        self.events_accepted = Counter(
            "lineage_events_accepted", "Events whose edges were folded into the graph", registry=r
        )
        self.events_duplicate = Counter(
            "lineage_events_duplicate",
            "Events dropped because their content hash was seen",
            registry=r,
        )
        self.events_ignored = Counter(
            "lineage_events_ignored",
            "Valid events that are not COMPLETE RunEvents, by eventType",
            ["event_type"],
            registry=r,
        )
        self.events_rejected = Counter(
            "lineage_events_rejected",
            "Messages sent to the dead-letter topic, by reason",
            ["reason"],
            registry=r,
        )
        # Every reason exists from the start at 0, so that a rate or increase()
        # sees a reason's first dead letter too (a series born at 1 shows none).
        for reason in Reason:
            self.events_rejected.labels(reason.value)
        self.edges_folded = Counter(
            "lineage_edges_folded",
            "Edges folded into the graph (one per edge per event)",
            registry=r,
        )
        self.edges_skipped = Counter(
            "lineage_edges_skipped",
            "Candidate edges of accepted events that were not folded",
            ["reason"],
            registry=r,
        )
        self.column_edges_folded = Counter(
            "lineage_column_edges_folded",
            "Column edges folded into the graph (one per column edge per event)",
            registry=r,
        )
        self.column_dropped = Counter(
            "lineage_column_lineage_dropped",
            "Column edges (too_many, same_side, same_dataset) or facet pieces "
            "(malformed) of accepted events that were not folded",
            ["reason"],
            registry=r,
        )
        for drop in COLUMN_DROP_REASONS:
            self.column_dropped.labels(drop)
        self.deletes_applied = Counter(
            "lineage_deletes_applied",
            "Delete requests from the control topic folded into tombstones",
            registry=r,
        )
        self.retention_swept = Counter(
            "lineage_retention_swept",
            "Graph items removed by the retention sweep, by kind (edge, dataset)",
            ["kind"],
            registry=r,
        )
        self.retention_last_sweep = Gauge(
            "lineage_retention_last_sweep_timestamp_seconds",
            "Unix time at which this worker last completed a retention sweep",
            registry=r,
        )
        self.graph_nodes = Gauge(
            "lineage_graph_nodes",
            "Datasets touched by an edge in the current generation",
            registry=r,
        )
        self.graph_edges = Gauge(
            "lineage_graph_edges", "Edges in the current generation", registry=r
        )
        self.graph_column_edges = Gauge(
            "lineage_graph_column_edges",
            "Column edges in the current generation (hidden ones included)",
            registry=r,
        )
        self.batch_seconds = Histogram(
            "lineage_batch_seconds",
            "Time to process one batch, retries included",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "lineage_batch_size",
            "Messages per batch",
            buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
            registry=r,
        )
        self.event_lag = Histogram(
            "lineage_event_lag_seconds",
            "Processing time minus the Kafka record timestamp",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.event_time_lag = Histogram(
            "lineage_event_time_lag_seconds",
            "Processing time minus the eventTime of accepted events (producer delay included)",
            buckets=_EVENT_TIME_BUCKETS,
            registry=r,
        )
        self.consumer_lag = Gauge(
            "lineage_consumer_lag_messages",
            "Fetch high-watermark minus the next offset to process, per partition",
            ["topic", "partition"],
            registry=r,
        )
        self.redis_errors = Counter(
            "lineage_redis_errors",
            "Failed Redis calls, by operation (seen, fold, deletes, gauges, sweep); retried",
            ["operation"],
            registry=r,
        )
        self.redis_seconds = Histogram(
            "lineage_redis_seconds",
            "Duration of the worker's Redis calls, by operation (seen, fold, deletes)",
            ["operation"],
            buckets=_REDIS_BUCKETS,
            registry=r,
        )
        self.dlq_publish_errors = Counter(
            "lineage_dlq_publish_errors",
            "Failed dead-letter publishes (the batch is retried)",
            registry=r,
        )
        self.dependency_down = Gauge(
            "lineage_dependency_down",
            "1 while a dependency is failing and the worker is retrying",
            ["dependency"],
            registry=r,
        )
        self.graph_lost = Gauge(
            "lineage_graph_lost",
            "1 while Redis does not hold the whole graph (lost, being rebuilt or halted)",
            registry=r,
        )
        self.graph_losses = Counter(
            "lineage_graph_losses",
            "Times this worker found that Redis lost the graph",
            registry=r,
        )
        self.generation = Gauge("lineage_generation", "Current graph generation", registry=r)
        self.rebuild_running = Gauge(
            "lineage_rebuild_running", "1 while a rebuild is running (any process)", registry=r
        )
        self.rebuild_remaining = Gauge(
            "lineage_rebuild_remaining_messages",
            "Messages the running rebuild still has to read, up to the current ends",
            registry=r,
        )
        self.rebuild_rate = Gauge(
            "lineage_rebuild_messages_per_second",
            "Average read rate of the running rebuild",
            registry=r,
        )
        self.rebuild_generation = Gauge(
            "lineage_rebuild_generation", "The generation the running rebuild builds", registry=r
        )
        self.build_info = Gauge(
            "lineage_build_info",
            "Processor version, mix rule and internal namespaces in force (always 1)",
            ["version", "rule", "internal"],
            registry=r,
        )

    def observe_rebuild(self, progress: dict[str, Any] | None) -> None:
        """Export a rebuild's progress record (``RedisGraphStore.rebuild_progress``)."""
        if progress is None:
            self.rebuild_running.set(0)
            self.rebuild_remaining.set(0)
            self.rebuild_rate.set(0)
            return
        self.rebuild_running.set(1)
        self.rebuild_remaining.set(float(progress.get("remaining", 0)))
        self.rebuild_rate.set(float(progress.get("rate", 0)))
        generation = str(progress.get("generation", "0"))
        self.rebuild_generation.set(int(generation) if generation.isdigit() else 0)
