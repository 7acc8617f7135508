"""Events from the openlineage-python client's own Kafka transport end up in the
graph exactly as a hand-written expectation says, and the metrics say why."""

from __future__ import annotations

import json
from typing import Any

from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import dataset_type_dataset
from openlineage.client.transport.kafka import KafkaConfig, KafkaTransport

from tests.integration.conftest import Stack
from tests.integration.kafka_utils import read_topic

PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python"
R1 = "01930000-0000-7000-8000-0000000000A1"
R2 = "01930000-0000-7000-8000-0000000000A2"
R3 = "01930000-0000-7000-8000-0000000000A3"
R5 = "01930000-0000-7000-8000-0000000000A5"


def _event(
    state: RunState,
    time: str,
    run_id: str,
    job: tuple[str, str],
    inputs: list[tuple[str, str]],
    outputs: list[tuple[str, str]],
    types: dict[tuple[str, str], str] | None = None,
) -> RunEvent:
    types = types or {}

    def facets(ds: tuple[str, str]) -> dict[str, Any]:
        if ds in types:
            return {
                "datasetType": dataset_type_dataset.DatasetTypeDatasetFacet(datasetType=types[ds])
            }
        return {}

    return RunEvent(
        eventType=state,
        eventTime=time,
        run=Run(runId=run_id),
        job=Job(namespace=job[0], name=job[1]),
        producer=PRODUCER,
        inputs=[InputDataset(namespace=ns, name=n, facets=facets((ns, n))) for ns, n in inputs],
        outputs=[OutputDataset(namespace=ns, name=n, facets=facets((ns, n))) for ns, n in outputs],
    )


PG = ("postgres://db:5432", "public.orders")
STG = ("snowflake://acme", "RAW.STG_ORDERS")
CUST = ("snowflake://acme", "RAW.CUSTOMERS")
S3 = ("s3://exports", "orders.parquet")


