"""Control-topic deletes: parsing, and what each form of delete hides."""

from __future__ import annotations

import json

import pytest

from processor.core.control import DeleteRequest, parse_control
from processor.core.fold import Graph
from processor.core.identity import node_id
from processor.core.pipeline import FoldEvent, NodeUpdate, Rejected

A, B, C = ("postgres://db", "a"), ("snowflake://x", "B"), ("s3://bucket", "c")
T0, T1, T2 = (
    "2026-03-01T10:00:00.000000Z",
    "2026-03-02T10:00:00.000000Z",
    "2026-03-03T10:00:00.000000Z",
)


def _event(h: str, time: str, *edges: tuple[tuple[str, str], tuple[str, str]]) -> FoldEvent:
    keys = {k for e in edges for k in e}
    nodes = tuple(
        NodeUpdate(node_id(*k), k[0], k[1], k[0].startswith("snowflake"), None)
        for k in sorted(keys)
    )
    pairs = tuple((node_id(*s), node_id(*t)) for s, t in edges)
    return FoldEvent(h * 64, time, None, ("dbt", "j"), nodes, pairs)


def _edges(graph: Graph) -> set[tuple[str, str]]:
    return {(e["source"]["name"], e["target"]["name"]) for e in graph.snapshot()["edges"]}


def _graph() -> Graph:
    # a -> B and B -> c, both last seen at T1.
    graph = Graph()
    graph.apply(_event("1", T1, (A, B), (B, C)))
    return graph


def test_source_and_target_delete_that_edge_only() -> None:
    graph = _graph()
    graph.delete(DeleteRequest(node_id(*A), node_id(*B), T1))
    assert _edges(graph) == {("B", "c")}


def test_source_only_deletes_every_edge_out_of_it() -> None:
    graph = _graph()
    graph.delete(DeleteRequest(node_id(*B), None, T2))
    assert _edges(graph) == {("a", "B")}


def test_target_only_deletes_every_edge_into_it() -> None:
    graph = _graph()
    graph.delete(DeleteRequest(None, node_id(*B), T2))
    assert _edges(graph) == {("B", "c")}


def test_a_delete_older_than_the_last_event_hides_nothing() -> None:
    graph = _graph()
    graph.delete(DeleteRequest(node_id(*A), node_id(*B), T0))
    assert _edges(graph) == {("a", "B"), ("B", "c")}


def test_a_newer_event_brings_a_deleted_edge_back_and_nodes_follow_edges() -> None:
    graph = _graph()
    graph.delete(DeleteRequest(None, node_id(*B), T1))  # lastSeen T1 is not after T1
    assert {n["name"] for n in graph.snapshot()["nodes"]} == {"B", "c"}
    graph.apply(_event("2", T2, (A, B)))
    assert _edges(graph) == {("a", "B"), ("B", "c")}


def test_a_delete_before_the_edge_exists_still_covers_it() -> None:
    graph = Graph()
    graph.delete(DeleteRequest(node_id(*A), None, T2))
    graph.apply(_event("1", T1, (A, B)))
    assert _edges(graph) == set()


def _msg(**fields: object) -> bytes:
    base: dict[str, object] = {"op": "delete", "requestedAt": "2026-03-01T11:00:00+01:00"}
    base.update(fields)
    return json.dumps(base).encode()


def test_parse_a_delete_normalises_its_time() -> None:
    parsed = parse_control(_msg(source={"namespace": "postgres://db", "name": "a"}))
    assert parsed == DeleteRequest(node_id(*A), None, "2026-03-01T10:00:00.000000Z")


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b"not json", "expected"),
        (None, "null"),
        (_msg(), "a source, a target, or both"),
        (_msg(op="drop", source={"namespace": "n", "name": "x"}), "op"),
        (_msg(source={"namespace": "n"}), "source.name"),
        (_msg(source={"namespace": "n", "name": "x"}, requestedAt="yesterday"), "requestedAt"),
        (_msg(source={"namespace": "n", "name": "x"}, extra=1), "extra"),
    ],
)
def test_malformed_control_messages_are_invalid_control(raw: bytes | None, needle: str) -> None:
    parsed = parse_control(raw)
    assert isinstance(parsed, Rejected)
    assert parsed.reason == "invalid_control"
    assert needle in parsed.error
