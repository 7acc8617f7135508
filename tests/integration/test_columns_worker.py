"""Column lineage through a real worker (real broker and Redis): events made
with the openlineage-python client's ColumnLineageDatasetFacet; the column
snapshot equals the pure fold's; the Marquez column-lineage answer equals a
hand-written graph; malformed pieces, the mix rule and the cap give the
dropped metric; a delete hides column edges; the CLI reads them too."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any
from urllib.parse import urlencode

import jsonschema
import pytest

from processor.cli.graph import delete_message
from processor.core.control import DeleteRequest, parse_control
from processor.core.pipeline import Limits
from processor.core.snapshot import snapshot_hash
from tests.column_events import column_event, column_facet, spark_facet
from tests.column_graph import (
    E1,
    E2,
    EVENTS,
    I1,
    MARQUEZ_ID_BOTH_DEPTH_1,
    MARQUEZ_TOTAL_MASKED_DEPTH_2,
)
from tests.events import raw_event
from tests.integration.conftest import Stack, expected_graph
from tests.integration.kafka_utils import produce

pytestmark = pytest.mark.integration

I2 = ("snowflake://acme", "MART.ORDERS")
CAP = 5

# internal -> internal pairs under "mixed": 2 column edges dropped as same_side,
# and one external -> internal edge kept
SAME_SIDE = column_event(
    {
        I2: column_facet(
            {
                "a": [((*I1, "id"), [("DIRECT", "IDENTITY", False)])],
                "b": [((*I1, "total"), [])],
                "c": [((*E1, "id"), [("DIRECT", "IDENTITY", False)])],
            }
        )
    },
    inputs=[E1],
    job=("dbt", "mart"),
    event_time="2026-03-01T12:00:00Z",
)
# 3 fields x (1 DIRECT + 2 INDIRECT) = 9 column edges, over the cap of 5
TOO_MANY = column_event(
    {I2: spark_facet(E1, 3, 2, prefix="s")},
    inputs=[E1],
    job=("spark", "wide"),
    event_time="2026-03-01T13:00:00Z",
)
# the facet's pieces of every wrong shape: 3 skipped, 1 kept
MALFORMED = raw_event(
    eventTime="2026-03-01T14:00:00Z",
    inputs=[{"namespace": E1[0], "name": E1[1]}],
    outputs=[
        {
            "namespace": I2[0],
            "name": I2[1],
            "facets": {
                "columnLineage": {
                    "fields": {
                        "ok": {"inputFields": [{"namespace": E1[0], "name": E1[1], "field": "x"}]},
                        "bad": {"inputFields": "nope"},
                        "worse": {"inputFields": [{"namespace": E1[0], "name": "", "field": "y"}]},
                    },
                    "dataset": [7],
                }
            },
        }
    ],
)
ALL = [*EVENTS, SAME_SIDE, TOO_MANY, MALFORMED]


def _get(worker: Any, path: str, doc: dict[str, Any], **params: Any) -> Any:
    url = path + ("?" + urlencode(params) if params else "")
    code, body = worker.http_get(url)
    assert code == 200, (url, body[:300])
    value = json.loads(body)
    spec = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    jsonschema.Draft202012Validator({**spec, "components": doc["components"]}).validate(value)
    return value


def _cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "processor", *args],
        env=stack.env(LINEAGE_MAX_COLUMN_EDGES_PER_EVENT=str(CAP)),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_column_lineage_end_to_end(stack: Stack) -> None:
    worker = stack.start_worker(LINEAGE_MAX_COLUMN_EDGES_PER_EVENT=str(CAP))
    produce(stack.bootstrap, stack.input_topic, [(b"k", v) for v in ALL])
    worker.wait_for(lambda: worker.metric("lineage_events_accepted_total") == len(ALL), timeout=30)
    doc = worker.get_json("/openapi.json")

    want = expected_graph(ALL, limits=Limits(max_column_edges_per_event=CAP)).column_snapshot()
    got = _get(worker, "/api/v1/graph/column-snapshot", doc)
    assert got == want
    # LOAD 4 + EXPORT 2 + SAME_SIDE 1 + MALFORMED 1; TOO_MANY folds none
    assert len(got["columnEdges"]) == 8
    hashed = _get(worker, "/api/v1/graph/column-snapshot", doc, hash=1)
    assert hashed["sha256"] == snapshot_hash(want)
    assert hashed["columnEdges"] == 8

    assert worker.metric("lineage_column_edges_folded_total") == 8
    assert worker.metric("lineage_column_lineage_dropped_total", reason="too_many") == 9
    assert worker.metric("lineage_column_lineage_dropped_total", reason="same_side") == 2
    assert worker.metric("lineage_column_lineage_dropped_total", reason="malformed") == 3
    worker.wait_for(lambda: worker.metric("lineage_graph_column_edges") == 8, timeout=10)
    worker.wait_for(
        lambda: worker.get_json("/api/v1/status")["graph"]["columnEdges"] == 8, timeout=10
    )
    # the dataset edges of the capped event are kept
    edges = worker.get_json("/api/v1/graph/snapshot")["edges"]
    assert any(e["target"]["name"] == I2[1] and "wide" in str(e["jobs"]) for e in edges)

    total_masked = f"datasetField:{E2[0]}:{E2[1]}:total_masked"
    marquez = _get(worker, "/api/v1/column-lineage", doc, nodeId=total_masked, depth=2)
    assert marquez == MARQUEZ_TOTAL_MASKED_DEPTH_2
    both = _get(
        worker,
        "/api/v1/column-lineage",
        doc,
        nodeId=f"datasetField:{I1[0]}:{I1[1]}:id",
        depth=1,
        withDownstream="true",
    )
    assert both == MARQUEZ_ID_BOTH_DEPTH_1

    up = _get(
        worker,
        "/api/v1/graph/columns/upstream",
        doc,
        namespace=E2[0],
        name=E2[1],
        field="total_masked",
        depth=5,
    )
    assert [(c["name"], c["field"], c["distance"]) for c in up["columns"]] == [
        (E2[1], "total_masked", 0),
        (I1[1], "total", 1),
        (E1[1], "amount", 2),
        (E1[1], "status", 2),
    ]
    code, _ = worker.http_get("/api/v1/graph/columns/upstream?namespace=x&name=y")
    assert code == 404
    code, _ = worker.http_get("/api/v1/column-lineage?nodeId=job:a:b")
    assert code == 400

    out = _cli(stack, "snapshot", "--columns", "--hash")
    assert out.stdout.strip() == snapshot_hash(want), out.stderr
    out = _cli(stack, "lineage", "columns", "upstream", *E2, "total_masked", "--depth", "5")
    assert out.returncode == 0, out.stderr
    assert "<- snowflake://acme/RAW.ORDERS.total  [DIRECT/TRANSFORMATION masked;" in out.stdout
    out = _cli(stack, "lineage", "columns", "downstream", *E1, "--format", "json")
    assert json.loads(out.stdout)["direction"] == "downstream"

    # Every edge into RAW.ORDERS, as of noon: its column edges go too.
    delete = json.dumps(delete_message(None, I1, "2026-03-01T12:00:00Z")).encode()
    produce(stack.bootstrap, stack.control_topic, [(None, delete)])
    worker.wait_for(lambda: worker.metric("lineage_deletes_applied_total") == 1, timeout=30)
    left = _get(worker, "/api/v1/graph/column-snapshot", doc)["columnEdges"]
    assert {e["target"]["name"] for e in left} == {E2[1], I2[1]}
    assert len(left) == 8 - 4

    # A rebuild from the log folds the same column edges: --verify compares both hashes.
    graph = expected_graph(ALL, limits=Limits(max_column_edges_per_event=CAP))
    request = parse_control(delete)
    assert isinstance(request, DeleteRequest)
    graph.delete(request)
    want_columns = snapshot_hash(graph.column_snapshot())
    assert snapshot_hash({"columnEdges": left}) == want_columns
    verify = _cli(stack, "rebuild", "--verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert f"columns, current:      {want_columns}" in verify.stdout
    assert f"columns, rebuilt:      {want_columns}" in verify.stdout
