"""Column queries and the Marquez column-lineage answer on the pure fold,
checked against the hand-written estate of ``tests.column_graph``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from processor.column_render import column_dot, column_tree
from processor.core.column_index import ColumnIndex
from processor.core.column_queries import ColumnLineage, column_lineage
from processor.core.column_snapshot import column_records
from processor.core.fold import Graph
from processor.core.graph_reader import Direction
from processor.core.marquez_columns import (
    column_lineage_graph,
    column_node_candidates,
    parse_column_node_id,
)
from processor.core.pipeline import Accepted, Classified, Limits, classify
from processor.core.rules import MixRule
from processor.errors import NodeNotFound
from tests.column_graph import (
    E1,
    E2,
    EVENTS,
    I1,
    MARQUEZ_ID_BOTH_DEPTH_1,
    MARQUEZ_TOTAL_MASKED_DEPTH_2,
)

RULE = MixRule("mixed", ["snowflake://*"])


def _index(floor: str = "") -> ColumnIndex:
    g = Graph()
    for raw in EVENTS:
        c = classify(raw, RULE, Limits())
        assert isinstance(c, Classified)
        assert isinstance(c.outcome, Accepted)
        g.apply(c.outcome.fold)
    return ColumnIndex(column_records(g.columns, g.deleted_until), floor)


def _run(
    ds: tuple[str, str], field: str | None, direction: Direction, depth: int, limit: int = 1000
) -> ColumnLineage:
    return asyncio.run(column_lineage(_index(), *ds, field, direction, depth, limit))


def _cols(result: ColumnLineage) -> list[tuple[str, str | None, int]]:
    return [(c[1], c[2], d) for c, d in result.columns]


def test_upstream_of_a_column_by_depth() -> None:
    assert _cols(_run(E2, "total_masked", "upstream", 1)) == [
        ("exports/orders", "total_masked", 0),
        ("RAW.ORDERS", "total", 1),
    ]
    deep = _run(E2, "total_masked", "upstream", 5)
    assert _cols(deep) == [
        ("exports/orders", "total_masked", 0),
        ("RAW.ORDERS", "total", 1),
        ("public.orders", "amount", 2),
        ("public.orders", "status", 2),
    ]
    body = deep.as_json()
    assert [(e["source"]["field"], e["target"]["field"]) for e in body["edges"]] == [
        ("amount", "total"),
        ("status", "total"),
        ("total", "total_masked"),
    ]
    assert body["edges"][2]["transformations"] == [
        {"type": "DIRECT", "subtype": "TRANSFORMATION", "masking": True}
    ]


def test_downstream_of_a_column() -> None:
    assert _cols(_run(E1, "amount", "downstream", 5)) == [
        ("public.orders", "amount", 0),
        ("RAW.ORDERS", "total", 1),
        ("exports/orders", "total_masked", 2),
    ]


def test_every_column_of_a_dataset_whole_dataset_dependencies_included() -> None:
    result = _run(I1, None, "upstream", 1)
    assert [c[2] for c in result.roots] == [None, "id", "total"]
    assert _cols(result)[3:] == [
        ("public.orders", "amount", 1),
        ("public.orders", "id", 1),
        ("public.orders", "region", 1),
        ("public.orders", "status", 1),
    ]
    region = [e for e in result.edges if e.source[2] == "region"]
    assert region[0].target == (*I1, None)


def test_the_column_cap_truncates_level_by_level() -> None:
    result = _run(I1, "total", "upstream", 5, limit=2)
    assert result.truncated
    assert _cols(result) == [("RAW.ORDERS", "total", 0), ("public.orders", "amount", 1)]
    assert [(e.source[2], e.target[2]) for e in result.edges] == [("amount", "total")]


def test_unknown_columns_and_datasets_are_not_found() -> None:
    with pytest.raises(NodeNotFound):
        _run(I1, "nope", "upstream", 1)
    with pytest.raises(NodeNotFound):
        _run(("x", "y"), None, "upstream", 1)


def _marquez(node_id: str, depth: int, with_downstream: bool) -> dict[str, Any]:
    ref = parse_column_node_id(node_id)
    index = _index()
    results = [asyncio.run(column_lineage(index, *ref, "upstream", depth))]
    if with_downstream:
        results.append(asyncio.run(column_lineage(index, *ref, "downstream", depth)))
    return {"graph": column_lineage_graph(*results)}


def test_marquez_column_lineage_matches_the_hand_written_graph() -> None:
    got = _marquez("datasetField:s3://lake:exports/orders:total_masked", 2, False)
    assert got == MARQUEZ_TOTAL_MASKED_DEPTH_2
    got = _marquez("datasetField:snowflake://acme:RAW.ORDERS:id", 1, True)
    assert got == MARQUEZ_ID_BOTH_DEPTH_1


def test_marquez_node_ids() -> None:
    assert parse_column_node_id("datasetField:postgres://db:5432:public.orders:id") == (
        "postgres://db:5432",
        "public.orders",
        "id",
    )
    assert parse_column_node_id("dataset:snowflake://acme:RAW.ORDERS") == (*I1, None)
    for bad in ("job:a:b", "datasetField:a:b:", "datasetField:nocolon", "x"):
        with pytest.raises(ValueError, match="node id"):
            parse_column_node_id(bad)


def test_tree_and_dot_show_badges() -> None:
    tree = column_tree(_run(E2, "total_masked", "upstream", 5))
    assert tree.splitlines()[0] == "s3://lake/exports/orders.total_masked"
    assert "<- snowflake://acme/RAW.ORDERS.total  [DIRECT/TRANSFORMATION masked;" in tree
    assert "INDIRECT/FILTER" in tree
    dot = column_dot(_run(E1, "status", "downstream", 1))
    assert "style=dashed" in dot  # INDIRECT only
    assert dot.startswith("digraph columns {")


def test_marquez_field_ids_with_colons_read_as_marquez_then_the_other_ways() -> None:
    # Marquez: the first three colons not followed by "//" or a digit split, the
    # field keeps the rest; the other readings follow, for the stored one to win
    assert column_node_candidates("datasetField:s3://lake:orders:ts:utc") == [
        ("s3://lake", "orders", "ts:utc"),
        ("s3://lake", "orders:ts", "utc"),
    ]
    assert column_node_candidates("datasetField:postgres://db:5432:public.t:a:b:c") == [
        ("postgres://db:5432", "public.t", "a:b:c"),
        ("postgres://db:5432", "public.t:a", "b:c"),
        ("postgres://db:5432", "public.t:a:b", "c"),
    ]
    # a field starting with a digit: the last colon, where Marquez would fail
    assert column_node_candidates("datasetField:ns:t:2024") == [("ns", "t", "2024")]
