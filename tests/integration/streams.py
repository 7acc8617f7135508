"""Deterministic, realistic message streams for integration tests, and their pure fold.

:func:`mixed_stream` builds a stream of OpenLineage messages the way a small
data platform produces them: a few dozen datasets (internal ``snowflake://``
tables and external databases, buckets, topics and APIs), a dozen jobs from
several tools, each run announced by a START and finished by a COMPLETE (some
by a FAIL, a few with RUNNING in between), event times spread over ten days and
arriving out of order, about 10% exact redeliveries (the same key and bytes
again), jobs whose lineage stays on one side of the internal/external line
(dead-lettered by the mix rule), a few static DatasetEvent/JobEvent messages
and a few truncated messages. Every event is serialised by the openlineage-python
client (``tests.events.ol_event``) and keyed as its Kafka transport keys it
(``run:{job namespace}/{job name}``).

It also gives control-topic delete requests whose ``requestedAt`` lies in the
middle of the event times, so that some deleted edges stay hidden (their jobs
stopped running before the delete) and some come back (newer runs).

:func:`expected_graph_of` is the pure fold of such a stream (events and deletes),
the reference a worker's Redis graph must match; :func:`expected_outcomes`
counts what the worker must report for each message.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from processor.core.control import parse_control
from processor.core.fold import Graph
from processor.core.message_keys import message_key
from processor.core.pipeline import Accepted, Classified, Ignored, Limits, Rejected, classify
from processor.core.rules import MixRule
from tests.events import ol_dataset_event, ol_event, ol_job_event
from tests.integration.conftest import expected_graph

__all__ = [
    "DEFAULT_RULE",
    "MID_TIME",
    "MixedStream",
    "Outcomes",
    "delete_effects",
    "expected_graph_of",
    "expected_outcomes",
    "mixed_stream",
]

Pair = tuple[str, str]
Message = tuple[bytes, bytes]

DEFAULT_RULE = MixRule("mixed", ["snowflake://*"])
"""The rule the stack's workers run with (``LINEAGE_INTERNAL_NAMESPACES=snowflake://*``)."""

START_TIME = datetime(2026, 3, 1, tzinfo=UTC)
SPAN = timedelta(days=10)
MID_TIME = "2026-03-06T00:00:00Z"
"""The ``requestedAt`` of most deletes: halfway through the event times."""

# ------------------------------------------------------------------ datasets

SF = "snowflake://acme"
SF_EU = "snowflake://acme-eu"
ORDERS_DB = "postgres://orders-db.prod:5432"
CRM_DB = "postgres://crm-db.prod:5432"
LEGACY_DB = "mysql://legacy-db.prod:3306"
KAFKA = "kafka://events.prod:9092"
LANDING = "s3://acme-landing"
EXPORTS = "s3://acme-exports"
ARCHIVE = "s3://acme-archive"
PARTNER = "gs://partner-feed"
BQ = "bigquery"
STRIPE = "https://api.stripe.com"

PG_ORDERS = (ORDERS_DB, "orders.public.orders")
PG_ORDER_ITEMS = (ORDERS_DB, "orders.public.order_items")
CRM_CUSTOMERS = (CRM_DB, "crm.public.customers")
CRM_LTV = (CRM_DB, "crm.public.customer_ltv")
LEGACY_INVOICES = (LEGACY_DB, "legacy.invoices")
CLICKSTREAM = (KAFKA, "clickstream")
LANDING_CHARGES = (LANDING, "payments/charges/")
LANDING_EU_ORDERS = (LANDING, "eu/orders/")
LANDING_PARTNER = (LANDING, "partner/daily/")
EXPORT_REVENUE = (EXPORTS, "revenue/daily/")
EXPORT_SEGMENTS = (EXPORTS, "customers/segments/")
ARCHIVE_REVENUE = (ARCHIVE, "revenue/")
PARTNER_FEED = (PARTNER, "feed/daily/")
BQ_CAMPAIGNS = (BQ, "marketing.campaigns")
STRIPE_CHARGES = (STRIPE, "v1/charges")

