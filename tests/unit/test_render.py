"""Query answers as the CLI and the HTTP API show them: the direction's one
spelling, and the tree's arrows either way (expected values by hand)."""

from __future__ import annotations

from processor.core.query_results import LineageResult, QueryEdge, QueryNode
from processor.render import lineage_json, lineage_tree

T = "2026-03-01T10:00:00.000000Z"
EDGE = QueryEdge(("ns", "a"), ("ns", "b"), (("dbt", "load"),), T, T, None, 1)


def _result(root: str, other: str) -> LineageResult:
    top = QueryNode(f"id-{root}", "ns", root, "TABLE", True, 0)
    near = QueryNode(f"id-{other}", "ns", other, "TABLE", True, 1)
    return LineageResult(top, (top, near), (EDGE,), 20, False)


def test_the_json_names_the_direction_as_the_http_api_does() -> None:
    up = lineage_json(_result("b", "a"), "upstream")
    down = lineage_json(_result("a", "b"), "downstream")
    assert (up["direction"], down["direction"]) == ("upstream", "downstream")
    # the edge keeps its stored direction whichever way the query walked
    assert up["edges"] == down["edges"] == [EDGE.as_json()]
    assert up["root"]["name"] == "b"


def test_the_tree_points_away_from_the_root_downstream_and_towards_it_upstream() -> None:
    assert lineage_tree(_result("a", "b"), "downstream").splitlines() == [
        "ns/a",
        f"└─-> ns/b  [dbt/load; 1 events; last {T}]",
    ]
    assert lineage_tree(_result("b", "a"), "upstream").splitlines() == [
        "ns/b",
        f"└─<- ns/a  [dbt/load; 1 events; last {T}]",
    ]
