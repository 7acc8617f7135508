"""Type filters (docs/design.md section 5b) on an ML-shaped graph, against
closures computed by hand from the drawing below."""

from __future__ import annotations

import pytest

from processor.adapters.http_graph import BadParameter, types_param
from processor.core.marquez import lineage_graph
from processor.core.queries import downstream, impact, job_lineage, upstream
from processor.core.type_filter import MAX_TYPES, parse_types
from tests.unit.test_queries import NS, MemoryReader, names, pairs, run

# raw.orders ─┬─> fv.customer ──> ds.training ─┬─> model.churn ─> mv.churn_v3 ─> svc.churn
# raw.crm ────┘                                └─> exp.churn_runs
# svc.churn ─> report.scores ─> model.retention
# raw.orders ─> view.daily ─> report.kpi
ML_EDGES = [
    ("raw.orders", "fv.customer"),
    ("raw.crm", "fv.customer"),
    ("fv.customer", "ds.training"),
    ("ds.training", "model.churn"),
    ("ds.training", "exp.churn_runs"),
    ("model.churn", "mv.churn_v3"),
    ("mv.churn_v3", "svc.churn"),
    ("svc.churn", "report.scores"),
    ("report.scores", "model.retention"),
    ("raw.orders", "view.daily"),
    ("view.daily", "report.kpi"),
]
ML_TYPES = {
    "raw.orders": "TABLE",
    "raw.crm": "TABLE",
    "fv.customer": "FEATURE_VIEW",
    "ds.training": "DATASET",
    "model.churn": "MODEL",
    "exp.churn_runs": "EXPERIMENT",
    "mv.churn_v3": "MODEL_VERSION",
    "svc.churn": "SERVICE",
    "report.scores": "REPORT",
    "model.retention": "MODEL",
    "view.daily": "VIEW",
    "report.kpi": "REPORT",
}


def ml_reader() -> MemoryReader:
    return MemoryReader(ML_EDGES, types=ML_TYPES)


def test_every_model_downstream_of_a_table_through_other_types() -> None:
    # model.churn: orders -> fv -> training -> churn = 3 hops; model.retention:
    # churn -> v3 (4) -> svc (5) -> scores (6) -> retention (7). Every dataset
    # between them is of another type.
    found = run(impact(ml_reader(), NS, "raw.orders", types=frozenset({"MODEL"})))
    assert names(found.datasets) == [("model.churn", 3), ("model.retention", 7)]
    assert found.truncated is False


def test_several_types_keep_their_distances() -> None:
    found = run(impact(ml_reader(), NS, "raw.crm", types=frozenset({"MODEL", "SERVICE"})))
    assert names(found.datasets) == [("model.churn", 3), ("svc.churn", 5), ("model.retention", 7)]


def test_unfiltered_impact_is_the_whole_closure() -> None:
    found = run(impact(ml_reader(), NS, "raw.orders"))
    assert len(found.datasets) == 10  # every dataset but the root and raw.crm


def test_unknown_type_lists_nothing() -> None:
    found = run(impact(ml_reader(), NS, "raw.orders", types=frozenset({"NO_SUCH_TYPE"})))
    assert found.datasets == ()
    assert found.truncated is False


def test_types_are_exact_strings() -> None:
    found = run(impact(ml_reader(), NS, "raw.orders", types=frozenset({"model", "Model"})))
    assert found.datasets == ()


def test_filtered_downstream_keeps_the_root_and_edges_between_listed_datasets() -> None:
    result = run(
        downstream(ml_reader(), NS, "raw.orders", types=frozenset({"FEATURE_VIEW", "DATASET"}))
    )
    assert names(result.nodes) == [("raw.orders", 0), ("fv.customer", 1), ("ds.training", 2)]
    assert pairs(result.edges) == [("fv.customer", "ds.training"), ("raw.orders", "fv.customer")]


def test_filtered_upstream_lists_tables_without_edges_to_a_distant_root() -> None:
    # svc <- v3 (1) <- churn (2) <- training (3) <- fv (4) <- orders, crm (5)
    result = run(upstream(ml_reader(), NS, "svc.churn", types=frozenset({"TABLE"})))
    assert names(result.nodes) == [("svc.churn", 0), ("raw.crm", 5), ("raw.orders", 5)]
    assert result.edges == ()
    assert result.root.name == "svc.churn"


def test_the_filter_does_not_move_the_node_cap() -> None:
    # Unfiltered, raw.orders reaches fv.customer and view.daily at 1, then
    # ds.training and report.kpi at 2: a cap of 3 stops the walk inside level
    # 2, before any MODEL (distance 3), whatever the filter.
    capped = run(impact(ml_reader(), NS, "raw.orders", max_nodes=3, types=frozenset({"MODEL"})))
    assert capped.datasets == ()
    assert capped.truncated is True
    plain = run(impact(ml_reader(), NS, "raw.orders", max_nodes=3))
    assert len(plain.datasets) == 3
    assert plain.truncated is True


def test_job_lineage_keeps_the_jobs_own_datasets() -> None:
    # Every edge carries the one job of MemoryReader: its inputs and outputs
    # are the whole graph, at distance 0, kept whatever their type.
    around = run(job_lineage(ml_reader(), "dbt", "job", types=frozenset({"MODEL"})))
    assert {n.name for n in around.own.nodes} == set(ML_TYPES)
    assert all(n.distance == 0 for n in around.downstream.nodes)


def test_marquez_graph_of_a_filtered_walk() -> None:
    reader = ml_reader()
    only = frozenset({"MODEL"})
    up = run(upstream(reader, NS, "ds.training", types=only))
    down = run(downstream(reader, NS, "ds.training", types=only))
    graph = lineage_graph(up, down)
    ids = [n["id"] for n in graph]
    # The root and the two models downstream (distance 1 and 5). Only the edge
    # training -> churn joins two of them, so one job node, between those two;
    # model.retention is listed without edges.
    assert ids == [
        f"dataset:{NS}:ds.training",
        f"dataset:{NS}:model.churn",
        f"dataset:{NS}:model.retention",
        "job:dbt:job",
    ]
    links = {(e["origin"], e["destination"]) for n in graph for e in n["inEdges"] + n["outEdges"]}
    assert links == {
        (f"dataset:{NS}:ds.training", "job:dbt:job"),
        ("job:dbt:job", f"dataset:{NS}:model.churn"),
    }


@pytest.mark.parametrize("raw", ["", ",", "MODEL,", ",MODEL", "MODEL,,VIEW"])
def test_an_empty_type_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="types"):
        parse_types(raw)
    with pytest.raises(BadParameter) as caught:
        types_param({"types": raw})
    assert caught.value.parameter == "types"


def test_parse_types() -> None:
    assert parse_types("MODEL") == {"MODEL"}
    assert parse_types("MODEL,FEATURE_VIEW,MODEL") == {"MODEL", "FEATURE_VIEW"}
    assert parse_types("External Node") == {"External Node"}
    assert types_param({}) is None
    with pytest.raises(ValueError, match="at most"):
        parse_types(",".join(f"T{i}" for i in range(MAX_TYPES + 1)))
