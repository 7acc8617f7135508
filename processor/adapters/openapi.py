"""The OpenAPI 3.1 document of the worker's HTTP API, served at ``/openapi.json``.

Written by hand as a dict: the routes here, their answers' schemas in
``openapi_schemas``; the parameters' bounds are ``core.api_bounds``, the ones
the views enforce.

Security is added to every operation from ``http_auth``'s list of public routes,
so a route added later is documented as protected unless it is public there.
"""

from __future__ import annotations

from typing import Any

from processor import __version__
from processor.adapters.http_auth import is_public
from processor.adapters.openapi_columns import column_paths, column_schemas
from processor.adapters.openapi_schemas import STR, ref, schemas
from processor.core.api_bounds import (
    DEFAULT_MAX_PATHS,
    DEPTH,
    MAX_SEARCH_TEXT,
    MAX_TEXT,
    NODES,
    PAGE,
)


def _param(
    name: str, description: str, schema: dict[str, Any], *, required: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


def _json(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref(schema)}}}


_DEPTH = _param(
    "depth",
    "Hops from the root (datasets).",
    DEPTH.schema(),
)
_LIMIT = _param(
    "limit",
    "Maximum nodes in the answer; past it the answer is cut level by level and marked truncated.",
    NODES.schema(),
)
_TYPES = _param(
    "types",
    "Comma-separated dataset types (exact strings, e.g. MODEL,FEATURE_VIEW): list only "
    "datasets of these types. The walk, its distances and its node cap are unchanged; a "
    "lineage answer keeps its root and the edges between listed datasets. An empty value "
    "or entry is a 400.",
    {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
)
_BAD = _json("A parameter is missing, invalid or too long.", "BadParameter")
_UNAUTHORIZED = {
    "description": "LINEAGE_HTTP_TOKEN is set and the request has no bearer token, or a wrong one.",
    "headers": {
        "WWW-Authenticate": {"description": 'Bearer realm="lineage-processor"', "schema": STR}
    },
    "content": {"application/json": {"schema": ref("Error")}},
}
SECURITY_SCHEME = "bearerToken"
_TEXT = {"type": "string", "maxLength": MAX_TEXT}
_NOT_FOUND = _json("The graph does not hold that dataset.", "Error")
_DOWN = _json("Redis is unavailable.", "Error")


def _dataset_params(prefix: str = "") -> list[dict[str, Any]]:
    def key(word: str) -> str:
        return prefix + word.capitalize() if prefix else word

    return [
        _param(
            key("namespace"), "Dataset namespace (exact, case-sensitive).", _TEXT, required=True
        ),
        _param(key("name"), "Dataset name (exact, case-sensitive).", _TEXT, required=True),
    ]


def _query_op(summary: str, params: list[dict[str, Any]], schema: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": params,
            "responses": {
                "200": _json(summary, schema),
                "400": _BAD,
                "404": _NOT_FOUND,
                "503": _DOWN,
            },
        }
    }


def openapi_document() -> dict[str, Any]:
    """The whole document (a fresh dict each call)."""
    return _secured(_document())


def _secured(doc: dict[str, Any]) -> dict[str, Any]:
    """The bearer scheme on every operation but the public ones, and the 401
    answer where it applies."""
    doc["components"]["securitySchemes"] = {
        SECURITY_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "The value of LINEAGE_HTTP_TOKEN. Only required when it is set; "
            "/metrics, /healthz, /readyz and the page (/ and /ui/...) never need it.",
        }
    }
    doc["security"] = [{SECURITY_SCHEME: []}]
    for path, operations in doc["paths"].items():
        for operation in operations.values():
            if is_public(path):
                operation["security"] = []
            else:
                operation["responses"]["401"] = _UNAUTHORIZED
    return doc