def test_client_events_fold_into_the_expected_snapshot(stack: Stack) -> None:
    worker = stack.start_worker()
    e1 = _event(
        RunState.COMPLETE,
        "2026-03-01T10:00:00Z",
        R1,
        ("dbt", "stg_orders"),
        [PG],
        [STG],
        types={STG: "VIEW"},
    )
    e2 = _event(
        RunState.COMPLETE, "2026-03-02T10:00:00+00:00", R2, ("dbt", "stg_orders"), [PG], [STG]
    )
    e3 = _event(
        RunState.COMPLETE, "2026-03-01T13:00:00+01:00", R3, ("airflow", "export"), [STG, CUST], [S3]
    )
    start = _event(RunState.START, "2026-03-01T09:59:00Z", R1, ("dbt", "stg_orders"), [PG], [STG])
    external_only = _event(
        RunState.COMPLETE, "2026-03-01T11:00:00Z", R5, ("spark", "copy"), [S3], [PG]
    )
    client = OpenLineageClient(
        transport=KafkaTransport(
            KafkaConfig(
                topic=stack.input_topic, config={"bootstrap.servers": stack.bootstrap}, flush=True
            )
        )
    )
    for event in (e1, start, e2, e3, external_only, e1):  # the last one is a duplicate
        client.emit(event)

    worker.wait_for(lambda: worker.metric("lineage_events_consumed_total") >= 6, timeout=30)
    snapshot = worker.get_json("/api/v1/graph/snapshot")
    # Hand-written: times normalised to UTC microseconds, e3's 13:00+01:00 is 12:00Z;
    # run ids lowercased; STG's type from e1 (the only event carrying one).
    assert snapshot == {
        "nodes": [
            {
                "namespace": "postgres://db:5432",
                "name": "public.orders",
                "type": "External Node",
                "internal": False,
            },
            {
                "namespace": "s3://exports",
                "name": "orders.parquet",
                "type": "External Node",
                "internal": False,
            },
            {
                "namespace": "snowflake://acme",
                "name": "RAW.CUSTOMERS",
                "type": "TABLE",
                "internal": True,
            },
            {
                "namespace": "snowflake://acme",
                "name": "RAW.STG_ORDERS",
                "type": "VIEW",
                "internal": True,
            },
        ],
        "edges": [
            {
                "source": {"namespace": "postgres://db:5432", "name": "public.orders"},
                "target": {"namespace": "snowflake://acme", "name": "RAW.STG_ORDERS"},
                "jobs": [{"namespace": "dbt", "name": "stg_orders"}],
                "firstSeen": "2026-03-01T10:00:00.000000Z",
                "lastSeen": "2026-03-02T10:00:00.000000Z",
                "lastRunId": R2.lower(),
                "events": 2,
            },
            {
                "source": {"namespace": "snowflake://acme", "name": "RAW.CUSTOMERS"},
                "target": {"namespace": "s3://exports", "name": "orders.parquet"},
                "jobs": [{"namespace": "airflow", "name": "export"}],
                "firstSeen": "2026-03-01T12:00:00.000000Z",
                "lastSeen": "2026-03-01T12:00:00.000000Z",
                "lastRunId": R3.lower(),
                "events": 1,
            },
            {
                "source": {"namespace": "snowflake://acme", "name": "RAW.STG_ORDERS"},
                "target": {"namespace": "s3://exports", "name": "orders.parquet"},
                "jobs": [{"namespace": "airflow", "name": "export"}],
                "firstSeen": "2026-03-01T12:00:00.000000Z",
                "lastSeen": "2026-03-01T12:00:00.000000Z",
                "lastRunId": R3.lower(),
                "events": 1,
            },
        ],
    }
    # The HTTP body is the canonical form, and its hash is in the header and ?hash=1.
    import hashlib
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{worker.web_port}/api/v1/graph/snapshot") as r:
        body = r.read()
        header = r.headers["X-Snapshot-SHA256"]
    assert (
        body
        == json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert header == hashlib.sha256(body).hexdigest()
    as_of = "2026-03-02T00:00:00Z"
    assert worker.get_json(f"/api/v1/graph/snapshot?hash=1&asOf={as_of}") == {
        "sha256": header,
        "nodes": 4,
        "edges": 3,
        "asOf": "2026-03-02T00:00:00.000000Z",  # retention is off: asOf changes nothing
    }

    # Six messages: three accepted, one START ignored, one duplicate, one dead letter.
    assert worker.metric("lineage_events_consumed_total", topic=stack.input_topic) == 6
    assert worker.metric("lineage_events_accepted_total") == 3
    assert worker.metric("lineage_events_duplicate_total") == 1
    assert worker.metric("lineage_events_ignored_total", event_type="START") == 1
    assert worker.metric("lineage_events_rejected_total", reason="mix_rule_external_only") == 1
    # e1 and e2 fold one edge each, e3 two; e3 has no same-side pair (both inputs
    # internal, the output external).
    assert worker.metric("lineage_edges_folded_total") == 4
    worker.wait_for(lambda: worker.metric("lineage_graph_edges") == 3, timeout=10)
    assert worker.metric("lineage_graph_nodes") == 4
    # One lag observation per message; the partition is drained; faust's own
    # metrics come from the same scrape; the rule in force is on build_info.
    assert worker.metric("lineage_event_lag_seconds_count") == 6
    worker.wait_for(
        lambda: (
            worker.metric("lineage_consumer_lag_messages", topic=stack.input_topic, partition="0")
            == 0
        ),
        timeout=10,
    )
    assert worker.metric("faust_topic_messages_received_total", topic=stack.input_topic) == 6
    assert worker.metric("lineage_build_info", rule="mixed", internal="snowflake://*") == 1
    # Redis calls are timed by operation; every batch made one fold call.
    assert worker.metric("lineage_redis_seconds_count", operation="fold") >= 1
    # Accepted events' eventTime lag (their eventTime is in March 2026).
    assert worker.metric("lineage_event_time_lag_seconds_count") == 3
    assert worker.get_json("/readyz") == {
        "status": "ready",
        "checks": {"redis": True, "kafka": True, "graph": True},
    }

    dlq = read_topic(stack.bootstrap, stack.dlq_topic, expect=1)
    assert len(dlq) == 1
    assert dlq[0].key == b"run:spark/copy"  # the client's key, kept unchanged
    assert dlq[0].headers["lineage.reason"] == "mix_rule_external_only"
