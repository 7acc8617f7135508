"""The column lineage part of the OpenAPI document (``openapi``): its routes
(``http_columns``) and their answers' schemas. The column snapshot's schemas
come from the pydantic models of ``core.column_snapshot``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from processor.adapters.openapi_schemas import REF, STR, ref
from processor.core.column_snapshot import ColumnSnapshot

_NULLABLESTR = {"type": ["string", "null"]}


def _object(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": list(props) if required is None else required,
        "additionalProperties": False,
    }


def column_schemas() -> dict[str, Any]:
    """``components.schemas`` of the column routes."""
    schema = ColumnSnapshot.model_json_schema(ref_template=REF)
    defs: dict[str, Any] = schema.pop("$defs", {})
    column = ref("ColumnRef")
    count = {"type": "integer", "minimum": 0}
    transformation = ref("ColumnTransformation")
    input_field = {
        "type": "object",
        "properties": {
            "namespace": STR,
            "dataset": STR,
            "datasetVersion": _NULLABLESTR,
            "field": STR,
            "transformationDescription": _NULLABLESTR,
            "transformationType": _NULLABLESTR,
            "transformations": {"type": "array", "items": transformation},
        },
        "required": ["namespace", "dataset", "field", "transformations"],
    }
    link = _object({"origin": STR, "destination": STR})
    node = {
        "type": "object",
        "properties": {
            "id": STR,
            "type": {"const": "DATASET_FIELD"},
            "data": {
                "type": "object",
                "properties": {
                    "namespace": STR,
                    "dataset": STR,
                    "field": STR,
                    "inputFields": {"type": "array", "items": input_field},
                },
                "required": ["namespace", "dataset", "field", "inputFields"],
            },
            "inEdges": {"type": "array", "items": link},
            "outEdges": {"type": "array", "items": link},
        },
        "required": ["id", "type", "data", "inEdges", "outEdges"],
    }
    return {
        **defs,
        "ColumnSnapshot": schema,
        "ColumnSnapshotHash": _object({"sha256": STR, "columnEdges": count, "asOf": STR}),
        "ColumnLineage": _object(
            {
                "roots": {"type": "array", "items": column},
                "direction": {"enum": ["upstream", "downstream"]},
                "depth": count,
                "columns": {
                    "type": "array",
                    "items": _object(
                        {"namespace": STR, "name": STR, "field": _NULLABLESTR, "distance": count}
                    ),
                },
                "edges": {"type": "array", "items": ref("ColumnSnapshotEdge")},
                "truncated": {"type": "boolean"},
            }
        ),
        "MarquezColumnLineage": _object({"graph": {"type": "array", "items": node}}),
    }


def column_paths(
    param: Callable[..., dict[str, Any]],
    json: Callable[[str, str], dict[str, Any]],
    bad: dict[str, Any],
    not_found: dict[str, Any],
    down: dict[str, Any],
    depth: dict[str, Any],
    limit: dict[str, Any],
    text: dict[str, Any],
) -> dict[str, Any]:
    """The column routes, built with ``openapi``'s helpers and shared answers."""
    walk_params = [
        param("namespace", "Dataset namespace (exact, case-sensitive).", text, required=True),
        param("name", "Dataset name (exact, case-sensitive).", text, required=True),
        param("field", "A column; absent: every column of the dataset.", text),
        depth,
        limit,
    ]

    def walk(summary: str) -> dict[str, Any]:
        return {
            "get": {
                "summary": summary,
                "parameters": walk_params,
                "responses": {
                    "200": json(summary, "ColumnLineage"),
                    "400": bad,
                    "404": json("No column lineage for that column or dataset.", "Error"),
                    "503": down,
                },
            }
        }

    return {
        "/api/v1/graph/column-snapshot": {
            "get": {
                "summary": "The canonical column snapshot (visible column edges).",
                "parameters": [
                    param("hash", "1/true/yes: only the sha256 and the count.", STR),
                    param("asOf", "As for /api/v1/graph/snapshot.", STR),
                ],
                "responses": {
                    "200": {
                        "description": "The column snapshot, or its hash (also in the "
                        "X-Snapshot-SHA256 header).",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [ref("ColumnSnapshot"), ref("ColumnSnapshotHash")]
                                }
                            }
                        },
                    },
                    "400": bad,
                    "503": down,
                },
            }
        },
        "/api/v1/graph/columns/upstream": walk(
            "Columns the root column(s) are derived from, with each edge's transformations."
        ),
        "/api/v1/graph/columns/downstream": walk(
            "Columns derived from the root column(s), with each edge's transformations."
        ),
        "/api/v1/column-lineage": {
            "get": {
                "summary": "Marquez-compatible column lineage; each input field also "
                "carries its full transformations.",
                "parameters": [
                    param(
                        "nodeId",
                        "datasetField:{namespace}:{name}:{field} (split as Marquez does: "
                        "the first three ':' not followed by '//' nor a digit; the field "
                        "keeps any later ':') or dataset:{namespace}:{name} (every column).",
                        text,
                        required=True,
                    ),
                    depth,
                    param("withDownstream", "true: downstream too.", {"enum": ["true", "false"]}),
                ],
                "responses": {
                    "200": json(
                        "The graph; X-Lineage-Truncated says whether the node cap cut it.",
                        "MarquezColumnLineage",
                    ),
                    "400": bad,
                    "404": not_found,
                    "503": down,
                },
            }
        },
    }
