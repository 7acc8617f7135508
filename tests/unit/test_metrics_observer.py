"""What a batch puts on the worker's metrics (docs/design.md section 8), through
``MetricsObserver``, with the batch service on the in-memory ports."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from processor.adapters.memory import MemoryGraphStore, MemoryPublisher
from processor.adapters.metrics import Metrics
from processor.adapters.metrics_observer import MetricsObserver
from processor.batch import BatchProcessor
from processor.core.pipeline import Limits
from processor.core.rules import MixRule
from processor.ports import InputRecord
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
