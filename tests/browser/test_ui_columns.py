"""Column lineage on the page, in a real headless Chromium against a real
worker: a dataset's details list its columns with their upstream columns and
transformation badges (INDIRECT apart from DIRECT, masking flagged), and
choosing a column shows its lineage across datasets. The estate and what it
must show are those of ``tests.column_graph``, written by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.browser.conftest import DESKTOP, Page
from tests.column_graph import E1, E2, EVENTS, I1
from tests.integration.conftest import Stack
from tests.integration.kafka_utils import produce

pytestmark = pytest.mark.integration


def _url(worker_url: str, ds: tuple[str, str]) -> str:
    return f"{worker_url}/#/graph?{urlencode({'namespace': ds[0], 'name': ds[1], 'depth': 3})}"


def _columns(page: Page) -> list[dict[str, Any]]:
    """Each listed column: its field, and its direct and indirect inputs with badges."""
    return list(
        page.js(
            """
            const inputs = (li, cls) => [...li.querySelectorAll(`.col-${cls} .col-input`)].map(
              (i) => [i.dataset.source, [...i.querySelectorAll('.tr')].map((b) => b.textContent)]);
            return [...document.querySelectorAll('#columns .col-column')].map((li) => ({
              field: li.dataset.field,
              direct: inputs(li, 'direct'),
              indirect: inputs(li, 'indirect'),
            }));
            """
        )
    )


def test_columns_badges_and_a_columns_lineage(stack: Stack, page: Page, artefacts: Path) -> None:
    worker = stack.start_worker()
    produce(stack.bootstrap, stack.input_topic, [(b"k", v) for v in EVENTS])
    worker.wait_for(lambda: worker.metric("lineage_column_edges_folded_total") == 6, timeout=30)
    page.viewport(*DESKTOP)

    page.open(_url(worker.url, I1))
    page.wait_ready(f"{I1[0]}\x00{I1[1]}")
    page.wait(lambda: len(_columns(page)) == 3, what="the columns of RAW.ORDERS")
    src = f"{E1[0]}/{E1[1]}"
    assert _columns(page) == [
        # the whole dataset first: its GROUP_BY dependency, INDIRECT, listed apart
        {"field": "", "direct": [], "indirect": [[f"{src}.region", ["INDIRECT GROUP_BY"]]]},
        {"field": "id", "direct": [[f"{src}.id", ["DIRECT IDENTITY"]]], "indirect": []},
        {
            "field": "total",
            "direct": [[f"{src}.amount", ["DIRECT AGGREGATION"]]],
            "indirect": [[f"{src}.status", ["INDIRECT FILTER"]]],
        },
    ]
    indirect = page.css("#columns .col-indirect .tr-indirect")
    direct = page.css("#columns .col-direct .tr-direct")
    assert indirect.value_of_css_property("border-top-style") == "dashed"
    assert direct.value_of_css_property("border-top-style") == "solid"

    # The export: masking is flagged on its own badge.
    page.open(_url(worker.url, E2))
    page.wait_ready(f"{E2[0]}\x00{E2[1]}")
    page.wait(lambda: len(_columns(page)) == 2, what="the columns of exports/orders")
    masked = _columns(page)[1]
    assert masked["field"] == "total_masked"
    assert masked["direct"] == [[f"{I1[0]}/{I1[1]}.total", ["DIRECT TRANSFORMATION", "masked"]]]
    assert page.css("#columns .tr-masked").value_of_css_property("font-weight") == "700"

    # Choosing the column: its lineage across datasets, upstream by distance.
    page.css('#columns .col-column[data-field="total_masked"] .col-pick').click()
    walked = page.wait(
        lambda: page.js(
            """
            const items = [...document.querySelectorAll('#column-lineage .col-walk-item')];
            return items.length ? items.map((i) => [
              i.closest('.col-up') ? 'up' : 'down', i.dataset.column, Number(i.dataset.distance)])
              : null;
            """
        ),
        what="the column's lineage",
    )
    assert walked == [
        ["up", f"{I1[0]}/{I1[1]}.total", 1],
        ["up", f"{src}.amount", 2],
        ["up", f"{src}.status", 2],
    ]
    page.screenshot(artefacts, "desktop-columns.png")
