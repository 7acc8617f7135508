"""The lineage page in a real headless Chromium, against a real worker.

A scenario goes through the openlineage-python client's Kafka transport into
a worker; the page is opened, a dataset searched with the keyboard and
focused, and the drawn datasets and edges are checked against the scenario's
graph, written out by hand below. Then a node, an edge, the depth control,
the impact view with its CSV, the operations strip, a phone-sized window, and
a graph of thousands of datasets (drawn up to the cap, with the cut said).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import urlencode

import jsonschema
import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import dataset_type_dataset
from openlineage.client.transport.kafka import KafkaConfig, KafkaTransport
from selenium.webdriver.common.keys import Keys

from tests.browser.conftest import DESKTOP, PHONE, Page
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python"
DRAW_CAP = 250  # the page's cap (layout.js), documented in docs/ui.md
API_NODE_LIMIT = 1000  # the API's default node cap, which the page keeps

Dataset = tuple[str, str]
PG_ORDERS: Dataset = ("postgres://db:5432", "public.orders")
PG_CUST: Dataset = ("postgres://db:5432", "public.customers")
STG: Dataset = ("snowflake://acme", "RAW.STG_ORDERS")
CUST: Dataset = ("snowflake://acme", "RAW.CUSTOMERS")
S3: Dataset = ("s3://exports", "orders.parquet")
COPY: Dataset = ("snowflake://acme", "RAW.ORDERS_COPY")
INTERNAL = {STG, CUST, COPY}
TYPES = {
    PG_ORDERS: "External Node",
    PG_CUST: "External Node",
    S3: "External Node",
    STG: "VIEW",  # from the datasetType facet of the first event
    CUST: "TABLE",
    COPY: "TABLE",
}
R1, R2, R3, R4, R5, R6, R7 = (f"01930000-0000-7000-8000-0000000000A{i}" for i in range(1, 8))


def key(ds: Dataset) -> str:
    return f"{ds[0]}\x00{ds[1]}"


def edge(a: Dataset, b: Dataset) -> tuple[str, str, str, str]:
    return (*a, *b)


def event(
    state: RunState,
    when: str,
    run_id: str,
    job: Dataset,
    inputs: list[Dataset],
    outputs: list[Dataset],
    types: dict[Dataset, str] | None = None,
) -> RunEvent:
    types = types or {}

    def facets(ds: Dataset) -> dict[str, object]:
        if ds not in types:
            return {}
        return {"datasetType": dataset_type_dataset.DatasetTypeDatasetFacet(datasetType=types[ds])}

    return RunEvent(
        eventType=state,
        eventTime=when,
        run=Run(runId=run_id),
        job=Job(namespace=job[0], name=job[1]),
        producer=PRODUCER,
        inputs=[InputDataset(namespace=ns, name=n, facets=facets((ns, n))) for ns, n in inputs],
        outputs=[OutputDataset(namespace=ns, name=n, facets=facets((ns, n))) for ns, n in outputs],
    )


def publish(stack: Stack, events: list[RunEvent]) -> None:
    client = OpenLineageClient(
        transport=KafkaTransport(
            KafkaConfig(
                topic=stack.input_topic, config={"bootstrap.servers": stack.bootstrap}, flush=True
            )
        )
    )
    for ev in events:
        client.emit(ev)


# The graph, by hand: PG_ORDERS -> STG -> S3 -> COPY, and PG_CUST -> CUST -> S3.
SCENARIO = [
    event(
        RunState.COMPLETE,
        "2026-03-01T10:00:00Z",
        R1,
        ("dbt", "stg_orders"),
        [PG_ORDERS],
        [STG],
        types={STG: "VIEW"},
    ),
    event(RunState.COMPLETE, "2026-03-02T10:00:00Z", R2, ("dbt", "stg_orders"), [PG_ORDERS], [STG]),
    event(
        RunState.COMPLETE,
        "2026-03-01T11:00:00Z",
        R3,
        ("airflow", "load_customers"),
        [PG_CUST],
        [CUST],
    ),
    event(RunState.COMPLETE, "2026-03-03T10:00:00Z", R4, ("airflow", "export"), [STG, CUST], [S3]),
    event(RunState.COMPLETE, "2026-03-04T10:00:00Z", R5, ("spark", "copy_back"), [S3], [COPY]),
    event(RunState.START, "2026-03-04T09:00:00Z", R5, ("spark", "copy_back"), [S3], [COPY]),
    # Both sides external: a dead letter (mix_rule_external_only), no edge.
    event(RunState.COMPLETE, "2026-03-05T10:00:00Z", R6, ("spark", "bad"), [S3], [PG_ORDERS]),
]


def graph_url(worker_url: str, ds: Dataset, depth: int = 3, view: str = "graph") -> str:
    return f"{worker_url}/#/{view}?{urlencode({'namespace': ds[0], 'name': ds[1], 'depth': depth})}"


def check_drawn(page: Page, expected: dict[Dataset, int], edges: set[tuple[str, ...]]) -> None:
    """The drawn datasets (with their signed distances) and edges are exactly these;
    columns run left to right by distance; sides and types are shown."""
    nodes = page.drawn_nodes()
    assert {(n["namespace"], n["name"]): n["distance"] for n in nodes} == expected
    assert page.drawn_edges() == edges
    x_of = {}
    for n in nodes:
        ds = (n["namespace"], n["name"])
        x_of.setdefault(n["distance"], set()).add(n["x"])
        assert n["badge"] == ("INT" if ds in INTERNAL else "EXT"), n
        assert n["type"] == TYPES[ds]
        assert n["sub"].startswith(TYPES[ds]), n
        assert n["focus"] == (n["distance"] == 0)
    # one x per column, increasing with the distance (upstream on the left)
    columns = sorted(x_of)
    assert all(len(x_of[d]) == 1 for d in columns)
    xs = [next(iter(x_of[d])) for d in columns]
    assert xs == sorted(xs)
    assert len(set(xs)) == len(xs)
    fills = {n["badge"]: n["fill"] for n in nodes}
    if len(fills) == 2:
        assert fills["INT"] != fills["EXT"]  # colour as well as the label


def test_search_focus_click_through_impact_and_phone(
    stack: Stack, page: Page, artefacts: Path
) -> None:
    worker = stack.start_worker()
    publish(stack, SCENARIO)
    worker.wait_for(lambda: worker.metric("lineage_events_consumed_total") >= len(SCENARIO))
    worker.wait_for(lambda: worker.metric("lineage_graph_edges") == 5, timeout=15)

    page.viewport(*DESKTOP)
    page.open(worker.url + "/")

    # Keyboard search: type, arrow down to the option, Enter.
    box = page.css("#search")
    box.send_keys("EXPORTS")  # the namespace, in another case
    options = page.wait(
        lambda: page.css_all("#search-results [role=option]"), what="search results"
    )
    assert [(o.get_attribute("data-namespace"), o.get_attribute("data-name")) for o in options] == [
        S3
    ]
    box.send_keys(Keys.ARROW_DOWN, Keys.ENTER)
    page.wait_ready(key(S3))

    # Depth 3 around S3: everything upstream of it (two hops) and COPY downstream.
    full = {S3: 0, STG: -1, CUST: -1, PG_ORDERS: -2, PG_CUST: -2, COPY: 1}
    full_edges = {
        edge(PG_ORDERS, STG),
        edge(PG_CUST, CUST),
        edge(STG, S3),
        edge(CUST, S3),
        edge(S3, COPY),
    }
    check_drawn(page, full, full_edges)
    assert page.focus_in_view()
    assert page.css("#drawn-count").text == "6 datasets and 5 edges drawn."
    assert not page.css_all("#depth-cut")
    assert not page.css_all("#cut-count")
    details = page.details()
    assert details["kind"] == "node"
    assert (details["namespace"], details["name"], details["type"]) == (*S3, "External Node")
    assert details["side"] == "EXT external"

    # The edge PG_ORDERS -> STG: its jobs and attributes.
    page.click_edge('.edge[data-source-name="public.orders"]')
    page.wait(lambda: page.details()["kind"] == "edge", what="edge details")
    details = page.details()
    assert details["source"] == "postgres://db:5432/public.orders"
    assert details["target"] == "snowflake://acme/RAW.STG_ORDERS"
    assert details["jobs"] == "dbt/stg_orders"
    assert details["firstSeen"] == "2026-03-01T10:00:00.000000Z"
    assert details["lastSeen"] == "2026-03-02T10:00:00.000000Z"
    assert details["lastRunId"] == R2.lower()
    assert details["events"] == "2"
    page.screenshot(artefacts, "desktop-edge.png")

    # Depth 1: the two-hop datasets go, and the page says it cut at depth 1.
    depth = page.css("#depth")
    depth.clear()
    depth.send_keys("1", Keys.ENTER)
    page.wait(lambda: "depth=1" in page.driver.current_url, what="depth 1 in the URL")
    page.wait_ready(key(S3))
    page.wait(lambda: len(page.drawn_nodes()) == 4, what="4 datasets at depth 1")
    check_drawn(
        page,
        {S3: 0, STG: -1, CUST: -1, COPY: 1},
        {edge(STG, S3), edge(CUST, S3), edge(S3, COPY)},
    )
    assert "Cut at depth 1" in page.css("#depth-cut").text

    # Click a node: the graph re-centres on it (depth 1 kept) and shows its details.
    depth.clear()
    depth.send_keys("3", Keys.ENTER)
    page.wait(lambda: len(page.drawn_nodes()) == 6, what="6 datasets at depth 3")
    page.css('.node[data-name="RAW.STG_ORDERS"]').click()
    page.wait_ready(key(STG))
    check_drawn(
        page,
        {STG: 0, PG_ORDERS: -1, S3: 1, COPY: 2},
        {edge(PG_ORDERS, STG), edge(STG, S3), edge(S3, COPY)},
    )
    details = page.details()
    assert (details["namespace"], details["name"], details["type"]) == (*STG, "VIEW")
    assert details["side"] == "INT internal"
    assert details["upstream"] == "1 dataset within depth 3"
    assert details["downstream"] == "2 datasets within depth 3"

    # Back to PG_ORDERS by clicking it, then its impact: everything downstream.
    page.css('.node[data-name="public.orders"]').click()
    page.wait_ready(key(PG_ORDERS))
    page.css("#details-impact").click()
    page.wait(lambda: page.css_all("#impact-table tbody tr"), what="impact rows")
    rows = page.js(
        "return [...document.querySelectorAll('#impact-table tbody tr')].map((r) => "
        "[Number(r.dataset.distance), r.dataset.namespace, r.dataset.name])"
    )
    assert [tuple(r) for r in rows] == [(1, *STG), (2, *S3), (3, *COPY)]
    csv = page.driver.execute_async_script(
        "const done = arguments[0];"
        "fetch(document.getElementById('impact-csv').href).then((r) => r.text()).then(done);"
    )
    assert csv.splitlines() == [
        "distance,namespace,name,type,internal",
        "1,snowflake://acme,RAW.STG_ORDERS,VIEW,true",
        "2,s3://exports,orders.parquet,External Node,false",
        "3,snowflake://acme,RAW.ORDERS_COPY,TABLE,true",
    ]
    assert page.css("#impact-csv").get_attribute("download") == "impact-public.orders.csv"

    # The operations strip, refreshed live: rates after two polls, dead letters
    # by reason, generation, lag.
    def ops(metric: str) -> str:
        return str(page.css(f'#ops [data-metric="{metric}"] .ops-value').text)

    page.wait(lambda: re.fullmatch(r"[0-9.,]+/s", ops("accepted")), what="a rate")
    assert ops("dlq") == "mix_rule_external_only 1"
    assert ops("generation") == "1"
    assert ops("lag") == "0"
    assert ops("rebuild") == "idle"
    assert ops("graph") == "6 datasets, 5 edges"
    # What the strip reads, as the OpenAPI document describes it.
    doc = worker.get_json("/openapi.json")
    status = worker.get_json("/api/v1/status")
    spec = doc["paths"]["/api/v1/status"]["get"]["responses"]["200"]["content"]
    schema = {**spec["application/json"]["schema"], "components": doc["components"]}
    jsonschema.Draft202012Validator(schema).validate(status)
    # Seven messages: five accepted, the START ignored, the external-only one dead-lettered.
    assert status["events"] == {
        "consumed": 7,
        "accepted": 5,
        "duplicate": 0,
        "ignored": 1,
        "rejected": 1,
    }
    assert {r: n for r, n in status["deadLetters"].items() if n} == {"mix_rule_external_only": 1}
    page.screenshot(artefacts, "desktop-impact.png")
    assert page.no_horizontal_overflow()

    # A phone-sized window: no sideways page scroll; search and graph reachable.
    page.viewport(*PHONE, mobile=True)
    try:
        page.open(graph_url(worker.url, S3))
        page.wait_ready(key(S3))
        check_drawn(page, full, full_edges)
        assert page.focus_in_view()
        assert page.no_horizontal_overflow()
        width = page.js("return window.innerWidth")
        search = page.css("#search")
        assert search.is_displayed()
        left, right = page.js(
            "const r = arguments[0].getBoundingClientRect(); return [r.left, r.right]", search
        )
        assert 0 <= left < right <= width
        graph = page.css("#graph")
        assert graph.is_displayed()
        assert page.js("return arguments[0].getBoundingClientRect().right", graph) <= width
        # The graph scrolls inside its box, and a tap on a node still re-centres.
        page.css('.node[data-name="RAW.ORDERS_COPY"]').click()
        page.wait_ready(key(COPY))
        search.send_keys("customers")
        page.wait(lambda: len(page.css_all("#search-results [role=option]")) == 2, what="2 options")
        page.css('#search-results [data-name="public.customers"]').click()
        page.wait_ready(key(PG_CUST))
        check_drawn(
            page,
            {PG_CUST: 0, CUST: 1, S3: 2, COPY: 3},
            {
                edge(PG_CUST, CUST),
                edge(CUST, S3),
                edge(S3, COPY),
            },
        )
        assert page.no_horizontal_overflow()
        page.screenshot(artefacts, "phone.png")
    finally:
        page.viewport(*DESKTOP)


HUB: Dataset = ("postgres://warehouse:5432", "public.events")
LEAVES = 3000


def test_thousands_of_datasets_are_capped_and_stay_responsive(
    stack: Stack, page: Page, artefacts: Path
) -> None:
    worker = stack.start_worker()
    per_event = 100
    events = [
        event(
            RunState.COMPLETE,
            "2026-03-01T10:00:00Z",
            f"01930000-0000-7000-8000-{i:012x}",
            ("spark", f"fan_out_{i}"),
            [HUB],
            [("snowflake://acme", f"RAW.EVENTS_{i * per_event + j:05d}") for j in range(per_event)],
        )
        for i in range(LEAVES // per_event)
    ]
    publish(stack, events)
    worker.wait_for(lambda: worker.metric("lineage_graph_edges") == LEAVES, timeout=60)

    page.viewport(*DESKTOP)
    started = time.monotonic()
    page.open(graph_url(worker.url, HUB, depth=1))
    page.wait_ready(key(HUB), timeout=60)
    drawn_in = time.monotonic() - started

    # The API answers the hub and its 999 nearest (by id) leaves, and says it cut;
    # the page draws 250 of those and says how many it left out.
    nodes = page.drawn_nodes()
    assert len(nodes) == DRAW_CAP
    assert page.focus_in_view()  # the hub, halfway down a column of 249
    assert len(page.drawn_edges()) == DRAW_CAP - 1
    assert page.css("#drawn-count").text == f"{DRAW_CAP} datasets and {DRAW_CAP - 1} edges drawn."
    cut = API_NODE_LIMIT - DRAW_CAP
    assert page.css("#cut-count").text.startswith(f"{cut} datasets not drawn")
    assert page.css_all("#server-cut-downstream")
    assert not page.css_all("#server-cut-upstream")
    mark = page.css(".cut-mark")
    assert mark.text == f"+{cut} not drawn"

    # Responsive: an edge click is handled (details shown) well within a second
    # of page time, and a re-centre on a leaf comes back promptly.
    handled_ms = page.js(
        """
        const edge = document.querySelector('#graph .edge');
        const t0 = performance.now();
        edge.dispatchEvent(new MouseEvent('click', {bubbles: true}));
        const kind = document.querySelector('#details h2').dataset.kind;
        return kind === 'edge' ? performance.now() - t0 : -1;
        """
    )
    assert 0 <= handled_ms < 500, handled_ms
    leaf = nodes[-1]
    started = time.monotonic()
    page.css(f'.node[data-name="{leaf["name"]}"]').click()
    page.wait_ready(key((leaf["namespace"], leaf["name"])), timeout=30)
    recentred_in = time.monotonic() - started
    assert {(n["namespace"], n["name"]) for n in page.drawn_nodes()} == {
        HUB,
        (leaf["namespace"], leaf["name"]),
    }
    print(f"3,000-leaf graph drawn in {drawn_in:.1f} s; edge click handled in {handled_ms:.0f} ms;")
    print(f"re-centred on a leaf in {recentred_in:.1f} s")
    assert recentred_in < 15
    page.open(graph_url(worker.url, HUB, depth=1))
    page.wait_ready(key(HUB), timeout=60)
    page.screenshot(artefacts, "desktop-capped.png")


def test_with_a_token_the_page_asks_for_it_once_and_keeps_it(stack: Stack, page: Page) -> None:
    token = "browser-test-token-0123456789"
    worker = stack.start_worker(LINEAGE_HTTP_TOKEN=token)
    publish(stack, SCENARIO)
    worker.wait_for(lambda: worker.metric("lineage_graph_edges") == 5, timeout=15)
    assert worker.http_get("/api/v1/status")[0] == 401
    assert worker.http_get("/")[0] == 200  # the shell is public: it holds no data

    page.viewport(*DESKTOP)
    page.open(graph_url(worker.url, S3))

    def prompt_open() -> bool:
        return bool(page.js("return document.getElementById('token-dialog').open"))

    # The API answers 401: the prompt opens; a wrong token is refused and asked again.
    page.wait(prompt_open, what="the token prompt")
    page.css("#token-input").send_keys("not-the-token-at-all", Keys.ENTER)
    page.wait(lambda: "refused" in page.css("#token-message").text, what="a second prompt")
    assert prompt_open()
    box = page.css("#token-input")
    box.clear()
    box.send_keys(token, Keys.ENTER)
    page.wait_ready(key(S3))
    assert not prompt_open()
    page.wait(lambda: page.css('#ops [data-metric="generation"]'), what="the operations strip")
    assert page.js("return sessionStorage.getItem('lineage.token')") == token

    # A reload in the same tab keeps the token: no prompt, the graph comes back.
    page.driver.refresh()
    page.wait_ready(key(S3))
    assert not prompt_open()
    assert len(page.drawn_nodes()) == 6
