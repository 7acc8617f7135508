"""The schemas of the HTTP API's answers, for the OpenAPI document (``openapi``).

The snapshot's schemas come from the pydantic models of ``core.snapshot`` so
the two cannot drift; the rest is written by hand. Schemas are JSON Schema
2020-12 (OpenAPI 3.1's dialect) with ``$ref`` into ``#/components/schemas``.
"""

from __future__ import annotations

from typing import Any

from processor.core.snapshot import Snapshot

REF = "#/components/schemas/{model}"


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _object(props: dict[str, Any], *, required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": list(props) if required is None else required,
        "additionalProperties": False,
    }


STR = {"type": "string"}
_NULLABLESTR = {"type": ["string", "null"]}
_BOOL = {"type": "boolean"}
_INT = {"type": "integer"}


def _snapshot_schemas() -> dict[str, Any]:
    schema = Snapshot.model_json_schema(ref_template=REF)
    defs: dict[str, Any] = schema.pop("$defs", {})
    return {**defs, "Snapshot": schema}


def schemas() -> dict[str, Any]:
    """``components.schemas``: every answer's schema by name."""
    dataset_ref = ref("SnapshotDataset")
    node = _object(
        {
            "namespace": STR,
            "name": STR,
            "type": STR,
            "internal": _BOOL,
            "distance": {"type": "integer", "minimum": 0},
        }
    )
    marquez_edge = _object({"origin": STR, "destination": STR})
    dataset_data = {
        "type": "object",
        "description": "Marquez's Dataset; what the processor does not track is null or empty.",
        "properties": {
            "id": dataset_ref,
            "type": STR,
            "name": STR,
            "physicalName": STR,
            "createdAt": _NULLABLESTR,
            "updatedAt": _NULLABLESTR,
            "namespace": STR,
            "sourceName": _NULLABLESTR,
            "fields": {"type": "array"},
            "tags": {"type": "array"},
            "lastModifiedAt": _NULLABLESTR,
            "description": _NULLABLESTR,
            "facets": {"type": "object"},
        },
        "required": ["id", "type", "name", "physicalName", "namespace", "fields", "tags"],
    }
    job_data = {
        "type": "object",
        "description": "Marquez's Job; inputs and outputs within this answer.",
        "properties": {
            "id": dataset_ref,
            "type": _NULLABLESTR,
            "name": STR,
            "simpleName": STR,
            "parentJobName": _NULLABLESTR,
            "createdAt": _NULLABLESTR,
            "updatedAt": _NULLABLESTR,
            "namespace": STR,
            "inputs": {"type": "array", "items": dataset_ref},
            "outputs": {"type": "array", "items": dataset_ref},
            "location": _NULLABLESTR,
            "description": _NULLABLESTR,
            "latestRun": {"type": ["object", "null"]},
            "tags": {"type": "array"},
            "facets": {"type": "object"},
        },
        "required": ["id", "name", "namespace", "inputs", "outputs"],
    }
    edge_list = {"type": "array", "items": ref("MarquezEdge")}
    return {
        **_snapshot_schemas(),
        "Error": _object({"error": STR}),
        "BadParameter": _object({"error": STR, "parameter": STR}),
        "Health": _object({"status": {"const": "ok"}}),
        "Readiness": _object(
            {
                "status": {"enum": ["ready", "not ready"]},
                "checks": {"type": "object", "additionalProperties": _BOOL},
            }
        ),
        "SnapshotHash": _object(
            {
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "nodes": _INT,
                "edges": _INT,
                "asOf": STR,
            }
        ),
        "QueryNode": node,
        "Lineage": _object(
            {
                "root": ref("QueryNode"),
                "direction": {"enum": ["upstream", "downstream"]},
                "depth": _INT,
                "nodes": {"type": "array", "items": ref("QueryNode")},
                "edges": {"type": "array", "items": ref("SnapshotEdge")},
                "truncated": _BOOL,
            }
        ),
        "Impact": _object(
            {
                "root": ref("QueryNode"),
                "depth": _INT,
                "nodes": {"type": "array", "items": ref("QueryNode")},
                "truncated": _BOOL,
            }
        ),
        "Paths": _object(
            {
                "source": dataset_ref,
                "target": dataset_ref,
                "distance": {"type": ["integer", "null"]},
                "paths": {
                    "type": "array",
                    "items": {"type": "array", "items": ref("SnapshotEdge")},
                },
                "truncated": _BOOL,
            }
        ),
        "DatasetPage": _object(
            {
                "datasets": {
                    "type": "array",
                    "items": _object(
                        {"namespace": STR, "name": STR, "type": STR, "internal": _BOOL}
                    ),
                },
                "total": _INT,
                "offset": _INT,
                "limit": _INT,
            }
        ),
        "MarquezEdge": marquez_edge,
        "MarquezNode": {
            "type": "object",
            "properties": {
                "id": STR,
                "type": {"enum": ["DATASET", "JOB"]},
                "data": {"type": "object"},
                "inEdges": edge_list,
                "outEdges": edge_list,
            },
            "required": ["id", "type", "data", "inEdges", "outEdges"],
            "additionalProperties": False,
            "oneOf": [
                {
                    "properties": {"type": {"const": "DATASET"}, "data": ref("MarquezDataset")},
                },
                {"properties": {"type": {"const": "JOB"}, "data": ref("MarquezJob")}},
            ],
        },
        "MarquezDataset": dataset_data,
        "MarquezJob": job_data,
        "MarquezLineage": _object({"graph": {"type": "array", "items": ref("MarquezNode")}}),
        "Status": _status_schema(),
        "Overview": _overview_schema(),
    }


