"""The worker's HTTP API end to end: a small scenario published to the broker,
then every endpoint called and its answer validated against the schema the
worker serves at ``/openapi.json``; bad parameters give 400, unknown datasets 404."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import jsonschema
import pytest

from tests.events import default_run_id, ol_event
from tests.integration.conftest import Stack
from tests.integration.harness import WorkerProcess
from tests.integration.kafka_utils import produce

pytestmark = pytest.mark.integration

PG = "postgres://db:5432"
ORDERS, CUSTOMERS = (PG, "sales.orders"), (PG, "sales.customers")
STG = ("snowflake://acme", "STG.ORDERS")
S3 = ("s3://exports", "orders.parquet")
T1, T2 = "2026-03-01T10:00:00Z", "2026-03-02T10:00:00Z"
N1, N2 = (t.replace("Z", ".000000Z") for t in (T1, T2))
LOAD, EXPORT = ("etl", "load"), ("etl", "export")


def _url(path: str, **params: str | int) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def _ds(pair: tuple[str, str]) -> dict[str, str]:
    return {"namespace": pair[0], "name": pair[1]}


class Api:
    """A worker and its served OpenAPI document: every answer is checked against it."""

    def __init__(self, worker: WorkerProcess) -> None:
        self.worker = worker
        self.doc: dict[str, Any] = worker.get_json("/openapi.json")
        jsonschema.Draft202012Validator.check_schema({"$defs": self.doc["components"]["schemas"]})

    def get(self, path: str, status: int = 200, **params: str | int) -> Any:
        code, body = self.worker.http_get(_url(path, **params))
        assert code == status, (path, params, code, body[:500])
        response = self.doc["paths"][path]["get"]["responses"][str(code)]
        (media, spec), *_ = response["content"].items()
        value: Any = body.decode() if media == "text/plain" else json.loads(body)
        schema = {**spec["schema"], "components": self.doc["components"]}
        jsonschema.Draft202012Validator(schema).validate(value)
        return value


@pytest.fixture
def api(stack: Stack) -> Api:
    worker = stack.start_worker()
    produce(
        stack.bootstrap,
        stack.input_topic,
        [
            (b"k", ol_event(job=LOAD, inputs=[ORDERS, CUSTOMERS], outputs=[STG], event_time=T1)),
            (
                b"k",
                ol_event(
                    job=EXPORT,
                    inputs=[STG],
                    outputs=[S3],
                    event_time=T2,
                    dataset_types={S3: "FILE"},
                ),
            ),
        ],
    )
    worker.wait_for(lambda: worker.metric("lineage_events_accepted_total") == 2, timeout=30)
    return Api(worker)


def _edge(src: tuple[str, str], dst: tuple[str, str], job: tuple[str, str], t: str) -> Any:
    return {
        "source": _ds(src),
        "target": _ds(dst),
        "jobs": [_ds(job)],
        "firstSeen": t.replace("Z", ".000000Z"),
        "lastSeen": t.replace("Z", ".000000Z"),
        "lastRunId": default_run_id(job, t),
        "events": 1,
    }


def _node(pair: tuple[str, str], distance: int) -> dict[str, Any]:
    types = {STG: "TABLE", S3: "FILE"}
    internal = pair == STG
    ty = types.get(pair, "External Node")
    return {**_ds(pair), "type": ty, "internal": internal, "distance": distance}


def test_every_endpoint_answers_its_documented_schema(api: Api) -> None:
    assert api.get("/healthz") == {"status": "ok"}
    assert api.get("/readyz")["status"] == "ready"
    assert "lineage_events_accepted_total" in api.get("/metrics")
    snapshot = api.get("/api/v1/graph/snapshot")
    assert len(snapshot["nodes"]) == 4
    assert len(snapshot["edges"]) == 3
    assert api.get("/api/v1/graph/snapshot", hash=1)["edges"] == 3

    up = api.get("/api/v1/graph/upstream", namespace=S3[0], name=S3[1])
    assert up["root"] == _node(S3, 0)
    assert up["nodes"] == [_node(S3, 0), _node(STG, 1), _node(CUSTOMERS, 2), _node(ORDERS, 2)]
    assert up["edges"] == [
        _edge(CUSTOMERS, STG, LOAD, T1),
        _edge(ORDERS, STG, LOAD, T1),
        _edge(STG, S3, EXPORT, T2),
    ]
    assert (up["direction"], up["depth"], up["truncated"]) == ("upstream", 20, False)

    one = api.get("/api/v1/graph/upstream", namespace=S3[0], name=S3[1], depth=1)
    assert [n["name"] for n in one["nodes"]] == ["orders.parquet", "STG.ORDERS"]
    cut = api.get("/api/v1/graph/upstream", namespace=S3[0], name=S3[1], limit=3)
    assert cut["truncated"] is True
    assert cut["nodes"] == [_node(S3, 0), _node(STG, 1), _node(CUSTOMERS, 2)]

    down = api.get("/api/v1/graph/downstream", namespace=PG, name="sales.orders")
    assert down["nodes"] == [_node(ORDERS, 0), _node(STG, 1), _node(S3, 2)]
    assert down["edges"] == [_edge(ORDERS, STG, LOAD, T1), _edge(STG, S3, EXPORT, T2)]

    impact = api.get("/api/v1/graph/impact", namespace=PG, name="sales.orders", depth=5)
    assert impact["nodes"] == [_node(STG, 1), _node(S3, 2)]
    assert impact["root"] == _node(ORDERS, 0)

    path = api.get(
        "/api/v1/graph/path",
        sourceNamespace=PG,
        sourceName="sales.orders",
        targetNamespace=S3[0],
        targetName=S3[1],
    )
    assert path["distance"] == 2
    assert path["paths"] == [[_edge(ORDERS, STG, LOAD, T1), _edge(STG, S3, EXPORT, T2)]]
    none = api.get(
        "/api/v1/graph/path",
        sourceNamespace=S3[0],
        sourceName=S3[1],
        targetNamespace=PG,
        targetName="sales.orders",
    )
    assert (none["distance"], none["paths"], none["truncated"]) == (None, [], False)

    found = api.get("/api/v1/datasets", q="oRdErS")
    assert found["total"] == 3
    assert [d["name"] for d in found["datasets"]] == [
        "sales.orders",
        "orders.parquet",
        "STG.ORDERS",
    ]
    assert found["datasets"][1] == {**_ds(S3), "type": "FILE", "internal": False}
    page = api.get("/api/v1/datasets", q="sales", offset=1, limit=1)
    assert page == {
        "datasets": [{**_ds(ORDERS), "type": "External Node", "internal": False}],
        "total": 2,
        "offset": 1,
        "limit": 1,
    }
    assert api.get("/api/v1/datasets")["total"] == 4
    assert api.get("/api/v1/datasets", q="nothing-like-it")["datasets"] == []

    doc = api.get("/openapi.json")
    assert doc["openapi"] == "3.1.0"


def test_marquez_lineage_matches_a_hand_written_answer(api: Api) -> None:
    status, _ = api.worker.http_get(_url("/api/v1/lineage", nodeId=f"dataset:{PG}:sales.orders"))
    assert status == 200
    graph = api.get("/api/v1/lineage", nodeId=f"dataset:{PG}:sales.orders", depth=20)["graph"]

    orders = "dataset:postgres://db:5432:sales.orders"
    stg = "dataset:snowflake://acme:STG.ORDERS"
    s3 = "dataset:s3://exports:orders.parquet"
    load, export = "job:etl:load", "job:etl:export"

    def link(a: str, b: str) -> dict[str, str]:
        return {"origin": a, "destination": b}

    def dataset(pair: tuple[str, str], ty: str) -> dict[str, Any]:
        return {
            "id": _ds(pair),
            "type": ty,
            "name": pair[1],
            "physicalName": pair[1],
            "createdAt": None,
            "updatedAt": None,
            "namespace": pair[0],
            "sourceName": None,
            "fields": [],
            "tags": [],
            "lastModifiedAt": None,
            "description": None,
            "facets": {},
        }

    def job(pair: tuple[str, str], inputs: list[Any], outputs: list[Any]) -> dict[str, Any]:
        return {
            "id": _ds(pair),
            "type": None,
            "name": pair[1],
            "simpleName": pair[1],
            "parentJobName": None,
            "createdAt": None,
            "updatedAt": None,
            "namespace": pair[0],
            "inputs": inputs,
            "outputs": outputs,
            "location": None,
            "description": None,
            "latestRun": None,
            "tags": [],
            "facets": {},
        }

    # Downstream only (the root has no upstream): sales.customers, upstream
    # of STG.ORDERS but not of the root, is not part of the answer.
    assert graph == [
        {
            "id": orders,
            "type": "DATASET",
            "data": dataset(ORDERS, "External Node"),
            "inEdges": [],
            "outEdges": [link(orders, load)],
        },
        {
            "id": s3,
            "type": "DATASET",
            "data": dataset(S3, "FILE"),
            "inEdges": [link(export, s3)],
            "outEdges": [],
        },
        {
            "id": stg,
            "type": "DATASET",
            "data": dataset(STG, "TABLE"),
            "inEdges": [link(load, stg)],
            "outEdges": [link(stg, export)],
        },
        {
            "id": export,
            "type": "JOB",
            "data": job(EXPORT, [_ds(STG)], [_ds(S3)]),
            "inEdges": [link(stg, export)],
            "outEdges": [link(export, s3)],
        },
        {
            "id": load,
            "type": "JOB",
            "data": job(LOAD, [_ds(ORDERS)], [_ds(STG)]),
            "inEdges": [link(orders, load)],
            "outEdges": [link(load, stg)],
        },
    ]
    # Centred on the job etl.load: its inputs and output, what is upstream of
    # the inputs (nothing) and downstream of the output (the export).
    customers = "dataset:postgres://db:5432:sales.customers"
    by_job = api.get("/api/v1/lineage", nodeId=load, depth=20)["graph"]
    assert by_job == [
        {
            "id": customers,
            "type": "DATASET",
            "data": dataset(CUSTOMERS, "External Node"),
            "inEdges": [],
            "outEdges": [link(customers, load)],
        },
        {**graph[0]},  # sales.orders, as above
        graph[1],  # orders.parquet
        {
            "id": stg,
            "type": "DATASET",
            "data": dataset(STG, "TABLE"),
            "inEdges": [link(load, stg)],
            "outEdges": [link(stg, export)],
        },
        graph[3],  # the export job
        {
            "id": load,
            "type": "JOB",
            "data": job(LOAD, [_ds(CUSTOMERS), _ds(ORDERS)], [_ds(STG)]),
            "inEdges": [link(customers, load), link(orders, load)],
            "outEdges": [link(load, stg)],
        },
    ]
    # Around STG.ORDERS at depth 1: both loads' inputs and the export's output.
    around = api.get("/api/v1/lineage", nodeId=stg, depth=1)["graph"]
    assert [n["id"] for n in around] == [
        "dataset:postgres://db:5432:sales.customers",
        orders,
        s3,
        stg,
        export,
        load,
    ]


BAD_PARAMETERS: list[tuple[str, dict[str, str], str]] = [
    ("/api/v1/graph/upstream", {"namespace": PG}, "name"),
    ("/api/v1/graph/upstream", {"name": "sales.orders"}, "namespace"),
    ("/api/v1/graph/downstream", {"namespace": PG, "name": ""}, "name"),
    (
        "/api/v1/graph/downstream",
        {"namespace": PG, "name": "sales.orders", "depth": "abc"},
        "depth",
    ),
    ("/api/v1/graph/impact", {"namespace": PG, "name": "sales.orders", "depth": "0"}, "depth"),
    (
        "/api/v1/graph/upstream",
        {"namespace": PG, "name": "sales.orders", "depth": "21"},
        "depth",
    ),
    (
        "/api/v1/graph/upstream",
        {"namespace": PG, "name": "sales.orders", "depth": "1.5"},
        "depth",
    ),
    (
        "/api/v1/graph/upstream",
        {"namespace": PG, "name": "sales.orders", "limit": "0"},
        "limit",
    ),
    (
        "/api/v1/graph/path",
        {"sourceNamespace": PG, "sourceName": "sales.orders"},
        "targetNamespace",
    ),
    ("/api/v1/datasets", {"limit": "1001"}, "limit"),
    ("/api/v1/datasets", {"offset": "-1"}, "offset"),
    ("/api/v1/lineage", {}, "nodeId"),
    ("/api/v1/lineage", {"nodeId": "table:x:y"}, "nodeId"),
    ("/api/v1/lineage", {"nodeId": f"dataset:{PG}:sales.orders", "depth": "x"}, "depth"),
]

UNKNOWN: list[tuple[str, dict[str, str]]] = [
    ("/api/v1/graph/upstream", {"namespace": PG, "name": "no.such"}),
    ("/api/v1/graph/downstream", {"namespace": "nowhere", "name": "sales.orders"}),
    ("/api/v1/graph/impact", {"namespace": PG, "name": "no.such"}),
    (
        "/api/v1/graph/path",
        {
            "sourceNamespace": PG,
            "sourceName": "sales.orders",
            "targetNamespace": PG,
            "targetName": "no.such",
        },
    ),
    ("/api/v1/lineage", {"nodeId": f"dataset:{PG}:no.such"}),
    ("/api/v1/lineage", {"nodeId": "job:etl:no.such"}),
]


def test_bad_parameters_are_400_and_unknown_datasets_404(api: Api) -> None:
    for path, params, parameter in BAD_PARAMETERS:
        body = api.get(path, 400, **params)
        assert body["parameter"] == parameter, (path, params, body)
        assert body["error"]
    for path, params in UNKNOWN:
        body = api.get(path, 404, **params)
        assert "not found" in body["error"], (path, params, body)


def test_redis_unavailable_is_503(stack: Stack) -> None:
    api = Api(stack.start_worker(LINEAGE_REDIS_TIMEOUT_SECONDS="1"))
    stack.redis.pause()
    try:
        for path, params in [
            ("/api/v1/graph/upstream", {"namespace": PG, "name": "sales.orders"}),
            ("/api/v1/graph/path", UNKNOWN[3][1]),
            ("/api/v1/datasets", {"q": "x"}),
            ("/api/v1/lineage", {"nodeId": f"dataset:{PG}:sales.orders"}),
        ]:
            assert "unavailable" in api.get(path, 503, **params)["error"]
    finally:
        stack.redis.resume()
    assert api.get("/api/v1/graph/upstream", 404, namespace=PG, name="sales.orders")
