"""The canonical snapshot and its hash (docs/design.md section 5)."""

from __future__ import annotations

import hashlib

from processor.core.snapshot import (
    EdgeRecord,
    NodeRecord,
    Snapshot,
    build_snapshot,
    canonical_bytes,
    node_type,
    snapshot_hash,
)

T1 = "2026-03-01T10:00:00.000000Z"
T2 = "2026-03-01T11:00:00.000000Z"
RUN = "3f5e2b1c-0d4e-4c8a-9b7f-1a2b3c4d5e6f"


def node(
    nid: str, namespace: str, name: str, internal: bool, type_: str | None = None
) -> tuple[str, NodeRecord]:
    return nid, NodeRecord(namespace, name, internal, type_)


def edge(
    src: str, dst: str, jobs: frozenset[tuple[str, str]] = frozenset({("dbt", "j")})
) -> EdgeRecord:
    return EdgeRecord(src, dst, jobs, T1, T2, RUN, 2)


TINY_NODES = dict(
    [
        node("n1", "postgres://db", "café", False),
        node("n2", "snowflake://acme", "RAW.ORDERS", True),
    ]
)
TINY_EDGES = [EdgeRecord("n1", "n2", frozenset({("dbt", "orders")}), T1, T2, None, 3)]

# Written by hand: keys sorted at every level, "," and ":" separators, "é" as
# UTF-8, null for a missing lastRunId.
TINY_BYTES = (
    '{"edges":[{"events":3,"firstSeen":"2026-03-01T10:00:00.000000Z",'
    '"jobs":[{"name":"orders","namespace":"dbt"}],"lastRunId":null,'
    '"lastSeen":"2026-03-01T11:00:00.000000Z",'
    '"source":{"name":"café","namespace":"postgres://db"},'
    '"target":{"name":"RAW.ORDERS","namespace":"snowflake://acme"}}],'
    '"nodes":[{"internal":false,"name":"café","namespace":"postgres://db","type":"External Node"},'
    '{"internal":true,"name":"RAW.ORDERS","namespace":"snowflake://acme","type":"TABLE"}]}'
).encode()


def test_tiny_graph_exact_bytes() -> None:
    snap = build_snapshot(TINY_NODES, TINY_EDGES)
    assert canonical_bytes(snap) == TINY_BYTES
    assert b"\\u00e9" not in canonical_bytes(snap)
    assert "café".encode() in canonical_bytes(snap)


def test_tiny_graph_hash_is_sha256_of_those_bytes() -> None:
    snap = build_snapshot(TINY_NODES, TINY_EDGES)
    assert snapshot_hash(snap) == hashlib.sha256(TINY_BYTES).hexdigest()
    assert len(snapshot_hash(snap)) == 64


def test_snapshot_shape_matches_the_published_model() -> None:
    snap = build_snapshot(TINY_NODES, TINY_EDGES)
    assert Snapshot.model_validate(snap).model_dump() == snap


def test_nodes_sorted_by_namespace_then_name() -> None:
    # (namespace, name) tuple order differs from joined-string order:
    # ("a", "zz") < ("ab", "c") as tuples, but "abc" < "azz" joined
    nodes = dict(
        [
            node("x1", "ab", "c", False),
            node("x2", "a", "zz", False),
            node("x3", "B", "z", True),  # "B" < "a": code point order
            node("x4", "a", "Z", False),
            node("x5", "a", "é", False),  # "é" > "zz"
        ]
    )
    edges = [edge("x1", "x2"), edge("x3", "x4"), edge("x5", "x1")]
    snap = build_snapshot(nodes, edges)
    assert [(n["namespace"], n["name"]) for n in snap["nodes"]] == [
        ("B", "z"),
        ("a", "Z"),
        ("a", "zz"),
        ("a", "é"),
        ("ab", "c"),
    ]


