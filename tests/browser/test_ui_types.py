"""Dataset types on the page, in a real headless Chromium against a real worker:
the first screen (counts by type, most connected), each type's outline, the
impact's type filter and the jobs drawn as nodes, against an ML pipeline
written out by hand below and published through the openlineage-python client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from openlineage.client.event_v2 import RunState

from tests.browser.conftest import DESKTOP, Page
from tests.browser.test_ui_browser import Dataset, event, key, publish
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

SF = "snowflake://acme"
CUSTOMERS: Dataset = ("postgres://db:5432", "public.customers")
FEATURES: Dataset = (SF, "ML.FEATURES.CUSTOMER")
TRAINING: Dataset = ("s3://ml", "training/churn/")
MODEL: Dataset = (SF, "ML.REGISTRY.CHURN")
SERVICE: Dataset = ("https://scoring", "/predict")
SCORES: Dataset = (SF, "ML.SCORES")
NOTES: Dataset = ("s3://ml", "notes/churn/")
TYPES = {
    CUSTOMERS: "TABLE",
    FEATURES: "FEATURE_VIEW",
    TRAINING: "DATASET",
    MODEL: "MODEL",
    SERVICE: "SERVICE",
    SCORES: "TABLE",
    NOTES: "NOTEBOOK_OUTPUT",  # no outline of its own: the generic one, and its name
}
SHAPES = {
    "TABLE": "table",
    "FEATURE_VIEW": "feature",
    "DATASET": "dataset",
    "MODEL": "model",
    "SERVICE": "service",
    "NOTEBOOK_OUTPUT": "other",
}
REFRESH = ("snowflake-ml", "features.refresh")
TRAINING_SET = ("snowflake-ml", "churn.training_set")
TRAIN = ("snowflake-ml", "churn.train")
DEPLOY = ("snowflake-ml", "churn.deploy")
SCORE = ("snowflake-ml", "churn.score")
EXPLORE = ("notebooks", "explore")
# customers -> features -> training -> model -> service -> scores, and features -> notes;
# every step crosses between snowflake:// (internal) and the rest.
STEPS = [
    (REFRESH, CUSTOMERS, FEATURES),
    (TRAINING_SET, FEATURES, TRAINING),
    (TRAIN, TRAINING, MODEL),
    (DEPLOY, MODEL, SERVICE),
    (SCORE, SERVICE, SCORES),
    (EXPLORE, FEATURES, NOTES),
]
SCENARIO = [
    event(
        RunState.COMPLETE,
        f"2026-03-0{i + 1}T10:00:00Z",
        f"01930000-0000-7000-8000-0000000001{i:02d}",
        job,
        [src],
        [dst],
        types={src: TYPES[src], dst: TYPES[dst]},
    )
    for i, (job, src, dst) in enumerate(STEPS)
]


def url(worker_url: str, view: str, ds: Dataset, depth: int, **extra: str) -> str:
    query = urlencode({"namespace": ds[0], "name": ds[1], "depth": depth, **extra})
    return f"{worker_url}/#/{view}?{query}"


def drawn(page: Page) -> list[dict[str, Any]]:
    """Every drawn node (datasets and jobs): kind, namespace, name, x, shape."""
    return list(
        page.js(
            """
            return [...document.querySelectorAll('#graph .node')].map((n) => ({
              kind: n.dataset.kind || 'dataset',
              namespace: n.dataset.namespace,
              name: n.dataset.name,
              type: n.dataset.type || null,
              x: n.transform.baseVal[0].matrix.e,
              shape: n.querySelector('.type-icon')?.dataset.shape || null,
              sub: n.querySelector('.sub').textContent,
            }));
            """
        )
    )


@pytest.fixture
def worker(stack: Stack) -> Any:
    w = stack.start_worker()
    publish(stack, SCENARIO)
    w.wait_for(lambda: w.metric("lineage_graph_edges") == len(STEPS), timeout=30)
    return w


def test_first_screen_counts_types_and_leads_to_lineage(
    worker: Any, page: Page, artefacts: Path
) -> None:
    page.viewport(*DESKTOP)
    page.open(worker.url + "/")
    page.wait(lambda: page.css_all("#type-counts button"), what="counts by type")
    counts = page.js(
        "return [...document.querySelectorAll('#type-counts button')].map((b) => "
        "[b.dataset.type, b.querySelector('.count').textContent])"
    )
    # Two tables, one of every other type; the most frequent first, then by name.
    assert counts == [
        ["TABLE", "2"],
        ["DATASET", "1"],
        ["FEATURE_VIEW", "1"],
        ["MODEL", "1"],
        ["NOTEBOOK_OUTPUT", "1"],
        ["SERVICE", "1"],
    ]
    # The feature view has three edges (in from customers, out to training and
    # notes); every other dataset one or two.
    connected = page.js(
        "return [...document.querySelectorAll('#most-connected a')].map((a) => a.dataset.name)"
    )
    assert connected[0] == FEATURES[1]
    assert set(connected) == {ds[1] for ds in TYPES}
    # Step i was seen on March i + 1: the newest first.
    recent = page.js(
        "return [...document.querySelectorAll('#recent-edges li')].map((li) => "
        "[...li.querySelectorAll('a')].map((a) => a.dataset.name))"
    )
    assert [tuple(r) for r in recent] == [(src[1], dst[1]) for _, src, dst in reversed(STEPS)]
    page.screenshot(artefacts, "first-screen.png")

    page.css('#type-counts button[data-type="TABLE"]').click()
    page.wait(lambda: page.css_all("#type-datasets a"), what="the tables")
    tables = page.js(
        "return [...document.querySelectorAll('#type-datasets a')].map((a) => "
        "[a.dataset.namespace, a.dataset.name])"
    )
    assert [tuple(t) for t in tables] == [CUSTOMERS, SCORES]
    page.css('#type-datasets a[data-name="public.customers"]').click()
    page.wait_ready(key(CUSTOMERS))


def test_each_type_has_its_outline(worker: Any, page: Page, artefacts: Path) -> None:
    page.viewport(*DESKTOP)
    page.open(url(worker.url, "graph", FEATURES, 3))
    page.wait_ready(key(FEATURES))
    nodes = drawn(page)
    # Upstream: customers (1); downstream: training and notes (1), model (2), service (3).
    assert {(n["namespace"], n["name"]) for n in nodes} == set(TYPES) - {SCORES}
    for n in nodes:
        ds = (n["namespace"], n["name"])
        assert n["type"] == TYPES[ds]
        assert n["shape"] == SHAPES[TYPES[ds]], n
        assert n["sub"].startswith(TYPES[ds])  # the name too, whatever the outline
    legend = page.js(
        "return [...document.querySelectorAll('#type-legend li')].map((li) => "
        "li.querySelector('.type-icon').dataset.shape)"
    )
    assert len(legend) == len(set(legend)) == 12  # 11 common types and the generic one
    page.screenshot(artefacts, "type-outlines.png")


def impact_rows(page: Page) -> list[tuple[int, str, str, str]]:
    rows = page.js(
        "return [...document.querySelectorAll('#impact-table tbody tr')].map((r) => "
        "[Number(r.dataset.distance), r.dataset.namespace, r.dataset.name, "
        "r.cells[2].textContent.trim()])"
    )
    return [tuple(r) for r in rows]


def test_impact_type_filter(worker: Any, page: Page, artefacts: Path) -> None:
    page.viewport(*DESKTOP)
    page.open(url(worker.url, "impact", CUSTOMERS, 3))
    page.wait(lambda: len(impact_rows(page)) == 6, what="the whole impact")
    page.wait(lambda: page.css_all("#impact-models"), what="the type filter")
    page.css("#impact-models").click()
    # customers -> features (1) -> training (2) -> model (3): the model only.
    page.wait(lambda: len(impact_rows(page)) == 1, what="models affected")
    assert impact_rows(page) == [(3, *MODEL, "MODEL")]
    assert "types=MODEL%2CMODEL_VERSION" in page.driver.current_url
    page.wait(lambda: page.css_all('#impact-models[aria-pressed="true"]'), what="chips redrawn")
    page.css('#impact-types button[data-type="SERVICE"]').click()
    page.wait(lambda: len(impact_rows(page)) == 2, what="models and services")
    assert impact_rows(page) == [(3, *MODEL, "MODEL"), (4, *SERVICE, "SERVICE")]
    page.screenshot(artefacts, "impact-models.png")
    page.css("#impact-all").click()
    page.wait(lambda: len(impact_rows(page)) == 6, what="every type again")


def test_jobs_as_nodes(worker: Any, page: Page, artefacts: Path) -> None:
    page.viewport(*DESKTOP)
    page.open(url(worker.url, "graph", MODEL, 2))
    page.wait_ready(key(MODEL))
    assert len(drawn(page)) == 5
    page.css("#jobs-toggle").click()
    page.wait(lambda: "jobs=1" in page.driver.current_url, what="jobs in the URL")
    page.wait_ready(key(MODEL))
    page.wait(lambda: any(n["kind"] == "job" for n in drawn(page)), what="job nodes")
    nodes = drawn(page)
    # Depth 2 around the model: features, training | model | service, scores,
    # and between each pair the job that made the edge, in its own column.
    order = [FEATURES, TRAINING_SET, TRAINING, TRAIN, MODEL, DEPLOY, SERVICE, SCORE, SCORES]
    x_of = {(n["namespace"], n["name"]): n["x"] for n in nodes}
    assert set(x_of) == set(order)
    assert [x_of[k] for k in order] == sorted(x_of.values())
    assert len(set(x_of.values())) == len(order)
    jobs = {(n["namespace"], n["name"]) for n in nodes if n["kind"] == "job"}
    assert jobs == {TRAINING_SET, TRAIN, DEPLOY, SCORE}
    links = {tuple(e) for e in page.js(
        "return [...document.querySelectorAll('#graph .edge')].map((e) => [e.dataset.sourceName,"
        " e.dataset.targetName])"
    )}  # fmt: skip
    assert links == {
        (FEATURES[1], TRAINING_SET[1]),
        (TRAINING_SET[1], TRAINING[1]),
        (TRAINING[1], TRAIN[1]),
        (TRAIN[1], MODEL[1]),
        (MODEL[1], DEPLOY[1]),
        (DEPLOY[1], SERVICE[1]),
        (SERVICE[1], SCORE[1]),
        (SCORE[1], SCORES[1]),
    }
    assert page.css("#drawn-count").text == "5 datasets and 4 jobs and 8 links drawn."
    page.css('.node[data-kind="job"][data-name="churn.train"]').click()
    page.wait(lambda: page.details()["kind"] == "job", what="the job's details")
    details = page.details()
    assert details["namespace"] == "snowflake-ml"
    assert details["inputs"] == "s3://ml/training/churn/ (DATASET)"
    assert details["outputs"] == "snowflake://acme/ML.REGISTRY.CHURN (MODEL)"
    page.screenshot(artefacts, "jobs-as-nodes.png")
    page.css("#jobs-toggle").click()
    page.wait(lambda: "jobs=1" not in page.driver.current_url, what="jobs off")
    page.wait(lambda: all(n["kind"] == "dataset" for n in drawn(page)), what="datasets only")
