"""Snowflake's external-lineage path on the gateway, with a worker behind it:
the documentation's minimal payload, the 404 of a same-side event (which the
worker still dead-letters), and DELETE by source, by target and by both."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from tests.events import dataset, dumps, raw_dict
from tests.integration.conftest import Stack
from tests.integration.ingest_harness import GatewayProcess, start_gateway
from tests.integration.kafka_utils import read_topic

EXTERNAL = "/api/v2/lineage/external-lineage"
ACCOUNT = "snowflake://myorg-account"


def _minimal(
    job: str, inputs: list[tuple[str, str]], outputs: list[tuple[str, str]], run: str = "1"
) -> bytes:
    """An OpenLineage COMPLETE RunEvent as in Snowflake's manual-request example:
    event time, producer, run, job, one input, one output, nothing else."""
    return dumps(
        {
            "eventType": "COMPLETE",
            "eventTime": "2026-03-01T10:00:00.000Z",
            "producer": "https://example.com/my-etl-tool",
            "run": {"runId": f"0193abcd-0000-7000-8000-00000000000{run}"},
            "job": {"namespace": "my_etl", "name": job},
            "inputs": [dataset(ns, name) for ns, name in inputs],
            "outputs": [dataset(ns, name) for ns, name in outputs],
        }
    )


def _edges(worker: Any) -> set[tuple[str, str]]:
    snapshot = worker.get_json("/api/v1/graph/snapshot")
    return {(e["source"]["name"], e["target"]["name"]) for e in snapshot["edges"]}


def test_minimal_payload_and_the_same_side_404(stack: Stack) -> None:
    gateway = start_gateway(stack)
    worker = stack.start_worker()
    good = _minimal(
        "load_orders", [("postgres://db:5432", "public.orders")], [(ACCOUNT, "DB.S.ORDERS")]
    )
    status, answer = gateway.call("POST", EXTERNAL, good, token="ingest")
    assert (status, answer) == (200, {"status": "published"})

    internal = _minimal("copy", [(ACCOUNT, "DB.S.ORDERS")], [(ACCOUNT, "DB.S.COPY")], run="2")
    status, answer = gateway.call("POST", EXTERNAL, internal, token="ingest")
    assert status == 404
    assert answer["reason"] == "mix_rule_internal_only"
    assert "every dataset is internal" in answer["error"]

    # Both are on the input topic; the worker folds the first and dead-letters the second.
    values = [r.value for r in read_topic(stack.bootstrap, stack.input_topic, expect=2)]
    assert values == [good, internal]
    (dead,) = read_topic(stack.bootstrap, stack.dlq_topic, expect=1)
    assert dead.value == internal
    assert dead.headers["lineage.reason"] == "mix_rule_internal_only"
    worker.wait_for(lambda: worker.metric("lineage_events_consumed_total") >= 2)
    assert _edges(worker) == {("public.orders", "DB.S.ORDERS")}


def _delete(gateway: GatewayProcess, **sides: tuple[str, str]) -> None:
    query: dict[str, str] = {}
    for side, (namespace, name) in sides.items():
        query[f"{side}Namespace"] = namespace
        query[f"{side}Name"] = name
    status, answer = gateway.call("DELETE", f"{EXTERNAL}?{urlencode(query)}", token="delete")
    assert status == 200, answer


def test_delete_by_both_by_source_and_by_target(stack: Stack) -> None:
    gateway = start_gateway(stack)
    worker = stack.start_worker()
    a, b, c = ("s3://lake", "a"), ("s3://lake", "b"), ("s3://lake", "c")
    x, y, z = (ACCOUNT, "X"), (ACCOUNT, "Y"), (ACCOUNT, "Z")
    for job, inputs, outputs in (("j1", [a, b], [x]), ("j2", [a], [y]), ("j3", [c], [z])):
        event = dumps(
            raw_dict(
                job={"namespace": "etl", "name": job},
                inputs=[dataset(*d) for d in inputs],
                outputs=[dataset(*d) for d in outputs],
            )
        )
        assert gateway.call("POST", EXTERNAL, event, token="ingest")[0] == 200
    worker.wait_for(lambda: _edges(worker) == {("a", "X"), ("b", "X"), ("a", "Y"), ("c", "Z")})

    _delete(gateway, source=b, target=x)  # that edge only
    worker.wait_for(lambda: _edges(worker) == {("a", "X"), ("a", "Y"), ("c", "Z")})
    _delete(gateway, source=a)  # every edge out of a
    worker.wait_for(lambda: _edges(worker) == {("c", "Z")})
    _delete(gateway, target=z)  # every edge into Z
    worker.wait_for(lambda: _edges(worker) == set())
    snapshot = worker.get_json("/api/v1/graph/snapshot")
    assert snapshot == {"nodes": [], "edges": []}
    assert gateway.metric("lineage_ingest_deletes_published_total") == 3
    controls = read_topic(stack.bootstrap, stack.control_topic, expect=3)
    assert len(controls) == 3
