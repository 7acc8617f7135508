"""Events with column lineage, made with the openlineage-python client's
``ColumnLineageDatasetFacet`` (its generated classes), plus raw variants.

Deterministic: the same arguments give the same bytes (a redelivery).
Columns are ``(namespace, name, field)`` triples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openlineage.client import event_v2
from openlineage.client.generated import column_lineage_dataset as cl
from openlineage.client.serde import Serde

from tests.events import default_run_id

Pair = tuple[str, str]
Column = tuple[str, str, str]
# an input column and its transformations: (type, subtype, masking) triples
Input = tuple[Column, Sequence[tuple[str, str | None, bool | None]]]

EXT = ("postgres://db", "public.orders")
INT = ("snowflake://acme", "RAW.ORDERS")
EXT2 = ("s3://lake", "events/orders")
INT2 = ("snowflake://acme", "MART.ORDERS")


def input_field(column: Column, transformations: Sequence[Any] = ()) -> cl.InputField:
    return cl.InputField(
        namespace=column[0],
        name=column[1],
        field=column[2],
        transformations=[
            cl.Transformation(type=t, subtype=s, masking=m) for t, s, m in transformations
        ],
    )


def column_facet(
    fields: Mapping[str, Sequence[Input]],
    dataset: Sequence[Input] = (),
    legacy: Mapping[str, str] | None = None,
) -> cl.ColumnLineageDatasetFacet:
    """``fields``: output field -> its inputs; ``dataset``: whole-dataset inputs;
    ``legacy``: output field -> deprecated ``transformationType``."""
    return cl.ColumnLineageDatasetFacet(
        fields={
            f: cl.Fields(
                inputFields=[input_field(c, ts) for c, ts in inputs],
                transformationType=(legacy or {}).get(f),
            )
            for f, inputs in fields.items()
        },
        dataset=[input_field(c, ts) for c, ts in dataset],
    )


def column_event(
    outputs: Mapping[Pair, cl.ColumnLineageDatasetFacet | None],
    inputs: Sequence[Pair] = (EXT,),
    job: Pair = ("spark", "orders_job"),
    event_time: str = "2026-03-01T10:00:00Z",
) -> bytes:
    """A COMPLETE RunEvent whose outputs carry the given column facets."""
    event = event_v2.RunEvent(
        eventType=event_v2.RunState.COMPLETE,
        eventTime=event_time,
        run=event_v2.Run(runId=default_run_id(job, event_time)),
        job=event_v2.Job(namespace=job[0], name=job[1]),
        inputs=[event_v2.InputDataset(namespace=ns, name=nm) for ns, nm in inputs],
        outputs=[
            event_v2.OutputDataset(
                namespace=ns, name=nm, facets={"columnLineage": facet} if facet else {}
            )
            for (ns, nm), facet in outputs.items()
        ],
    )
    return Serde.to_json(event).encode()


DIRECT_IDENTITY = ("DIRECT", "IDENTITY", False)
DIRECT_TRANSFORMATION = ("DIRECT", "TRANSFORMATION", False)
DIRECT_AGGREGATION = ("DIRECT", "AGGREGATION", False)
INDIRECT_JOIN = ("INDIRECT", "JOIN", False)
INDIRECT_FILTER = ("INDIRECT", "FILTER", False)
DIRECT_MASKED = ("DIRECT", "TRANSFORMATION", True)


def spark_facet(
    source: Pair, n_fields: int, n_inputs: int, prefix: str = "c"
) -> cl.ColumnLineageDatasetFacet:
    """Spark-shaped: each output field from one DIRECT input and ``n_inputs``
    INDIRECT ones (join keys, filters), as Spark's planner reports them."""
    fields = {}
    for i in range(n_fields):
        inputs: list[Input] = [((*source, f"{prefix}{i}"), [DIRECT_IDENTITY])]
        inputs += [((*source, f"k{j}"), [INDIRECT_JOIN]) for j in range(n_inputs)]
        fields[f"{prefix}{i}"] = inputs
    return column_facet(fields)
