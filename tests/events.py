"""Test events, made with the real openlineage-python client.

Shared by the unit, property and integration tests; everything here is pure and
deterministic (same arguments, same bytes), so calling a builder twice gives a
redelivery of one event.

- :func:`ol_event` — a RunEvent exactly as the client's Kafka transport
  serialises it (``Serde.to_json(event).encode()``): the realistic message value.
- :func:`ol_dataset_event`, :func:`ol_job_event` — static DatasetEvent / JobEvent.
- :func:`raw_event` / :func:`raw_dict` — a plain-dict RunEvent for malformed
  variants the client refuses to build (bad eventType, space-separated times,
  no runId, NUL in names...). Keyword arguments replace top-level fields;
  :data:`OMIT` removes one.
- :func:`dataset` — a dataset dict for :func:`raw_event`'s ``inputs``/``outputs``.
- :func:`dumps` — UTF-8 JSON bytes of any object (non-ASCII kept as is).

Datasets and jobs are ``(namespace, name)`` pairs throughout.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from openlineage.client import event_v2
from openlineage.client.generated.dataset_type_dataset import DatasetTypeDatasetFacet
from openlineage.client.serde import Serde

__all__ = [
    "BASE_EVENT",
    "OMIT",
    "RUN_ID",
    "dataset",
    "default_run_id",
    "dumps",
    "ol_dataset_event",
    "ol_event",
    "ol_job_event",
    "raw_dict",
    "raw_event",
]

Pair = tuple[str, str]

RUN_ID = "3f5e2b1c-0d4e-4c8a-9b7f-1a2b3c4d5e6f"
"""The runId of :data:`BASE_EVENT`."""

BASE_EVENT: dict[str, Any] = {
    "eventType": "COMPLETE",
    "eventTime": "2026-03-01T10:00:00Z",
    "run": {"runId": RUN_ID},
    "job": {"namespace": "dbt", "name": "orders"},
    "inputs": [{"namespace": "postgres://db", "name": "public.orders"}],
    "outputs": [{"namespace": "snowflake://acme", "name": "RAW.ORDERS"}],
    "producer": "https://example.com/lineage-processor/tests",
    "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
}
"""A valid COMPLETE RunEvent crossing external -> internal (default rule)."""


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


OMIT: Any = _Omit()
"""Pass as a field value to :func:`raw_event` to remove that field."""


def default_run_id(job: Pair, event_time: str) -> str:
    """The runId :func:`ol_event` uses when none is given: a UUIDv5 of job and time."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{job[0]}\n{job[1]}\n{event_time}"))


def _facets(ds: Pair, dataset_types: Mapping[Pair, str] | None) -> dict[str, Any]:
    if dataset_types and ds in dataset_types:
        return {"datasetType": DatasetTypeDatasetFacet(datasetType=dataset_types[ds])}
    return {}


def ol_event(
    event_type: str = "COMPLETE",
    job: Pair = ("dbt", "orders"),
    inputs: Sequence[Pair] = (("postgres://db", "public.orders"),),
    outputs: Sequence[Pair] = (("snowflake://acme", "RAW.ORDERS"),),
    event_time: str = "2026-03-01T10:00:00Z",
    run_id: str | None = None,
    dataset_types: Mapping[Pair, str] | None = None,
) -> bytes:
    """A RunEvent serialised by the openlineage-python client.

    ``event_type`` is a ``RunState`` name (START, RUNNING, COMPLETE, ABORT, FAIL,
    OTHER). ``run_id`` defaults to :func:`default_run_id` (deterministic).
    ``dataset_types`` maps datasets to a ``datasetType`` dataset facet
    (``DatasetTypeDatasetFacet``), on every mention of that dataset.
    """
    event = event_v2.RunEvent(
        eventType=event_v2.RunState(event_type),
        eventTime=event_time,
        run=event_v2.Run(runId=run_id or default_run_id(job, event_time)),
        job=event_v2.Job(namespace=job[0], name=job[1]),
        inputs=[
            event_v2.InputDataset(namespace=ns, name=nm, facets=_facets((ns, nm), dataset_types))
            for ns, nm in inputs
        ],
        outputs=[
            event_v2.OutputDataset(namespace=ns, name=nm, facets=_facets((ns, nm), dataset_types))
            for ns, nm in outputs
        ],
    )
    return Serde.to_json(event).encode()


def ol_dataset_event(
    dataset: Pair = ("snowflake://acme", "RAW.ORDERS"),
    event_time: str = "2026-03-01T10:00:00Z",
) -> bytes:
    """A static DatasetEvent (OpenLineage 2.x) serialised by the client."""
    event = event_v2.DatasetEvent(
        eventTime=event_time,
        dataset=event_v2.StaticDataset(namespace=dataset[0], name=dataset[1]),
    )
    return Serde.to_json(event).encode()


def ol_job_event(
    job: Pair = ("dbt", "orders"),
    inputs: Sequence[Pair] = (("postgres://db", "public.orders"),),
    outputs: Sequence[Pair] = (("snowflake://acme", "RAW.ORDERS"),),
    event_time: str = "2026-03-01T10:00:00Z",
) -> bytes:
    """A static JobEvent (OpenLineage 2.x) serialised by the client."""
    event = event_v2.JobEvent(
        eventTime=event_time,
        job=event_v2.Job(namespace=job[0], name=job[1]),
        inputs=[event_v2.InputDataset(namespace=ns, name=nm) for ns, nm in inputs],
        outputs=[event_v2.OutputDataset(namespace=ns, name=nm) for ns, nm in outputs],
    )
    return Serde.to_json(event).encode()


def dataset(namespace: str, name: str, dataset_type: Any = OMIT, **extra: Any) -> dict[str, Any]:
    """A dataset dict; ``dataset_type`` becomes ``facets.datasetType.datasetType``
    (any JSON value, to test non-string types); ``extra`` adds fields verbatim."""
    out: dict[str, Any] = {"namespace": namespace, "name": name}
    if dataset_type is not OMIT:
        out["facets"] = {"datasetType": {"datasetType": dataset_type}}
    out.update(extra)
    return out


def raw_dict(**fields: Any) -> dict[str, Any]:
    """:data:`BASE_EVENT` (a deep copy) with top-level ``fields`` replaced or,
    given :data:`OMIT`, removed. Pair-valued ``job`` is accepted as a shorthand."""
    out = copy.deepcopy(BASE_EVENT)
    for key, value in fields.items():
        if value is OMIT:
            out.pop(key, None)
        elif key == "job" and isinstance(value, tuple):
            out[key] = {"namespace": value[0], "name": value[1]}
        else:
            out[key] = value
    return out


def raw_event(**fields: Any) -> bytes:
    """:func:`raw_dict` as message bytes (see :func:`dumps`)."""
    return dumps(raw_dict(**fields))


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON, non-ASCII kept as is (ASCII escapes only when a lone
    surrogate makes that impossible)."""
    try:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj, separators=(",", ":")).encode("ascii")
