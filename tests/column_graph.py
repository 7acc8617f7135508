"""A small column lineage estate and its expected answers, written by hand
from docs/design.md section 5a and Marquez's column-lineage shape: shared by
the pure query tests and the worker (real broker and Redis) tests.

  postgres://db/public.orders (external)
      id     --DIRECT/IDENTITY-->        snowflake://acme/RAW.ORDERS.id
      amount --DIRECT/AGGREGATION-->     snowflake://acme/RAW.ORDERS.total
      status --INDIRECT/FILTER-->        snowflake://acme/RAW.ORDERS.total
      region --INDIRECT/GROUP_BY-->      snowflake://acme/RAW.ORDERS (whole dataset)
  snowflake://acme/RAW.ORDERS (internal)
      id     --DIRECT/IDENTITY-->        s3://lake/exports/orders.order_id
      total  --DIRECT/TRANSFORMATION, masking--> s3://lake/exports/orders.total_masked
"""

from __future__ import annotations

from typing import Any

from tests.column_events import column_event, column_facet

E1 = ("postgres://db", "public.orders")
I1 = ("snowflake://acme", "RAW.ORDERS")
E2 = ("s3://lake", "exports/orders")

T1 = "2026-03-01T10:00:00Z"
T2 = "2026-03-01T11:00:00Z"

LOAD = column_event(
    {
        I1: column_facet(
            {
                "id": [((*E1, "id"), [("DIRECT", "IDENTITY", False)])],
                "total": [
                    ((*E1, "amount"), [("DIRECT", "AGGREGATION", False)]),
                    ((*E1, "status"), [("INDIRECT", "FILTER", False)]),
                ],
            },
            dataset=[((*E1, "region"), [("INDIRECT", "GROUP_BY", False)])],
        )
    },
    inputs=[E1],
    job=("spark", "load"),
    event_time=T1,
)
EXPORT = column_event(
    {
        E2: column_facet(
            {
                "order_id": [((*I1, "id"), [("DIRECT", "IDENTITY", False)])],
                "total_masked": [((*I1, "total"), [("DIRECT", "TRANSFORMATION", True)])],
            }
        )
    },
    inputs=[I1],
    job=("spark", "export"),
    event_time=T2,
)
EVENTS = [LOAD, EXPORT]


def fid(ds: tuple[str, str], field: str) -> str:
    return f"datasetField:{ds[0]}:{ds[1]}:{field}"


def _input(ds: tuple[str, str], field: str, legacy: str | None, *t: tuple[str, str, bool]) -> Any:
    return {
        "namespace": ds[0],
        "dataset": ds[1],
        "datasetVersion": None,
        "field": field,
        "transformationDescription": None,
        "transformationType": legacy,
        "transformations": [{"type": a, "subtype": b, "masking": c} for a, b, c in t],
    }


def _node(
    ds: tuple[str, str], field: str, inputs: list[Any], ins: list[str], outs: list[str]
) -> Any:
    me = fid(ds, field)
    return {
        "id": me,
        "type": "DATASET_FIELD",
        "data": {
            "type": "DATASET_FIELD",
            "namespace": ds[0],
            "dataset": ds[1],
            "datasetVersion": None,
            "field": field,
            "fieldType": None,
            "transformationDescription": None,
            "transformationType": None,
            "inputFields": inputs,
        },
        # Marquez's links: inEdges from the node to each input, outEdges from
        # the node to each output
        "inEdges": [{"origin": me, "destination": i} for i in ins],
        "outEdges": [{"origin": me, "destination": o} for o in outs],
    }


# GET /api/v1/column-lineage?nodeId=datasetField:s3://lake:exports/orders:total_masked&depth=2
MARQUEZ_TOTAL_MASKED_DEPTH_2 = {
    "graph": [
        _node(E1, "amount", [], [], [fid(I1, "total")]),
        _node(E1, "status", [], [], [fid(I1, "total")]),
        _node(
            E2,
            "total_masked",
            [_input(I1, "total", "MASKED", ("DIRECT", "TRANSFORMATION", True))],
            [fid(I1, "total")],
            [],
        ),
        _node(
            I1,
            "total",
            [
                _input(E1, "amount", None, ("DIRECT", "AGGREGATION", False)),
                _input(E1, "status", None, ("INDIRECT", "FILTER", False)),
            ],
            [fid(E1, "amount"), fid(E1, "status")],
            [fid(E2, "total_masked")],
        ),
    ]
}

# ...&withDownstream=true from RAW.ORDERS.id, depth 1: its input and its output
MARQUEZ_ID_BOTH_DEPTH_1 = {
    "graph": [
        _node(E1, "id", [], [], [fid(I1, "id")]),
        _node(
            E2,
            "order_id",
            [_input(I1, "id", "IDENTITY", ("DIRECT", "IDENTITY", False))],
            [fid(I1, "id")],
            [],
        ),
        _node(
            I1,
            "id",
            [_input(E1, "id", "IDENTITY", ("DIRECT", "IDENTITY", False))],
            [fid(E1, "id")],
            [fid(E2, "order_id")],
        ),
    ]
}