def _document() -> dict[str, Any]:
    lineage_params = [*_dataset_params(), _DEPTH, _LIMIT, _TYPES]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "lineage-processor",
            "version": __version__,
            "description": "The lineage graph folded from OpenLineage events, on the "
            "worker's web port.",
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": {
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics (lineage_* and faust_*).",
                    "responses": {
                        "200": {
                            "description": "Prometheus text exposition format.",
                            "content": {"text/plain": {"schema": STR}},
                        }
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness: the event loop answers.",
                    "responses": {"200": _json("Alive.", "Health")},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness: Redis answers and the consumer has its partitions.",
                    "responses": {
                        "200": _json("Ready.", "Readiness"),
                        "503": _json("Not ready.", "Readiness"),
                    },
                }
            },
            "/api/v1/graph/snapshot": {
                "get": {
                    "summary": "The canonical snapshot (visible nodes and edges).",
                    "parameters": [
                        _param(
                            "hash",
                            "1/true/yes: only the sha256 and the counts.",
                            STR,
                        ),
                        _param(
                            "asOf",
                            "RFC 3339 time the retention window is counted back from "
                            "(default now): the same asOf gives the same snapshot.",
                            STR,
                        ),
                    ],
                    "responses": {
                        "200": {
                            "description": "The snapshot, or its hash; the hash also "
                            "in the X-Snapshot-SHA256 header, the asOf used in "
                            "X-Snapshot-As-Of.",
                            "content": {
                                "application/json": {
                                    "schema": {"oneOf": [ref("Snapshot"), ref("SnapshotHash")]}
                                }
                            },
                        },
                        "400": _BAD,
                        "503": _DOWN,
                    },
                }
            },
            "/api/v1/graph/upstream": _query_op(
                "Datasets the root is derived from.", lineage_params, "Lineage"
            ),
            "/api/v1/graph/downstream": _query_op(
                "Datasets derived from the root.", lineage_params, "Lineage"
            ),
            "/api/v1/graph/impact": _query_op(
                "Every dataset downstream of the root (root excluded).", lineage_params, "Impact"
            ),
            "/api/v1/graph/path": _query_op(
                f"Shortest downstream paths from source to target (at most {DEFAULT_MAX_PATHS}).",
                [*_dataset_params("source"), *_dataset_params("target"), _DEPTH],
                "Paths",
            ),
            "/api/v1/datasets": {
                "get": {
                    "summary": "Datasets whose namespace or name contains q "
                    "(case-insensitive), sorted by (namespace, name). O(datasets) per call.",
                    "parameters": [
                        _param(
                            "q",
                            "Text to look for; all datasets when empty.",
                            {"type": "string", "maxLength": MAX_SEARCH_TEXT},
                        ),
                        _param(
                            "offset",
                            "First match to return.",
                            {"type": "integer", "minimum": 0, "default": 0},
                        ),
                        _param(
                            "limit",
                            "Page size.",
                            PAGE.schema(),
                        ),
                        _TYPES,
                    ],
                    "responses": {
                        "200": _json("One page of matches.", "DatasetPage"),
                        "400": _BAD,
                        "503": _DOWN,
                    },
                }
            },
            "/api/v1/lineage": {
                "get": {
                    "summary": "Marquez-compatible lineage around a dataset, upstream and "
                    "downstream; jobs are nodes between datasets.",
                    "parameters": [
                        _param(
                            "nodeId",
                            "dataset:{namespace}:{name} or job:{namespace}:{name}; a ':' "
                            "followed by '//' or a digit belongs to the namespace. A job's "
                            "answer walks up from its inputs and down from its outputs.",
                            _TEXT,
                            required=True,
                        ),
                        _DEPTH,
                        _TYPES,
                    ],
                    "responses": {
                        "200": _json(
                            "The graph; X-Lineage-Truncated says whether the node cap cut it.",
                            "MarquezLineage",
                        ),
                        "400": _BAD,
                        "404": _NOT_FOUND,
                        "503": _DOWN,
                    },
                }
            },
            "/api/v1/graph/overview": {
                "get": {
                    "summary": "The graph at a glance: datasets by type, the most connected "
                    "datasets and the edges seen last, from bounded scans cached for about 10 s.",
                    "responses": {
                        "200": _json("The overview.", "Overview"),
                        "503": _DOWN,
                    },
                }
            },
            **column_paths(_param, _json, _BAD, _NOT_FOUND, _DOWN, _DEPTH, _LIMIT, _TEXT),
            "/api/v1/status": {
                "get": {
                    "summary": "This worker's counters by outcome (since it started), dead "
                    "letters by reason, consumer lag per partition, current generation, graph "
                    "size and rebuild progress: what the page's operations strip shows.",
                    "responses": {"200": _json("The worker's status.", "Status")},
                }
            },
            "/": {
                "get": {
                    "summary": "The lineage page (static; it reads the API above). Its "
                    "assets are under /ui/.",
                    "responses": {
                        "200": {
                            "description": "HTML.",
                            "content": {"text/html": {"schema": STR}},
                        }
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document.",
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.1.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {"schemas": {**schemas(), **column_schemas()}},
    }
