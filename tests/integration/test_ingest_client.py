"""The openlineage-python client's HTTP transports, pointed at the gateway, put on
the input topic exactly what its Kafka transport would, and the worker folds it.

Every event is made by the client; the Kafka transport's (key, value) of each
comes from ``processor.samples.client.Client``, which runs the client's own
``KafkaTransport.emit`` into a list.
"""

from __future__ import annotations

from typing import Any

import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import parent_run
from openlineage.client.transport.async_http import AsyncHttpConfig, AsyncHttpTransport
from openlineage.client.transport.http import (
    ApiKeyTokenProvider,
    HttpCompression,
    HttpConfig,
    HttpTransport,
)

from processor.samples.client import Client
from tests.integration.conftest import Stack, expected_hash
from tests.integration.ingest_harness import TOKENS, start_gateway
from tests.integration.kafka_utils import read_topic

PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python"


def _events(tag: str) -> list[RunEvent]:
    """A START and a COMPLETE of one run, a parented run, and an external-only one."""
    pg = InputDataset(namespace="postgres://db:5432", name=f"public.orders_{tag}")
    stg = OutputDataset(namespace="snowflake://acme", name=f"RAW.STG_{tag}")
    s3 = OutputDataset(namespace="s3://exports", name=f"orders_{tag}.parquet")
    parent = parent_run.ParentRunFacet(
        run=parent_run.Run(runId="01930000-0000-7000-8000-0000000000ff"),
        job=parent_run.Job(namespace="airflow", name=f"dag_{tag}"),
    )
    run_id = "01930000-0000-7000-8000-0000000000a1"
    return [
        RunEvent(
            eventType=RunState.START,
            eventTime="2026-03-01T09:59:00Z",
            run=Run(runId=run_id),
            job=Job(namespace="dbt", name=f"stg_{tag}"),
            producer=PRODUCER,
            inputs=[pg],
            outputs=[stg],
        ),
        RunEvent(
            eventType=RunState.COMPLETE,
            eventTime="2026-03-01T10:00:00Z",
            run=Run(runId=run_id),
            job=Job(namespace="dbt", name=f"stg_{tag}"),
            producer=PRODUCER,
            inputs=[pg],
            outputs=[stg],
        ),
        RunEvent(
            eventType=RunState.COMPLETE,
            eventTime="2026-03-01T11:00:00Z",
            run=Run(runId="01930000-0000-7000-8000-0000000000a2", facets={"parent": parent}),
            job=Job(namespace="airflow", name=f"dag_{tag}.export"),
            producer=PRODUCER,
            inputs=[InputDataset(namespace="snowflake://acme", name=f"RAW.STG_{tag}")],
            outputs=[s3],
        ),
        RunEvent(
            eventType=RunState.COMPLETE,
            eventTime="2026-03-01T12:00:00Z",
            run=Run(runId="01930000-0000-7000-8000-0000000000a3"),
            job=Job(namespace="spark", name=f"copy_{tag}"),
            producer=PRODUCER,
            inputs=[InputDataset(namespace="s3://exports", name=f"orders_{tag}.parquet")],
            outputs=[OutputDataset(namespace="postgres://db:5432", name=f"public.copy_{tag}")],
        ),
    ]


def _kafka_records(events: list[RunEvent]) -> list[tuple[bytes, bytes]]:
    client = Client()
    return [client.emit(event) for event in events]


def _check(stack: Stack, worker: Any, events: list[RunEvent]) -> None:
    expected = _kafka_records(events)
    records = read_topic(stack.bootstrap, stack.input_topic, expect=len(expected))
    # Keys as the Kafka transport makes them (the parented run's is its parent
    # job's), values byte for byte.
    assert sorted((r.key, r.value) for r in records) == sorted(expected)
    assert expected[2][0] == f"run:airflow/{events[2].job.name.split('.')[0]}".encode()
    values = [v for _, v in expected]
    worker.wait_for(
        lambda: worker.metric("lineage_events_consumed_total") >= len(values), timeout=30
    )
    digest = worker.get_json("/api/v1/graph/snapshot?hash=1")["sha256"]
    assert digest == expected_hash(values)


@pytest.mark.parametrize("compression", [None, HttpCompression.GZIP], ids=["plain", "gzip"])
def test_http_transport_with_api_key(stack: Stack, compression: HttpCompression | None) -> None:
    gateway = start_gateway(stack)
    worker = stack.start_worker()
    transport = HttpTransport(
        HttpConfig(
            url=gateway.url,
            auth=ApiKeyTokenProvider({"apiKey": TOKENS["ingest"]}),
            compression=compression,
        )
    )
    client = OpenLineageClient(transport=transport)
    events = _events("plain" if compression is None else "gzip")
    for event in events:
        client.emit(event)  # raises on any non-2xx answer
    _check(stack, worker, events)
    assert gateway.metric("lineage_ingest_events_published_total", route="/api/v1/lineage") == len(
        events
    )


def test_http_transport_from_the_snowflake_style_config(stack: Stack) -> None:
    """The transport block Snowflake's documentation has users paste, with this
    gateway's URL: the external-lineage endpoint, api_key auth, gzip."""
    gateway = start_gateway(stack)
    worker = stack.start_worker()
    config = HttpConfig.from_dict(
        {
            "type": "http",
            "url": gateway.url,
            "endpoint": "/api/v2/lineage/external-lineage",
            "auth": {"type": "api_key", "apiKey": TOKENS["ingest"]},
            "compression": "gzip",
        }
    )
    client = OpenLineageClient(transport=HttpTransport(config))
    events = _events("sf")[:3]  # the external-only one answers 404 on this path
    for event in events:
        client.emit(event)
    _check(stack, worker, events)


def test_async_http_transport(stack: Stack) -> None:
    gateway = start_gateway(stack)
    worker = stack.start_worker()
    transport = AsyncHttpTransport(
        AsyncHttpConfig(
            url=gateway.url,
            auth=ApiKeyTokenProvider({"apiKey": TOKENS["ingest"]}),
            compression=HttpCompression.GZIP,
        )
    )
    events = _events("async")
    try:
        for event in events:
            transport.emit(event)
        transport.wait_for_completion(timeout=30)
        assert transport.get_stats() == {"pending": 0, "success": len(events), "failed": 0}
    finally:
        transport.close(timeout=10)
    _check(stack, worker, events)