RAW_ORDERS = (SF, "RAW.ORDERS.ORDERS")
RAW_ORDER_ITEMS = (SF, "RAW.ORDERS.ORDER_ITEMS")
RAW_CUSTOMERS = (SF, "RAW.CRM.CUSTOMERS")
RAW_CLICKS = (SF, "RAW.EVENTS.CLICKS")
RAW_CHARGES = (SF, "RAW.PAYMENTS.CHARGES")
RAW_INVOICES = (SF, "RAW.FINANCE.INVOICES")
STG_ORDERS = (SF, "STAGING.STG_ORDERS")
STG_CUSTOMERS = (SF, "STAGING.STG_CUSTOMERS")
FCT_REVENUE = (SF, "ANALYTICS.MARTS.FCT_REVENUE")
DIM_CUSTOMER = (SF, "ANALYTICS.MARTS.DIM_CUSTOMER")
FCT_SESSIONS = (SF, "ANALYTICS.MARTS.FCT_SESSIONS")
FCT_PAYMENTS = (SF, "ANALYTICS.MARTS.FCT_PAYMENTS")
EU_RAW_ORDERS = (SF_EU, "RAW.EU.ORDERS")
EU_FCT_REVENUE = (SF_EU, "ANALYTICS.EU.FCT_REVENUE")

# datasetType facets a producer may attach; two choices make "newest wins" matter
TYPE_CHOICES: dict[Pair, tuple[str, ...]] = {
    RAW_ORDERS: ("TABLE",),
    RAW_CLICKS: ("TABLE", "STREAM"),
    FCT_REVENUE: ("TABLE", "VIEW"),
    DIM_CUSTOMER: ("VIEW",),
    CLICKSTREAM: ("STREAM",),
    EXPORT_REVENUE: ("FILE", "DIRECTORY"),
}


@dataclass(frozen=True)
class JobSpec:
    """A job: what it reads and writes, how often it runs, and during which share of
    the ten days (``window`` as fractions of the span)."""

    job: Pair
    inputs: tuple[Pair, ...]
    outputs: tuple[Pair, ...]
    weight: float
    window: tuple[float, float] = (0.0, 1.0)


JOBS: tuple[JobSpec, ...] = (
    JobSpec(
        ("airbyte://prod", "ingest_orders"),
        (PG_ORDERS, PG_ORDER_ITEMS),
        (RAW_ORDERS, RAW_ORDER_ITEMS),
        3,
    ),
    JobSpec(("airbyte://prod", "ingest_crm"), (CRM_CUSTOMERS,), (RAW_CUSTOMERS,), 2),
    # retired halfway: its edges are last seen before the deletes
    JobSpec(("spark://prod", "clickstream_sink"), (CLICKSTREAM,), (RAW_CLICKS,), 2, (0.0, 0.45)),
    JobSpec(
        ("airflow://prod", "load_payments"),
        (LANDING_CHARGES, STRIPE_CHARGES),
        (RAW_CHARGES,),
        2,
    ),
    JobSpec(
        ("airflow://prod", "legacy_invoices"), (LEGACY_INVOICES,), (RAW_INVOICES,), 1, (0.0, 0.4)
    ),
    # internal only: dead-lettered as mix_rule_internal_only
    JobSpec(
        ("dbt://acme", "staging"),
        (RAW_ORDERS, RAW_CUSTOMERS, RAW_ORDER_ITEMS),
        (STG_ORDERS, STG_CUSTOMERS),
        2,
    ),
    # mixed: the BigQuery input crosses, the staging input is same-side (skipped)
    JobSpec(
        ("dbt://acme", "marts"),
        (STG_ORDERS, STG_CUSTOMERS, BQ_CAMPAIGNS),
        (FCT_REVENUE, DIM_CUSTOMER),
        2,
    ),
    JobSpec(
        ("airflow://prod", "reverse_etl.export_revenue"),
        (FCT_REVENUE, DIM_CUSTOMER),
        (EXPORT_REVENUE, CRM_LTV, EXPORT_SEGMENTS),
        2,
    ),
    JobSpec(("flink://prod", "sessionize"), (CLICKSTREAM, RAW_CLICKS), (FCT_SESSIONS,), 2),
    JobSpec(("dbt://acme", "payments"), (RAW_CHARGES, STRIPE_CHARGES), (FCT_PAYMENTS,), 1),
    # external only: dead-lettered as mix_rule_external_only
    JobSpec(("airflow://prod", "partner_sync"), (PARTNER_FEED,), (LANDING_PARTNER,), 1),
    JobSpec(("spark://prod", "archive_exports"), (EXPORT_REVENUE,), (ARCHIVE_REVENUE,), 1),
    JobSpec(("airflow://eu", "load_eu_orders"), (LANDING_EU_ORDERS,), (EU_RAW_ORDERS,), 1),
    JobSpec(("dbt://acme-eu", "eu_marts"), (EU_RAW_ORDERS, PG_ORDERS), (EU_FCT_REVENUE,), 1),
)


