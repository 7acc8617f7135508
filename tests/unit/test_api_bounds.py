"""One set of query bounds: what the HTTP views refuse, what the OpenAPI
document announces and what the CLI defaults to are the same numbers (a depth
cap of 20, at most 10,000 nodes, 1,000 datasets a page, 4,096 characters of a
name and 1,000 of a search text)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from processor.adapters.http_graph import GraphHandlers, Handler, answer
from processor.adapters.openapi import openapi_document
from processor.cli import build_parser


class NoStore:
    """A backend whose graph must never be read: every case here is refused first."""

    @property
    def store(self) -> Any:
        raise AssertionError("a refused request read the store")

    @property
    def metrics(self) -> Any:
        raise AssertionError("not needed")

    def floor(self, as_of: str | None = None) -> str:
        return ""

    async def readiness(self) -> dict[str, bool]:
        return {}


def _refused(handler: Handler, query: dict[str, str]) -> dict[str, Any]:
    result = asyncio.run(answer(handler, query))
    assert result.status == 400, result.body
    body: dict[str, Any] = result.body
    return body


def _params(path: str) -> dict[str, dict[str, Any]]:
    operation = openapi_document()["paths"][path]["get"]
    return {p["name"]: p["schema"] for p in operation["parameters"]}


DATASET = {"namespace": "ns", "name": "a"}


@pytest.mark.parametrize(
    ("query", "parameter", "message"),
    [
        ({**DATASET, "depth": "21"}, "depth", "depth must be from 1 to 20, got 21"),
        ({**DATASET, "limit": "10001"}, "limit", "limit must be from 1 to 10000, got 10001"),
        (
            {"namespace": "n" * 4097, "name": "a"},
            "namespace",
            "namespace must be at most 4096 characters, got 4097",
        ),
    ],
)
def test_the_lineage_views_refuse_past_the_bounds(
    query: dict[str, str], parameter: str, message: str
) -> None:
    handlers = GraphHandlers(NoStore())
    for handler in (handlers.upstream, handlers.downstream, handlers.impact):
        assert _refused(handler, query) == {"error": message, "parameter": parameter}


def test_the_search_view_refuses_past_the_bounds() -> None:
    search = GraphHandlers(NoStore()).datasets
    assert _refused(search, {"limit": "1001"})["error"] == "limit must be from 1 to 1000, got 1001"
    assert _refused(search, {"q": "x" * 1001})["parameter"] == "q"


def test_the_document_announces_the_same_bounds() -> None:
    for path in ("/api/v1/graph/upstream", "/api/v1/graph/downstream", "/api/v1/graph/impact"):
        params = _params(path)
        assert (params["depth"]["maximum"], params["depth"]["default"]) == (20, 20)
        assert (params["limit"]["maximum"], params["limit"]["default"]) == (10_000, 1000)
        assert params["namespace"]["maxLength"] == params["name"]["maxLength"] == 4096
    search = _params("/api/v1/datasets")
    assert (search["limit"]["maximum"], search["limit"]["default"]) == (1000, 50)
    assert search["q"]["maxLength"] == 1000


def test_the_cli_defaults_to_the_same_bounds_and_directions() -> None:
    parser = build_parser()
    lineage = parser.parse_args(["lineage", "upstream", "ns", "a"])
    assert (lineage.direction, lineage.depth, lineage.limit) == ("upstream", 20, 1000)
    assert parser.parse_args(["datasets", "search", "x"]).limit == 50
    with pytest.raises(SystemExit):
        parser.parse_args(["lineage", "up", "ns", "a"])
