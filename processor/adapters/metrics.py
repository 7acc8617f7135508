"""Prometheus metrics of the processor (docs/design.md section 8).

All live in one registry that ``/metrics`` serves together with faust's own
sensor metrics (prefixed ``faust_``). Labels are bounded: topics, partitions,
reason codes and event types, never dataset or job names.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from processor.adapters.metric_specs import Spec, SpecMetrics
from processor.core.columns import COLUMN_DROP_REASONS
from processor.core.reasons import Reason

_BATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
# eventTime can trail by hours (batch jobs report at the end) or days (backfills)
_EVENT_TIME_BUCKETS = (1, 10, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 7 * 86400)
_SIZE_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)
_REDIS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5)


_SPECS: dict[str, Spec] = {
    "events_consumed": Spec(
        Counter, "lineage_events_consumed", "Messages read from the input topics", ("topic",)
    ),
    "events_accepted": Spec(
        Counter, "lineage_events_accepted", "Events whose edges were folded into the graph"
    ),
    "events_duplicate": Spec(
        Counter, "lineage_events_duplicate", "Events dropped because their content hash was seen"
    ),
    "events_ignored": Spec(
        Counter,
        "lineage_events_ignored",
        "Valid events that are not COMPLETE RunEvents, by eventType",
        ("event_type",),
    ),
    "events_rejected": Spec(
        Counter,
        "lineage_events_rejected",
        "Messages sent to the dead-letter topic, by reason",
        ("reason",),
        preset=[reason.value for reason in Reason],
    ),
    "edges_folded": Spec(
        Counter, "lineage_edges_folded", "Edges folded into the graph (one per edge per event)"
    ),
    "edges_skipped": Spec(
        Counter,
        "lineage_edges_skipped",
        "Candidate edges of accepted events that were not folded",
        ("reason",),
    ),
    "column_edges_folded": Spec(
        Counter,
        "lineage_column_edges_folded",
        "Column edges folded into the graph (one per column edge per event)",
    ),
    "column_dropped": Spec(
        Counter,
        "lineage_column_lineage_dropped",
        "Column edges (too_many, same_side, same_dataset) or facet pieces "
        "(malformed) of accepted events that were not folded",
        ("reason",),
        preset=COLUMN_DROP_REASONS,
    ),
    "deletes_applied": Spec(
        Counter,
        "lineage_deletes_applied",
        "Delete requests from the control topic folded into tombstones",
    ),
    "retention_swept": Spec(
        Counter,
        "lineage_retention_swept",
        "Graph items removed by the retention sweep, by kind (edge, dataset)",
        ("kind",),
    ),
    "retention_last_sweep": Spec(
        Gauge,
        "lineage_retention_last_sweep_timestamp_seconds",
        "Unix time at which this worker last completed a retention sweep",
    ),
    "graph_nodes": Spec(
        Gauge, "lineage_graph_nodes", "Datasets touched by an edge in the current generation"
    ),
    "graph_edges": Spec(Gauge, "lineage_graph_edges", "Edges in the current generation"),
    "graph_column_edges": Spec(
        Gauge,
        "lineage_graph_column_edges",
        "Column edges in the current generation (hidden ones included)",
    ),
    "batch_seconds": Spec(
        Histogram,
        "lineage_batch_seconds",
        "Time to process one batch, retries included",
        (),
        _BATCH_BUCKETS,
    ),
    "batch_size": Spec(Histogram, "lineage_batch_size", "Messages per batch", (), _SIZE_BUCKETS),
    "event_lag": Spec(
        Histogram,
        "lineage_event_lag_seconds",
        "Processing time minus the Kafka record timestamp",
        (),
        _LAG_BUCKETS,
    ),
    "event_time_lag": Spec(
        Histogram,
        "lineage_event_time_lag_seconds",
        "Processing time minus the eventTime of accepted events (producer delay included)",
        (),
        _EVENT_TIME_BUCKETS,
    ),
    "consumer_lag": Spec(
        Gauge,
        "lineage_consumer_lag_messages",
        "Fetch high-watermark minus the next offset to process, per partition",
        ("topic", "partition"),
    ),
    "redis_errors": Spec(
        Counter,
        "lineage_redis_errors",
        "Failed Redis calls, by operation (seen, fold, deletes, gauges, sweep); retried",
        ("operation",),
    ),
    "redis_seconds": Spec(
        Histogram,
        "lineage_redis_seconds",
        "Duration of the worker's Redis calls, by operation (seen, fold, deletes)",
        ("operation",),
        _REDIS_BUCKETS,
    ),
    "dlq_publish_errors": Spec(
        Counter, "lineage_dlq_publish_errors", "Failed dead-letter publishes (the batch is retried)"
    ),
    "dependency_down": Spec(
        Gauge,
        "lineage_dependency_down",
        "1 while a dependency is failing and the worker is retrying",
        ("dependency",),
    ),
    "graph_lost": Spec(
        Gauge,
        "lineage_graph_lost",
        "1 while Redis does not hold the whole graph (lost, being rebuilt or halted)",
    ),
    "graph_losses": Spec(
        Counter, "lineage_graph_losses", "Times this worker found that Redis lost the graph"
    ),
    "generation": Spec(Gauge, "lineage_generation", "Current graph generation"),
    "rebuild_running": Spec(
        Gauge, "lineage_rebuild_running", "1 while a rebuild is running (any process)"
    ),
    "rebuild_remaining": Spec(
        Gauge,
        "lineage_rebuild_remaining_messages",
        "Messages the running rebuild still has to read, up to the current ends",
    ),
    "rebuild_rate": Spec(
        Gauge, "lineage_rebuild_messages_per_second", "Average read rate of the running rebuild"
    ),
    "rebuild_generation": Spec(
        Gauge, "lineage_rebuild_generation", "The generation the running rebuild builds"
    ),
    "build_info": Spec(
        Gauge,
        "lineage_build_info",
        "Processor version, mix rule and internal namespaces in force (always 1)",
        ("version", "rule", "internal"),
    ),
}


class Metrics(SpecMetrics):
    """The ``lineage_*`` metrics, registered in ``registry``."""

    SPECS = _SPECS

    events_consumed: Counter
    events_accepted: Counter
    events_duplicate: Counter
    events_ignored: Counter
    events_rejected: Counter
    edges_folded: Counter
    edges_skipped: Counter
    column_edges_folded: Counter
    column_dropped: Counter
    deletes_applied: Counter
    retention_swept: Counter
    retention_last_sweep: Gauge
    graph_nodes: Gauge
    graph_edges: Gauge
    graph_column_edges: Gauge
    batch_seconds: Histogram
    batch_size: Histogram
    event_lag: Histogram
    event_time_lag: Histogram
    consumer_lag: Gauge
    redis_errors: Counter
    redis_seconds: Histogram
    dlq_publish_errors: Counter
    dependency_down: Gauge
    graph_lost: Gauge
    graph_losses: Counter
    generation: Gauge
    rebuild_running: Gauge
    rebuild_remaining: Gauge
    rebuild_rate: Gauge
    rebuild_generation: Gauge
    build_info: Gauge

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
