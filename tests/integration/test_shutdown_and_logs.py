"""Shutdown and logs: on SIGTERM the worker finishes its batch, commits and
exits within a bound, losing nothing; JSON logs carry the source coordinates
of every dead letter and never an event payload."""

from __future__ import annotations

import json
import time

import pytest

from tests.events import ol_event
from tests.integration.conftest import Stack, expected_hash
from tests.integration.kafka_utils import produce
from tests.integration.streams import mixed_stream

pytestmark = pytest.mark.integration

SHUTDOWN_BOUND_S = 15.0  # the worker's own budget; Kubernetes gives 30 s by default


def test_sigterm_mid_stream_exits_promptly_and_a_successor_loses_nothing(stack: Stack) -> None:
    stream = mixed_stream(9, 3000)
    values = [v for _, v in stream.events]
    first = stack.start_worker(LINEAGE_BATCH_SIZE="100")
    produce(stack.bootstrap, stack.input_topic, stream.events)
    first.wait_for(
        lambda: first.metric("lineage_events_consumed_total", topic=stack.input_topic) > 0,
        timeout=60,
    )
    started = time.monotonic()
    code = first.terminate(timeout=60)
    took = time.monotonic() - started
    assert code == 0, first.describe()
    assert took < SHUTDOWN_BOUND_S, f"shutdown took {took:.1f} s"

    # The successor resumes from what the first committed: the graph ends
    # exactly as the pure fold of every message.
    second = stack.start_worker()
    want = expected_hash(values)
    second.wait_for(
        lambda: second.get_json("/api/v1/graph/snapshot?hash=1")["sha256"] == want,
        timeout=120,
    )


def test_json_logs_name_each_dead_letter_and_never_a_payload(stack: Stack) -> None:
    marker = "PAYLOAD-MARKER-7f3a"
    external_only = ol_event(
        job=("etl", marker), inputs=[("postgres://db", marker)], outputs=[("s3://x", marker)]
    )
    worker = stack.start_worker(LINEAGE_LOG_FORMAT="json", LINEAGE_LOG_LEVEL="info")
    produce(stack.bootstrap, stack.input_topic, [(b"k", external_only), (b"k", b"{not json")])
    worker.wait_for(lambda: worker.metric("lineage_events_rejected_total") == 2, timeout=60)
    time.sleep(0.5)  # the log line follows the metric
    lines = worker.log_path.read_text().splitlines()
    records = []
    for line in lines:
        if line.startswith("{"):
            records.append(json.loads(line))  # every JSON-looking line is valid JSON
    dead = [r for r in records if r.get("message", "").startswith("dead-lettered")]
    assert sorted((r["reason"], r["topic"], r["partition"]) for r in dead) == [
        ("invalid_json", stack.input_topic, 0),
        ("mix_rule_external_only", stack.input_topic, 0),
    ]
    assert {r["level"] for r in dead} == {"info"}
    assert sorted(r["offset"] for r in dead) == [0, 1]
    assert marker not in worker.log_path.read_text()