def _overview_schema() -> dict[str, Any]:
    count = {"type": "integer", "minimum": 0}
    dataset = _object({"namespace": STR, "name": STR, "type": STR, "internal": _BOOL})
    return _object(
        {
            "types": {
                "type": "array",
                "description": "Datasets by type, most frequent first.",
                "items": _object({"type": STR, "datasets": count}),
            },
            "mostConnected": {
                "type": "array",
                "description": "The datasets with the most stored edges (in + out).",
                "items": _object(
                    {"namespace": STR, "name": STR, "type": STR, "internal": _BOOL, "edges": count}
                ),
            },
            "recentEdges": {
                "type": "array",
                "description": "The visible edges seen last, newest first.",
                "items": _object(
                    {"source": dataset, "target": dataset, "lastSeen": STR},
                ),
            },
            "datasets": count,
            "complete": {
                "type": "boolean",
                "description": "False when the graph holds more datasets or edges than one "
                "scan reads: the numbers are those of the datasets first in (namespace, name) "
                "order, the edges seen last among those read.",
            },
            "readAt": {"type": "number", "description": "Unix time of the scan (cached ~10 s)."},
        }
    )


def _status_schema() -> dict[str, Any]:
    count = {"type": "integer", "minimum": 0}
    return _object(
        {
            "time": {"type": "number", "description": "Unix time of the reading."},
            "events": _object(
                {
                    "consumed": count,
                    "accepted": count,
                    "duplicate": count,
                    "ignored": count,
                    "rejected": count,
                }
            ),
            "deadLetters": {
                "type": "object",
                "description": "Dead letters by reason code (every code, 0 included).",
                "additionalProperties": count,
            },
            "lag": _object(
                {
                    "messages": count,
                    "partitions": {
                        "type": "array",
                        "items": _object({"topic": STR, "partition": count, "messages": count}),
                    },
                }
            ),
            "generation": count,
            "graph": _object({"nodes": count, "edges": count, "columnEdges": count}),
            "rebuild": _object(
                {
                    "running": _BOOL,
                    "generation": {"type": ["integer", "null"]},
                    "remainingMessages": count,
                    "messagesPerSecond": {"type": "number", "minimum": 0},
                }
            ),
            "dependenciesDown": {"type": "array", "items": {"enum": ["redis", "kafka"]}},
            "types": {
                "description": "Datasets by type (a cached bounded scan, as /api/v1/graph/"
                "overview), as last read; null until a first read has finished "
                "(the status never waits for Redis).",
                "oneOf": [
                    _object(
                        {
                            "datasets": {"type": "object", "additionalProperties": count},
                            "complete": _BOOL,
                        }
                    ),
                    {"type": "null"},
                ],
            },
        }
    )
