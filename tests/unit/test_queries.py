"""Lineage queries (processor/core/queries.py) over an in-memory graph reader."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Coroutine, Mapping, Sequence
from typing import Any, TypeVar

import pytest

from processor.core.graph_reader import Direction, Level, Pair, Walk, walk_levels
from processor.core.identity import node_id
from processor.core.queries import downstream, impact, job_lineage, paths, upstream
from processor.core.query_results import QueryEdge, QueryNode
from processor.core.snapshot import EdgeRecord, NodeRecord
from processor.errors import LineageError, NodeNotFound

T = TypeVar("T")
NS = "warehouse"
T1 = "2026-03-01T10:00:00.000000Z"
T2 = "2026-03-02T10:00:00.000000Z"
JOB = ("dbt", "job")


class MemoryReader:
    """A GraphReader over hand-written edges; counts its calls."""

    def __init__(
        self,
        edges: Sequence[tuple[str, str]],
        *,
        types: dict[str, str] | None = None,
        external: Collection[str] = (),
        records: Sequence[EdgeRecord] = (),
    ) -> None:
        self.nodes: dict[str, NodeRecord] = {}
        self.out: dict[str, list[EdgeRecord]] = {}
        self.into: dict[str, list[EdgeRecord]] = {}
        self.expand_calls: list[list[str]] = []
        self.edge_calls: list[list[Pair]] = []
        names = {n for pair in edges for n in pair}
        for n in names:
            self.nodes[node_id(NS, n)] = NodeRecord(NS, n, n not in external, (types or {}).get(n))
        recs = [
            EdgeRecord(node_id(NS, s), node_id(NS, t), frozenset({JOB}), T1, T2, None, 1)
            for s, t in edges
        ]
        for rec in [*recs, *records]:
            self.out.setdefault(rec.source, []).append(rec)
            self.into.setdefault(rec.target, []).append(rec)

    async def resolve(self, namespace: str, name: str) -> NodeRecord | None:
        return self.nodes.get(node_id(namespace, name))

    async def expand(
        self, node_ids: Sequence[str], direction: Direction, known: Collection[str], room: int
    ) -> Level:
        self.expand_calls.append(list(node_ids))
        side = self.out if direction == "downstream" else self.into
        links = {
            nid: [e.target if direction == "downstream" else e.source for e in es if e.visible]
            for nid in node_ids
            if (es := side.get(nid))
        }
        new = sorted({o for os in links.values() for o in os} - set(known))
        kept = set(new[: max(room, 0)])
        inside = {nid: [o for o in os if o in known or o in kept] for nid, os in links.items()}
        return Level(inside, {o: self.nodes[o] for o in kept}, len(new) > room)

    async def walk(
        self, roots: Mapping[str, NodeRecord], direction: Direction, depth: int, max_nodes: int
    ) -> Walk:
        return await walk_levels(self, roots, direction, depth, max_nodes)

    async def job_edges(self, namespace: str, name: str) -> list[Pair]:
        return [
            (e.source, e.target)
            for es in self.out.values()
            for e in es
            if (namespace, name) in e.jobs
        ]

    async def edges(self, pairs: Sequence[Pair]) -> dict[Pair, EdgeRecord]:
        self.edge_calls.append(list(pairs))
        out = {(e.source, e.target): e for es in self.out.values() for e in es}
        return {p: out[p] for p in pairs if p in out}


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def names(nodes: Sequence[QueryNode]) -> list[tuple[str, int]]:
    return [(n.name, n.distance) for n in nodes]


def pairs(edges: Sequence[QueryEdge]) -> list[tuple[str, str]]:
    return [(e.source[1], e.target[1]) for e in edges]


DIAMOND = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]
CYCLE = [("a", "b"), ("b", "c"), ("c", "a")]
CHAIN = [(f"n{i:02d}", f"n{i + 1:02d}") for i in range(30)]


# --- upstream / downstream ---------------------------------------------------


def test_downstream_of_a_diamond() -> None:
    reader = MemoryReader(DIAMOND)
    result = run(downstream(reader, NS, "a"))
    assert result.root == QueryNode(node_id(NS, "a"), NS, "a", "TABLE", True, 0)
    assert names(result.nodes) == [("a", 0), ("b", 1), ("c", 1), ("d", 2)]
    assert pairs(result.edges) == [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]
    assert result.depth == 20
    assert not result.truncated
    # One reader call per level, the whole frontier at once; d has no children.
    assert len(reader.expand_calls) == 3
    assert sorted(reader.expand_calls[1]) == sorted([node_id(NS, "b"), node_id(NS, "c")])


def test_upstream_of_a_diamond_keeps_edges_in_their_stored_direction() -> None:
    result = run(upstream(MemoryReader(DIAMOND), NS, "d"))
    assert names(result.nodes) == [("d", 0), ("b", 1), ("c", 1), ("a", 2)]
    assert pairs(result.edges) == [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]


def test_edge_attributes_and_node_types() -> None:
    rec = EdgeRecord(
        node_id(NS, "x"),
        node_id(NS, "y"),
        frozenset({("spark", "z"), ("airflow", "b"), ("airflow", "a")}),
        T1,
        T2,
        "3f5e2b1c-0d4e-4c8a-9b7f-1a2b3c4d5e6f",
        7,
    )
    reader = MemoryReader([], records=[rec], types={"y": "VIEW"}, external={"x"})
    reader.nodes[node_id(NS, "x")] = NodeRecord(NS, "x", False, None)
    reader.nodes[node_id(NS, "y")] = NodeRecord(NS, "y", True, "VIEW")
    result = run(downstream(reader, NS, "x", depth=1))
    assert result.nodes == (
        QueryNode(node_id(NS, "x"), NS, "x", "External Node", False, 0),
        QueryNode(node_id(NS, "y"), NS, "y", "VIEW", True, 1),
    )
    assert result.edges == (
        QueryEdge(
            source=(NS, "x"),
            target=(NS, "y"),
            jobs=(("airflow", "a"), ("airflow", "b"), ("spark", "z")),
            first_seen=T1,
            last_seen=T2,
            last_run_id="3f5e2b1c-0d4e-4c8a-9b7f-1a2b3c4d5e6f",
            events=7,
        ),
    )
    assert result.edges[0].as_json()["jobs"][0] == {"namespace": "airflow", "name": "a"}
    assert result.edges[0].as_json()["lastRunId"] == "3f5e2b1c-0d4e-4c8a-9b7f-1a2b3c4d5e6f"


def test_a_cycle_terminates_and_keeps_the_back_edge() -> None:
    reader = MemoryReader(CYCLE)
    down = run(downstream(reader, NS, "a"))
    assert names(down.nodes) == [("a", 0), ("b", 1), ("c", 2)]
    assert pairs(down.edges) == [("a", "b"), ("b", "c"), ("c", "a")]
    assert len(reader.expand_calls) == 3  # each node expanded once
    up = run(upstream(MemoryReader(CYCLE), NS, "a"))
    assert names(up.nodes) == [("a", 0), ("c", 1), ("b", 2)]


def test_depth_limits_the_hops_and_the_reader_calls() -> None:
    reader = MemoryReader(CHAIN)
    result = run(downstream(reader, NS, "n00", depth=5))
    assert names(result.nodes) == [(f"n{i:02d}", i) for i in range(6)]
    assert pairs(result.edges) == [(f"n{i:02d}", f"n{i + 1:02d}") for i in range(5)]
    assert len(reader.expand_calls) == 5
    assert len(reader.edge_calls) == 1  # attributes of the kept edges, once at the end
    assert not result.truncated
    assert len(run(downstream(MemoryReader(CHAIN), NS, "n00")).nodes) == 21  # default 20


def test_edges_between_nodes_of_the_last_level_are_not_read() -> None:
    # b -> c lies between two nodes at the depth limit: never expanded.
    result = run(downstream(MemoryReader([("a", "b"), ("a", "c"), ("b", "c")]), NS, "a", 1))
    assert pairs(result.edges) == [("a", "b"), ("a", "c")]


def test_max_nodes_truncates_a_chain() -> None:
    result = run(downstream(MemoryReader(CHAIN), NS, "n00", max_nodes=4))
    assert names(result.nodes) == [("n00", 0), ("n01", 1), ("n02", 2), ("n03", 3)]
    assert pairs(result.edges) == [("n00", "n01"), ("n01", "n02"), ("n02", "n03")]
    assert result.truncated


def test_truncation_inside_a_level_keeps_the_first_ids_and_their_edges() -> None:
    fan = [("a", x) for x in ("e", "d", "c", "b")] + [("b", "f")]
    reader = MemoryReader(fan)
    result = run(downstream(reader, NS, "a", max_nodes=3))
    # The contract cuts a level in node id order: the two smallest ids of b-e.
    first, second = sorted("bcde", key=lambda x: node_id(NS, x))[:2]
    assert names(result.nodes) == [("a", 0), *sorted([(first, 1), (second, 1)])]
    assert pairs(result.edges) == sorted([("a", first), ("a", second)])
    assert result.truncated
    # The edges to the two cut datasets are never read.
    a, x, y = (node_id(NS, n) for n in ("a", first, second))
    assert [sorted(call) for call in reader.edge_calls] == [sorted([(a, x), (a, y)])]
    exact = run(downstream(MemoryReader(fan), NS, "a", max_nodes=6))
    assert len(exact.nodes) == 6
    assert not exact.truncated


def test_hidden_edges_are_skipped() -> None:
    deleted = EdgeRecord(node_id(NS, "a"), node_id(NS, "x"), frozenset({JOB}), T1, T1, None, 1, T1)
    reader = MemoryReader([("a", "b")], records=[deleted])
    reader.nodes[node_id(NS, "x")] = NodeRecord(NS, "x", True, None)
    result = run(downstream(reader, NS, "a"))
    assert names(result.nodes) == [("a", 0), ("b", 1)]


@pytest.mark.parametrize("depth", [0, -1, 21, True])
def test_depth_out_of_range_is_a_value_error(depth: int) -> None:
    with pytest.raises(ValueError, match="depth must be an integer from 1 to 20"):
        run(downstream(MemoryReader(CHAIN), NS, "n00", depth=depth))


def test_the_depth_cap_is_a_parameter() -> None:
    result = run(downstream(MemoryReader(CHAIN), NS, "n00", depth=25, depth_cap=50))
    assert len(result.nodes) == 26
    with pytest.raises(ValueError, match="from 1 to 10"):
        run(upstream(MemoryReader(CHAIN), NS, "n05", depth=11, depth_cap=10))


def test_max_nodes_below_one_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="max_nodes"):
        run(downstream(MemoryReader(CHAIN), NS, "n00", max_nodes=0))


def test_unknown_root_raises_node_not_found() -> None:
    reader = MemoryReader(DIAMOND)
    with pytest.raises(NodeNotFound) as info:
        run(upstream(reader, NS, "nope"))
    assert isinstance(info.value, LineageError)
    assert (info.value.namespace, info.value.name) == (NS, "nope")
    with pytest.raises(NodeNotFound):
        run(impact(reader, "other", "a"))
    with pytest.raises(NodeNotFound):
        run(paths(reader, (NS, "a"), (NS, "nope")))
    assert reader.expand_calls == []


# --- impact ------------------------------------------------------------------


def test_impact_lists_every_downstream_dataset_once_at_its_shortest_distance() -> None:
    graph = [*DIAMOND, ("a", "d"), ("d", "e"), ("e", "a")]
    result = run(impact(MemoryReader(graph), NS, "a"))
    assert names(result.datasets) == [("b", 1), ("c", 1), ("d", 1), ("e", 2)]
    assert result.root.name == "a"
    assert not result.truncated


def test_impact_max_nodes_counts_datasets_not_the_root() -> None:
    result = run(impact(MemoryReader(CHAIN), NS, "n00", max_nodes=3))
    assert names(result.datasets) == [("n01", 1), ("n02", 2), ("n03", 3)]
    assert result.truncated
    assert names(run(impact(MemoryReader(CHAIN), NS, "n27", depth=5)).datasets) == [
        ("n28", 1),
        ("n29", 2),
        ("n30", 3),
    ]


# --- paths -------------------------------------------------------------------

# Two disjoint shortest paths s->x->t and s->y->t, and a longer s->z1->z2->t.
TWO_WAYS = [("s", "y"), ("y", "t"), ("s", "x"), ("x", "t"), ("s", "z1"), ("z1", "z2"), ("z2", "t")]


def test_every_shortest_path_in_order() -> None:
    reader = MemoryReader(TWO_WAYS)
    result = run(paths(reader, (NS, "s"), (NS, "t")))
    assert result.distance == 2
    assert [pairs(p) for p in result.paths] == [
        [("s", "x"), ("x", "t")],
        [("s", "y"), ("y", "t")],
    ]
    assert not result.truncated
    assert len(reader.expand_calls) == 2


def test_max_paths_truncates() -> None:
    result = run(paths(MemoryReader(TWO_WAYS), (NS, "s"), (NS, "t"), max_paths=1))
    assert [pairs(p) for p in result.paths] == [[("s", "x"), ("x", "t")]]
    assert result.truncated


def test_paths_through_a_diamond_and_a_cycle() -> None:
    result = run(paths(MemoryReader([*DIAMOND, ("d", "a")]), (NS, "b"), (NS, "c")))
    assert result.distance == 3
    assert [pairs(p) for p in result.paths] == [[("b", "d"), ("d", "a"), ("a", "c")]]


def test_paths_follow_edges_downstream_only() -> None:
    result = run(paths(MemoryReader(DIAMOND), (NS, "d"), (NS, "a")))
    assert (result.distance, result.paths, result.truncated) == (None, (), False)


def test_paths_beyond_max_depth_are_not_found() -> None:
    reader = MemoryReader(CHAIN)
    assert run(paths(reader, (NS, "n00"), (NS, "n05"), max_depth=4)).paths == ()
    found = run(paths(reader, (NS, "n00"), (NS, "n05"), max_depth=5))
    assert found.distance == 5
    assert len(found.paths[0]) == 5


def test_paths_node_cap_marks_the_search_truncated() -> None:
    result = run(paths(MemoryReader(CHAIN), (NS, "n00"), (NS, "n10"), max_nodes=5))
    assert (result.distance, result.paths, result.truncated) == (None, (), True)


def test_a_path_from_a_dataset_to_itself_is_empty() -> None:
    result = run(paths(MemoryReader(CYCLE), (NS, "a"), (NS, "a")))
    assert (result.distance, result.paths) == (0, ((),))


def test_paths_check_their_limits() -> None:
    with pytest.raises(ValueError, match="depth"):
        run(paths(MemoryReader(CHAIN), (NS, "n00"), (NS, "n01"), max_depth=0))
    with pytest.raises(ValueError, match="max_paths"):
        run(paths(MemoryReader(CHAIN), (NS, "n00"), (NS, "n01"), max_paths=0))


# --- job-centred lineage -----------------------------------------------------


def test_job_lineage_walks_up_from_its_inputs_and_down_from_its_outputs() -> None:
    other = ("dbt", "other")
    loader = EdgeRecord(node_id(NS, "b"), node_id(NS, "c"), frozenset({other}), T1, T2, None, 1)
    # a -> b -> c -> d, and the job JOB... every edge carries JOB except b -> c.
    reader = MemoryReader([("a", "b"), ("c", "d")], records=[loader])
    around = run(job_lineage(reader, *other))
    assert names(around.own.nodes) == [("b", 0), ("c", 0)]
    assert pairs(around.own.edges) == [("b", "c")]
    assert names(around.upstream.nodes) == [("b", 0), ("a", 1)]
    assert names(around.downstream.nodes) == [("c", 0), ("d", 1)]
    assert not around.truncated


def test_job_lineage_of_an_unknown_or_hidden_job_is_not_found() -> None:
    with pytest.raises(NodeNotFound, match="job not found"):
        run(job_lineage(MemoryReader(DIAMOND), "dbt", "nope"))
    gone = EdgeRecord(
        node_id(NS, "a"), node_id(NS, "x"), frozenset({("x", "y")}), T1, T1, None, 1, T1
    )
    reader = MemoryReader([("a", "b")], records=[gone])
    reader.nodes[node_id(NS, "x")] = NodeRecord(NS, "x", True, None)
    with pytest.raises(NodeNotFound):
        run(job_lineage(reader, "x", "y"))
