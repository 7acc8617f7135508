"""The demo's ML pipelines (processor/samples/ml_demo.py): every step keeps its
edges under the dev rule, the events carry the types, and the impact questions
of docs/ml-lineage.md get the answers worked out there by hand."""

from __future__ import annotations

import json
from itertools import islice

import pytest

from processor.core.queries import impact
from processor.core.rules import MixMode, MixRule
from processor.samples import demo_events
from processor.samples.demo import _demo_estate
from processor.samples.ml_demo import DEMO_INTERNAL_NAMESPACES, ML_ESTATE
from tests.unit.test_queries import NS, MemoryReader, names, run

RULE = MixRule(MixMode.MIXED, ["snowflake://*", *DEMO_INTERNAL_NAMESPACES])


def _label(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def _demo_reader() -> MemoryReader:
    """The classic estate and the ML pipelines, each step's edges as the dev rule keeps them."""
    steps = [(ins, outs) for _, ins, outs, _ in _demo_estate()]
    steps += [([d[:2] for d in ins], [d[:2] for d in outs]) for _, _, ins, outs in ML_ESTATE]
    edges: list[tuple[str, str]] = []
    for ins, outs in steps:
        try:
            plan = RULE.plan(ins, outs)
        except Exception:
            continue  # same-side dbt steps: rejected, as in the demo
        edges += [(_label(*s), _label(*t)) for s, t in plan.edges]
    types = {_label(ns, nm): kind for _, _, i, o in ML_ESTATE for ns, nm, kind in [*i, *o]}
    return MemoryReader(edges, types=types)


def test_every_ml_step_crosses_the_boundary() -> None:
    for job, _, ins, outs in ML_ESTATE:
        plan = RULE.plan([d[:2] for d in ins], [d[:2] for d in outs])
        assert len(plan.edges) == len(ins) * len(outs), job


def test_every_ml_dataset_keeps_one_type() -> None:
    seen: dict[tuple[str, str], str] = {}
    for _, _, ins, outs in ML_ESTATE:
        for ns, nm, kind in [*ins, *outs]:
            assert seen.setdefault((ns, nm), kind) == kind


@pytest.mark.parametrize(
    ("root", "types", "expected"),
    [
        # order_items -> RAW.ORDERS.ORDER_ITEMS (1) -> processed (2) -> model (3)
        # -> evaluation (4) -> model package (5)
        (
            ("postgres://orders-db.prod:5432", "orders.public.order_items"),
            {"MODEL", "MODEL_VERSION"},
            [
                ("sagemaker://acme-ml.eu-west-1/training-job/demand-forecast", 3),
                ("sagemaker://acme-ml.eu-west-1/model-package/demand-forecast/3", 5),
            ],
        ),
        # customers -> feature view (1) -> two training sets (2) -> two models
        # (3); the churn model -> its service (4)
        (
            ("postgres://crm-db.prod:5432", "crm.public.customers"),
            {"MODEL", "SERVICE"},
            [
                ("snowflake://acme.eu-west-1/ML.REGISTRY.CHURN_CLASSIFIER", 3),
                ("snowflake://acme.eu-west-1/ML.REGISTRY.LTV_REGRESSOR", 3),
                ("https://churn-scoring.acme.internal//predict", 4),
            ],
        ),
        # clickstream -> experiment (1) -> model artifact (2) -> version (3)
        (
            ("s3://acme-datalake", "raw/clickstream/"),
            {"EXPERIMENT", "MODEL"},
            [
                ("mlflow://mlflow.acme.internal/experiments/recommender", 1),
                ("s3://acme-mlflow/artifacts/recommender/model/", 2),
            ],
        ),
        # revenue mart -> lakehouse (1) -> experiment (2) -> model (3) -> report (4)
        (
            ("snowflake://acme.eu-west-1", "ANALYTICS.MARTS.FCT_REVENUE"),
            {"MODEL", "REPORT"},
            [
                (
                    "abfss://acme-analytics@onelake.dfs.fabric.microsoft.com/"
                    "sales.Lakehouse/Files/models/sales-forecast/",
                    3,
                ),
                ("fabric://acme-analytics/reports/Sales forecast", 4),
            ],
        ),
    ],
)
def test_models_affected_by_a_table(
    root: tuple[str, str], types: set[str], expected: list[tuple[str, int]]
) -> None:
    found = run(impact(_demo_reader(), NS, _label(*root), types=frozenset(types)))
    assert names(found.datasets) == expected


def test_demo_stream_starts_with_every_job_and_types_its_ml_datasets() -> None:
    jobs = [job for job, _, _, _ in _demo_estate()] + [job for job, _, _, _ in ML_ESTATE]
    messages = [json.loads(value) for _, value in islice(demo_events(seed=3), 200)]
    run_jobs = list(dict.fromkeys((m["job"]["namespace"], m["job"]["name"]) for m in messages))
    assert run_jobs[: len(jobs)] == jobs
    typed: dict[tuple[str, str], str] = {}
    for m in messages:
        for ds in [*m["inputs"], *m["outputs"]]:
            typed[(ds["namespace"], ds["name"])] = ds["facets"]["datasetType"]["datasetType"]
    for _, _, ins, outs in ML_ESTATE:
        for ns, nm, kind in [*ins, *outs]:
            assert typed[(ns, nm)] == kind
