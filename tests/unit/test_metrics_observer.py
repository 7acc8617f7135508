"""What a batch puts on the worker's metrics (docs/design.md section 8), through
``MetricsObserver``, with the batch service on the in-memory ports."""

from __future__ import annotations

import asyncio
from collections import Counter

from prometheus_client import CollectorRegistry

from processor.adapters.memory import MemoryGraphStore, MemoryPublisher
from processor.adapters.metrics import Metrics
from processor.adapters.metrics_observer import MetricsObserver
from processor.batch import BatchProcessor
from processor.core.pipeline import Limits
from processor.core.rules import MixRule
from processor.ports import BatchResult, InputRecord
from tests.events import dataset, raw_event

# 2026-03-01T10:00:05Z: five seconds after the events' eventTime
NOW = 1_772_359_205.0


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_a_batch_with_outages_on_both_dependencies_is_counted_once() -> None:
    metrics = Metrics(CollectorRegistry())
    store = MemoryGraphStore()
    publisher = MemoryPublisher()
    processor = BatchProcessor(
        store=store,
        publisher=publisher,
        rule=MixRule("mixed", ["snowflake://*"]),
        limits=Limits(),
        dlq_topic="dlq",
        version="test",
        observer=MetricsObserver(metrics, clock=lambda: NOW),
        max_backoff=0.0,
    )
    values = [
        raw_event(),  # accepted, one edge
        raw_event(),  # a copy
        raw_event(inputs=[dataset("snowflake://acme", "A")]),  # mix_rule_internal_only
        b"{",  # invalid_json
        raw_event(eventType="START"),
    ]
    # the record timestamps trail NOW by 2 s
    records = [
        InputRecord("events", 0, i, int(NOW * 1000) - 2000, None, v) for i, v in enumerate(values)
    ]
    publisher.fail_next()
    store.fail_next(operation="fold")
    result = asyncio.run(processor.process(records))
    assert result.attempts == 3

    r = metrics.registry
    assert sample(r, "lineage_events_consumed_total", topic="events") == 5
    assert sample(r, "lineage_events_accepted_total") == 1
    assert sample(r, "lineage_events_duplicate_total") == 1
    assert sample(r, "lineage_events_ignored_total", event_type="START") == 1
    assert sample(r, "lineage_events_rejected_total", reason="invalid_json") == 1
    assert sample(r, "lineage_events_rejected_total", reason="mix_rule_internal_only") == 1
    assert sample(r, "lineage_edges_folded_total") == 1
    assert sample(r, "lineage_dlq_publish_errors_total") == 1
    # seen ran twice (the publish failed after it), fold twice (once refused)
    assert sample(r, "lineage_redis_seconds_count", operation="seen") == 2
    assert sample(r, "lineage_redis_seconds_count", operation="fold") == 2
    assert sample(r, "lineage_redis_errors_total", operation="fold") == 1
    assert sample(r, "lineage_redis_errors_total", operation="seen") == 0
    # both set while retrying, both clear once the batch went through
    assert sample(r, "lineage_dependency_down", dependency="kafka") == 0
    assert sample(r, "lineage_dependency_down", dependency="redis") == 0
    assert sample(r, "lineage_batch_size_count") == 1
    assert sample(r, "lineage_batch_size_sum") == 5
    assert sample(r, "lineage_event_lag_seconds_sum") == 5 * 2.0
    assert sample(r, "lineage_event_time_lag_seconds_sum") == 5.0


def test_an_outage_shows_while_it_lasts() -> None:
    metrics = Metrics(CollectorRegistry())
    observer = MetricsObserver(metrics)
    observer.dependency_down("redis")
    assert sample(metrics.registry, "lineage_dependency_down", dependency="redis") == 1
    assert sample(metrics.registry, "lineage_dlq_publish_errors_total") == 0
    observer.dependency_down("kafka")
    assert sample(metrics.registry, "lineage_dependency_down", dependency="kafka") == 1
    assert sample(metrics.registry, "lineage_dlq_publish_errors_total") == 1
    observer.dependencies_up()
    assert sample(metrics.registry, "lineage_dependency_down", dependency="redis") == 0
    assert sample(metrics.registry, "lineage_dependency_down", dependency="kafka") == 0


def test_column_edges_folded_and_dropped_are_counted_once_per_new_event() -> None:
    from tests.column_events import INT, column_event, column_facet, spark_facet
    from tests.column_graph import EVENTS

    metrics = Metrics(CollectorRegistry())
    store = MemoryGraphStore()
    processor = BatchProcessor(
        store=store,
        publisher=MemoryPublisher(),
        rule=MixRule("mixed", ["snowflake://*"]),
        limits=Limits(max_column_edges_per_event=5),
        dlq_topic="dlq",
        version="test",
        observer=MetricsObserver(metrics, clock=lambda: NOW),
        max_backoff=0.0,
    )
    ext = ("postgres://db", "public.orders")
    wide = column_event({INT: spark_facet(ext, 2, 2)}, inputs=[ext])  # 2 x 3 = 6 > 5
    same = column_event(
        {INT: column_facet({"a": [(("snowflake://acme", "X", "a"), [])]})}, inputs=[ext]
    )
    values = [*EVENTS, wide, same, EVENTS[0]]  # the last one a copy: counted once
    records = [InputRecord("events", 0, i, None, None, v) for i, v in enumerate(values)]
    result = asyncio.run(processor.process(records))
    # tests.column_graph: 4 column edges in the load, 2 in the export
    assert result.column_edges_folded == 6
    r = metrics.registry
    assert sample(r, "lineage_column_edges_folded_total") == 6
    assert sample(r, "lineage_column_lineage_dropped_total", reason="too_many") == 6
    assert sample(r, "lineage_column_lineage_dropped_total", reason="same_side") == 1
    assert sample(r, "lineage_column_lineage_dropped_total", reason="malformed") == 0
    assert len(store.graph.column_snapshot()["columnEdges"]) == 6


def test_every_count_of_a_batch_result_reaches_its_metric() -> None:
    metrics = Metrics(CollectorRegistry())
    result = BatchResult(
        accepted=2,
        duplicate=3,
        rejected=Counter({"invalid_json": 4}),
        ignored=Counter({"START": 5}),
        edges_folded=6,
        skipped=Counter({"self_loop": 7}),
        column_edges_folded=8,
        column_dropped=Counter({"too_many": 9}),
        deletes=10,
    )
    MetricsObserver(metrics, clock=lambda: NOW).batch_done([], result, 0.5)
    r = metrics.registry
    assert sample(r, "lineage_events_accepted_total") == 2
    assert sample(r, "lineage_events_duplicate_total") == 3
    assert sample(r, "lineage_events_rejected_total", reason="invalid_json") == 4
    assert sample(r, "lineage_events_ignored_total", event_type="START") == 5
    assert sample(r, "lineage_edges_folded_total") == 6
    assert sample(r, "lineage_edges_skipped_total", reason="self_loop") == 7
    assert sample(r, "lineage_column_edges_folded_total") == 8
    assert sample(r, "lineage_column_lineage_dropped_total", reason="too_many") == 9
    assert sample(r, "lineage_deletes_applied_total") == 10
