"""Marquez node ids and the Marquez-shaped lineage graph, expected values by hand."""

from __future__ import annotations

import pytest

from processor.core.marquez import (
    NodeRef,
    dataset_node_id,
    job_node_id,
    lineage_graph,
    parse_node_id,
)
from processor.core.query_results import LineageResult, QueryEdge, QueryNode


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("dataset:ns:name", NodeRef("dataset", "ns", "name")),
        (
            "dataset:postgres://db:5432:sales.public.orders",
            NodeRef("dataset", "postgres://db:5432", "sales.public.orders"),
        ),
        (
            "dataset:snowflake://acme:RAW.ORDERS",
            NodeRef("dataset", "snowflake://acme", "RAW.ORDERS"),
        ),
        ("job:airflow:dag.task", NodeRef("job", "airflow", "dag.task")),
        ("dataset:ns:a:b", NodeRef("dataset", "ns", "a:b")),
        ("dataset:s3://bucket:path/to:x", NodeRef("dataset", "s3://bucket", "path/to:x")),
        # Every colon looks like the namespace's: the last one separates.
        ("dataset:ns:2024_orders", NodeRef("dataset", "ns", "2024_orders")),
        ("dataset:postgres://db:5432:2024", NodeRef("dataset", "postgres://db:5432", "2024")),
    ],
)
def test_parse_node_id(value: str, expected: NodeRef) -> None:
    assert parse_node_id(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "dataset",
        "dataset:",
        "dataset:ns",
        "dataset:ns:",
        "dataset::name",
        "run:ns:x",
        "ns:name",
    ],
)
def test_parse_node_id_rejects(value: str) -> None:
    with pytest.raises(ValueError, match="node id"):
        parse_node_id(value)


def test_format_round_trips() -> None:
    assert (
        dataset_node_id("postgres://db:5432", "public.t") == "dataset:postgres://db:5432:public.t"
    )
    assert job_node_id("dbt", "load") == "job:dbt:load"
    assert parse_node_id(dataset_node_id("postgres://db:5432", "public.t")) == NodeRef(
        "dataset", "postgres://db:5432", "public.t"
    )


PG = ("postgres://db", "raw.orders")
SF = ("snowflake://acme", "STG.ORDERS")
S3 = ("s3://out", "orders.parquet")


def _node(ds: tuple[str, str], distance: int, ty: str, internal: bool) -> QueryNode:
    return QueryNode("id-" + ds[1], ds[0], ds[1], ty, internal, distance)


def _edge(src: tuple[str, str], dst: tuple[str, str], *jobs: tuple[str, str]) -> QueryEdge:
    return QueryEdge(src, dst, tuple(sorted(jobs)), "t1", "t2", None, 1)


def test_lineage_graph_puts_jobs_between_datasets() -> None:
    root = _node(SF, 0, "TABLE", True)
    up = LineageResult(
        root,
        (root, _node(PG, 1, "External Node", False)),
        (_edge(PG, SF, ("etl", "load")),),
        2,
        False,
    )
    down = LineageResult(
        root,
        (root, _node(S3, 1, "External Node", False)),
        (_edge(SF, S3, ("etl", "export"), ("etl", "load")),),
        2,
        False,
    )
    graph = lineage_graph(up, down)

    assert [n["id"] for n in graph] == [
        "dataset:postgres://db:raw.orders",
        "dataset:s3://out:orders.parquet",
        "dataset:snowflake://acme:STG.ORDERS",
        "job:etl:export",
        "job:etl:load",
    ]
    by_id = {n["id"]: n for n in graph}

    def link(a: str, b: str) -> dict[str, str]:
        return {"origin": a, "destination": b}

    pg, s3, sf = (
        "dataset:postgres://db:raw.orders",
        "dataset:s3://out:orders.parquet",
        "dataset:snowflake://acme:STG.ORDERS",
    )
    export, load = "job:etl:export", "job:etl:load"
    assert by_id[sf] == {
        "id": sf,
        "type": "DATASET",
        "data": {
            "id": {"namespace": "snowflake://acme", "name": "STG.ORDERS"},
            "type": "TABLE",
            "name": "STG.ORDERS",
            "physicalName": "STG.ORDERS",
            "createdAt": None,
            "updatedAt": None,
            "namespace": "snowflake://acme",
            "sourceName": None,
            "fields": [],
            "tags": [],
            "lastModifiedAt": None,
            "description": None,
            "facets": {},
        },
        "inEdges": [link(load, sf)],
        "outEdges": [link(sf, export), link(sf, load)],
    }
    assert by_id[pg]["inEdges"] == []
    assert by_id[pg]["outEdges"] == [link(pg, load)]
    assert by_id[s3]["inEdges"] == [link(export, s3), link(load, s3)]
    assert by_id[s3]["data"]["type"] == "External Node"
    # etl.load wrote STG from PG, and S3 from STG: one job node for both.
    assert by_id[load]["type"] == "JOB"
    assert by_id[load]["inEdges"] == [link(pg, load), link(sf, load)]
    assert by_id[load]["outEdges"] == [link(load, s3), link(load, sf)]
    assert by_id[load]["data"]["inputs"] == [
        {"namespace": "postgres://db", "name": "raw.orders"},
        {"namespace": "snowflake://acme", "name": "STG.ORDERS"},
    ]
    assert by_id[load]["data"]["outputs"] == [
        {"namespace": "s3://out", "name": "orders.parquet"},
        {"namespace": "snowflake://acme", "name": "STG.ORDERS"},
    ]
    assert by_id[export]["data"]["id"] == {"namespace": "etl", "name": "export"}
    assert by_id[export]["data"]["simpleName"] == "export"
    assert by_id[export]["inEdges"] == [link(sf, export)]
    assert by_id[export]["outEdges"] == [link(export, s3)]


def test_lineage_graph_of_a_lone_root_and_shared_edges() -> None:
    root = _node(PG, 0, "External Node", False)
    lone = LineageResult(root, (root,), (), 1, False)
    graph = lineage_graph(lone, lone)
    assert [(n["id"], n["inEdges"], n["outEdges"]) for n in graph] == [
        ("dataset:postgres://db:raw.orders", [], [])
    ]
    # The same edge in both results (a cycle) is one link, not two.
    a = _node(SF, 0, "TABLE", True)
    b = _node(PG, 1, "External Node", False)
    e = _edge(PG, SF, ("j", "x"))
    both = lineage_graph(
        LineageResult(a, (a, b), (e,), 1, False), LineageResult(a, (a, b), (e,), 1, False)
    )
    assert [len(n["inEdges"]) + len(n["outEdges"]) for n in both] == [1, 1, 2]


def test_an_edge_without_jobs_stays_a_direct_link() -> None:
    a, b = _node(PG, 0, "External Node", False), _node(SF, 1, "TABLE", True)
    graph = lineage_graph(LineageResult(a, (a, b), (_edge(PG, SF),), 1, False))
    assert graph[0]["outEdges"] == [
        {
            "origin": "dataset:postgres://db:raw.orders",
            "destination": "dataset:snowflake://acme:STG.ORDERS",
        }
    ]