class MixedStream(NamedTuple):
    """``events``: (key, value) for the input topic, in publishing order;
    ``deletes``: values for the control topic."""

    events: list[Message]
    deletes: list[bytes]


def _ref(ds: Pair) -> dict[str, str]:
    return {"namespace": ds[0], "name": ds[1]}


def delete_value(source: Pair | None, target: Pair | None, requested_at: str) -> bytes:
    """A control-topic delete request (docs/design.md section 5)."""
    message: dict[str, object] = {"op": "delete"}
    if source is not None:
        message["source"] = _ref(source)
    if target is not None:
        message["target"] = _ref(target)
    message["requestedAt"] = requested_at
    return json.dumps(message).encode()


def _time(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _keyed(value: bytes) -> Message:
    key = message_key(json.loads(value))
    assert key is not None
    return key, value


def _subset(rng: random.Random, items: tuple[Pair, ...]) -> list[Pair]:
    """All of ``items`` most of the time, sometimes a non-empty part of them."""
    if len(items) == 1 or rng.random() < 0.75:
        return list(items)
    return rng.sample(list(items), rng.randint(1, len(items) - 1))


def _run(rng: random.Random, seed: int, index: int) -> list[tuple[datetime, bytes]]:
    """The messages of one run of a job: START, maybe RUNNING, then COMPLETE or FAIL."""
    spec = rng.choices(JOBS, weights=[j.weight for j in JOBS])[0]
    lo, hi = spec.window
    started = START_TIME + SPAN * rng.uniform(lo, hi)
    ended = started + timedelta(seconds=rng.randint(20, 3600), microseconds=rng.randint(0, 999))
    run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"mixed-stream/{seed}/{index}"))
    inputs, outputs = _subset(rng, spec.inputs), _subset(rng, spec.outputs)
    types = {ds: rng.choice(TYPE_CHOICES[ds]) for ds in inputs + outputs if ds in TYPE_CHOICES}

    def event(kind: str, at: datetime) -> tuple[datetime, bytes]:
        value = ol_event(
            kind,
            job=spec.job,
            inputs=inputs,
            outputs=outputs,
            event_time=_time(at),
            run_id=run_id,
            dataset_types=types if kind == "COMPLETE" else None,
        )
        return at, value

    out = [event("START", started)] if rng.random() < 0.5 else []
    if rng.random() < 0.1:
        out.append(event("RUNNING", started + (ended - started) / 2))
    out.append(event("FAIL" if rng.random() < 0.06 else "COMPLETE", ended))
    return out