def test_edges_sorted_by_source_then_target() -> None:
    nodes = dict(
        [
            node("a", "ns", "a", False),
            node("b", "ns", "b", False),
            node("c", "ns2", "a", True),
            node("d", "n", "szz", True),
        ]
    )
    edges = [edge("c", "a"), edge("b", "a"), edge("a", "c"), edge("a", "b"), edge("d", "a")]
    snap = build_snapshot(nodes, edges)
    pairs = [
        (
            (e["source"]["namespace"], e["source"]["name"]),
            (e["target"]["namespace"], e["target"]["name"]),
        )
        for e in snap["edges"]
    ]
    # sources: ("n","szz") < ("ns","a") < ("ns","b") < ("ns2","a")
    assert pairs == [
        (("n", "szz"), ("ns", "a")),
        (("ns", "a"), ("ns", "b")),
        (("ns", "a"), ("ns2", "a")),
        (("ns", "b"), ("ns", "a")),
        (("ns2", "a"), ("ns", "a")),
    ]


def test_jobs_sorted_by_namespace_then_name() -> None:
    nodes = dict([node("a", "x", "a", False), node("b", "y", "b", True)])
    jobs = frozenset({("dbt", "b"), ("airflow", "z"), ("dbt", "a"), ("ab", "a"), ("a", "zz")})
    snap = build_snapshot(nodes, [edge("a", "b", jobs)])
    assert snap["edges"][0]["jobs"] == [
        {"namespace": "a", "name": "zz"},
        {"namespace": "ab", "name": "a"},
        {"namespace": "airflow", "name": "z"},
        {"namespace": "dbt", "name": "a"},
        {"namespace": "dbt", "name": "b"},
    ]


def test_only_nodes_touched_by_an_edge_are_visible() -> None:
    nodes = dict(
        [
            node("a", "x", "a", False),
            node("b", "y", "b", True),
            node("lonely", "z", "typed", True, "VIEW"),
        ]
    )
    snap = build_snapshot(nodes, [edge("a", "b")])
    assert [n["name"] for n in snap["nodes"]] == ["a", "b"]
    assert build_snapshot(nodes, []) == {"nodes": [], "edges": []}


def test_node_type_default_by_side() -> None:
    assert node_type(NodeRecord("x", "y", True, None)) == "TABLE"
    assert node_type(NodeRecord("x", "y", False, None)) == "External Node"
    assert node_type(NodeRecord("x", "y", False, "VIEW")) == "VIEW"
    assert node_type(NodeRecord("x", "y", True, "")) == ""  # a string, even empty


def test_input_order_does_not_change_the_bytes() -> None:
    nodes = dict(
        [node("a", "ns", "a", False), node("b", "ns", "b", True), node("c", "m", "c", True)]
    )
    edges = [edge("a", "b"), edge("a", "c"), edge("c", "b")]
    first = canonical_bytes(build_snapshot(nodes, edges))
    again = canonical_bytes(build_snapshot(dict(reversed(nodes.items())), list(reversed(edges))))
    assert first == again


def test_canonical_bytes_escapes_only_what_json_requires() -> None:
    assert canonical_bytes({"b": '\U0001f600\n"', "a": [True, None, 1]}) == (
        '{"a":[true,null,1],"b":"\U0001f600\\n\\""}'.encode()
    )


def test_the_retention_floor_hides_edges_last_seen_at_or_before_it() -> None:
    nodes = dict([node("a", "x", "a", False), node("b", "y", "b", True), node("c", "y", "c", True)])
    old = EdgeRecord("a", "b", frozenset({("dbt", "j")}), T1, T1, RUN, 1)  # lastSeen T1
    new = EdgeRecord("b", "c", frozenset({("dbt", "j")}), T1, T2, RUN, 1)  # lastSeen T2
    assert not old.shown(T1)  # "not after" the floor: hidden
    assert old.shown("2026-03-01T09:59:59.999999Z")
    snap = build_snapshot(nodes, [old, new], T1)
    assert [(e["source"]["name"], e["target"]["name"]) for e in snap["edges"]] == [("b", "c")]
    assert [n["name"] for n in snap["nodes"]] == ["b", "c"]  # a: no edge left
    assert build_snapshot(nodes, [old, new]) == build_snapshot(nodes, [old, new], "")
    # A delete and the floor: the later of the two decides.
    deleted = EdgeRecord("b", "c", frozenset(), T1, T2, RUN, 1, deleted_until=T2)
    assert not deleted.shown("")
    assert not deleted.shown(T1)
