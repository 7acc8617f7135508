"""Deletes on the control topic hide edges in the worker's graph until a newer
event; malformed control messages are dead-lettered as invalid_control."""

from __future__ import annotations

import json

import pytest

from processor.cli.graph import delete_message
from tests.events import ol_event
from tests.integration.conftest import Stack
from tests.integration.kafka_utils import produce, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.redis]

PG = ("postgres://db", "public.orders")
STG = ("snowflake://acme", "RAW.ORDERS")
S3 = ("s3://exports", "orders.parquet")


def _edges(snapshot: dict[str, object]) -> dict[tuple[str, str], int]:
    return {
        (e["source"]["name"], e["target"]["name"]): e["events"]  # type: ignore[index]
        for e in snapshot["edges"]  # type: ignore[attr-defined]
    }


def test_delete_hides_until_a_newer_event_and_bad_control_is_dead_lettered(
    stack: Stack,
) -> None:
    worker = stack.start_worker()
    produce(
        stack.bootstrap,
        stack.input_topic,
        [
            (
                b"k",
                ol_event(
                    job=("dbt", "load"),
                    inputs=[PG],
                    outputs=[STG],
                    event_time="2026-03-01T10:00:00Z",
                ),
            ),
            (
                b"k",
                ol_event(
                    job=("airflow", "export"),
                    inputs=[STG],
                    outputs=[S3],
                    event_time="2026-03-01T10:00:00Z",
                ),
            ),
        ],
    )
    worker.wait_for(lambda: worker.metric("lineage_events_accepted_total") == 2, timeout=30)

    # Every edge out of RAW.ORDERS, as of noon; and one malformed request.
    delete = json.dumps(delete_message(STG, None, "2026-03-01T12:00:00Z")).encode()
    produce(stack.bootstrap, stack.control_topic, [(None, delete), (b"bad", b'{"op": "drop"}')])
    worker.wait_for(lambda: worker.metric("lineage_deletes_applied_total") == 1, timeout=30)
    assert _edges(worker.get_json("/api/v1/graph/snapshot")) == {("public.orders", "RAW.ORDERS"): 1}
    dlq = read_topic(stack.bootstrap, stack.dlq_topic, expect=1)
    assert [(r.key, r.value, r.headers["lineage.reason"]) for r in dlq] == [
        (b"bad", b'{"op": "drop"}', "invalid_control")
    ]
    assert dlq[0].headers["lineage.source.topic"] == stack.control_topic

    # An event after the delete brings the edge back, with both its events.
    produce(
        stack.bootstrap,
        stack.input_topic,
        [
            (
                b"k",
                ol_event(
                    job=("airflow", "export"),
                    inputs=[STG],
                    outputs=[S3],
                    event_time="2026-03-01T13:00:00Z",
                ),
            )
        ],
    )
    worker.wait_for(lambda: worker.metric("lineage_events_accepted_total") == 3, timeout=30)
    assert _edges(worker.get_json("/api/v1/graph/snapshot")) == {
        ("public.orders", "RAW.ORDERS"): 1,
        ("RAW.ORDERS", "orders.parquet"): 2,
    }