def mixed_stream(seed: int = 0, messages: int = 3000) -> MixedStream:
    """A deterministic stream of exactly ``messages`` input messages, and its deletes.

    Composition (of ``messages``): ~10% exact redeliveries (a tenth of them
    accepted events re-sent under another key, see below), ~1% static
    DatasetEvent/JobEvent, ~0.5% truncated JSON, the rest runs of :data:`JOBS`
    (START + COMPLETE/FAIL, some RUNNING). Same ``seed``, same bytes.
    """
    rng = random.Random(seed)
    duplicates = messages // 10
    statics = max(2, messages // 100)
    broken = max(2, messages // 200)
    fresh_target = messages - duplicates - statics - broken

    timed: list[tuple[datetime, bytes]] = []
    index = 0
    while len(timed) < fresh_target:
        timed.extend(_run(rng, seed, index))
        index += 1
    del timed[fresh_target:]  # may cut the last run short: a run still going
    for i in range(statics):
        at = START_TIME + SPAN * rng.random()
        spec = rng.choice(JOBS)
        if i % 2:
            value = ol_job_event(spec.job, spec.inputs, spec.outputs, _time(at))
        else:
            value = ol_dataset_event(rng.choice(spec.outputs), _time(at))
        timed.append((at, value))

    # Publishing order: roughly by event time, with late arrivals of up to a day.
    timed.sort(key=lambda tv: tv[0] + timedelta(hours=rng.uniform(0, 24)))
    events = [_keyed(value) for _, value in timed]

    for _ in range(broken):  # a producer cut off mid-message: same key, half the bytes
        i = rng.randrange(len(events))
        key, value = events[i]
        events.insert(i + 1, (key, value[: len(value) // 2]))
    replays = 0
    while replays < duplicates // 10:
        # A replay tool re-sending accepted events keyed by run id: the copy
        # usually lands on another partition than the original, so with several
        # workers two of them may fold the same event (the fold is idempotent and
        # the dedup mark atomic, so exactly one counts it as accepted).
        i = rng.randrange(len(events))
        c = classify(events[i][1], DEFAULT_RULE, Limits())
        if isinstance(c, Classified) and isinstance(c.outcome, Accepted):
            run_id = json.loads(events[i][1])["run"]["runId"]
            events.insert(rng.randint(i + 1, len(events)), (f"run:{run_id}".encode(), events[i][1]))
            replays += 1
    for _ in range(duplicates - replays):  # redelivered later: same key, same bytes
        i = rng.randrange(len(events))
        events.insert(rng.randint(i + 1, len(events)), events[i])
    assert len(events) == messages

    deletes = [
        # this edge keeps being produced after the delete: it comes back
        delete_value(PG_ORDERS, RAW_ORDERS, MID_TIME),
        # every edge out of a source whose only job was retired: stays hidden
        delete_value(LEGACY_INVOICES, None, MID_TIME),
        # one edge of a retired job: hidden; CLICKSTREAM stays visible (sessionize)
        delete_value(CLICKSTREAM, RAW_CLICKS, MID_TIME),
        # every edge into a target: they come back with the next runs
        delete_value(None, CRM_LTV, MID_TIME),
        # the same delete again, an hour earlier: changes nothing
        delete_value(None, CRM_LTV, "2026-03-05T23:00:00Z"),
        # after every event: this edge is gone for good
        delete_value(STRIPE_CHARGES, FCT_PAYMENTS, "2026-03-20T00:00:00Z"),
        # an edge that never existed: a tombstone with nothing under it
        delete_value(PG_ORDER_ITEMS, FCT_SESSIONS, MID_TIME),
    ]
    return MixedStream(events, deletes)


# ------------------------------------------------------------------ expectations


def expected_graph_of(
    values: Sequence[bytes | None], deletes: Sequence[bytes], rule: MixRule | None = None
) -> Graph:
    """The pure fold of these input values and control-topic deletes."""
    graph = expected_graph(values, rule or DEFAULT_RULE)
    for raw in deletes:
        request = parse_control(raw)
        assert not isinstance(request, Rejected), request
        graph.delete(request)
    return graph


def delete_effects(graph: Graph) -> tuple[int, int]:
    """(edges hidden by a delete, edges covered by a delete but back since)."""
    hidden = back = 0
    for edge in graph.edges.values():
        until = graph.deleted_until(edge.source, edge.target)
        if until:
            if edge.last_seen > until:
                back += 1
            else:
                hidden += 1
    return hidden, back


@dataclass(frozen=True)
class Outcomes:
    """What a worker must count for a stream, whatever the order of processing."""

    accepted: int
    duplicate: int
    ignored: Counter[str]
    rejected: Counter[str]

    @property
    def total(self) -> int:
        return (
            self.accepted
            + self.duplicate
            + sum(self.ignored.values())
            + sum(self.rejected.values())
        )


def expected_outcomes(values: Sequence[bytes | None], rule: MixRule | None = None) -> Outcomes:
    """Outcome counts of docs/design.md section 3: messages rejected before dedup count
    every time; of the valid ones, the first copy of each content hash has its
    outcome and the others are duplicates."""
    rule, limits = rule or DEFAULT_RULE, Limits()
    accepted = duplicate = 0
    ignored: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    seen: set[str] = set()
    for value in values:
        c = classify(value, rule, limits)
        if isinstance(c, Rejected):
            rejected[c.reason] += 1
            continue
        assert isinstance(c, Classified)
        if c.content_hash in seen:
            duplicate += 1
            continue
        seen.add(c.content_hash)
        outcome = c.outcome
        if isinstance(outcome, Accepted):
            accepted += 1
        elif isinstance(outcome, Rejected):
            rejected[outcome.reason] += 1
        else:
            assert isinstance(outcome, Ignored)
            ignored[outcome.event_type] += 1
    return Outcomes(accepted, duplicate, ignored, rejected)
