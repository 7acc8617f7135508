"""``rebuild --verify``'s readable difference between two snapshots."""

from __future__ import annotations

from typing import Any

from processor.core.snapshot_diff import first_differences


def _node(name: str, **extra: Any) -> dict[str, Any]:
    return {"namespace": "ns", "name": name, "internal": True, **extra}


def _edge(src: str, dst: str, events: int) -> dict[str, Any]:
    return {
        "source": {"namespace": "ns", "name": src},
        "target": {"namespace": "ns", "name": dst},
        "events": events,
    }


def test_equal_snapshots_have_no_difference() -> None:
    same = {"nodes": [_node("a"), _node("b")], "edges": [_edge("a", "b", 2)]}
    assert first_differences(same, same) == []


def test_nodes_then_edges_each_in_key_order() -> None:
    current = {"nodes": [_node("a"), _node("b")], "edges": [_edge("a", "b", 2)]}
    rebuilt = {
        "nodes": [_node("b", internal=False), _node("c")],
        "edges": [_edge("a", "b", 3), _edge("b", "c", 1)],
    }
    assert first_differences(current, rebuilt) == [
        "node ns/a: only in the current generation",
        "node ns/b: internal True -> False",
        "node ns/c: only in the rebuilt generation",
        "edge ns/a -> ns/b: events 2 -> 3",
        "edge ns/b -> ns/c: only in the rebuilt generation",
    ]


def test_the_list_stops_at_the_limit() -> None:
    current: dict[str, Any] = {"nodes": [_node(f"n{i}") for i in range(5)], "edges": []}
    rebuilt: dict[str, Any] = {"nodes": [], "edges": []}
    assert first_differences(current, rebuilt, limit=2) == [
        "node ns/n0: only in the current generation",
        "node ns/n1: only in the current generation",
    ]
