"""Classification's quick path (processor/core/plain_event.py) gives every
message the outcome the pydantic models give it, whatever a real event's
fields are replaced by: same content hash, same outcome, same fold."""

from __future__ import annotations

import copy
import random
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processor.core.pipeline import Limits, classify
from processor.core.plain_event import read_plain
from processor.core.rules import MixRule
from processor.samples import realistic_mix
from tests.column_events import EXT, EXT2, INT, INT2, column_event, spark_facet
from tests.events import OMIT, dataset, raw_event
from tests.mutation import drop_or_replace, random_place

RULES = [MixRule("mixed", ["snowflake://*"]), MixRule("any", ["snowflake://*"])]
LIMITS = [Limits(), Limits(strict_profile=True), Limits(max_name_length=12, max_edges_per_event=2)]


def _load(value: bytes) -> Any:
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return None


def _typed_event() -> bytes:
    return raw_event(
        inputs=[dataset("postgres://db", "public.orders", "TABLE"), dataset("s3://b", "k")],
        outputs=[dataset("snowflake://acme", "RAW.ORDERS", "VIEW")],
    )


COLUMN_EVENTS = [
    column_event({INT: spark_facet(EXT, 3, 1)}),
    column_event({INT: spark_facet(EXT, 2, 0), INT2: spark_facet(INT, 2, 1)}, inputs=(EXT, INT)),
    column_event({EXT2: spark_facet(INT, 2, 1), INT: None}, inputs=(INT,)),
]
EVENTS = [
    e
    for e in (
        _load(v)
        for v in [*(v for _, v in realistic_mix(200, seed=31) if v), *COLUMN_EVENTS, _typed_event()]
    )
    if isinstance(e, dict)
]
TEXT = st.sampled_from(
    ["", "\x00", "a\x00", "x", "COMPLETE", "START", "2026-03-01T10:00:00Z", "columnLineage"]
)
# Values one step away from what the models accept.
NASTY_VALUES: list[Any] = [
    None, "", "\x00", "a\x00b", 0, 1.5, True, [], {}, [{}], "COMPLETE", "x" * 13, "z",
    "2026-03-01T10:00:00.1234567+00:00", "2026-03-01t10:00:00Z", "2026-03-01T10:00:00+05:30",
    "2026-02-29T10:00:00Z", "3F5E2B1C-0D4E-4C8A-9B7F-1A2B3C4D5E6F", {"datasetType": "TABLE"},
    {"datasetType": {"datasetType": 1}}, {"columnLineage": []},
]  # fmt: skip
NASTY = st.sampled_from(NASTY_VALUES)
SCALARS = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | TEXT
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)


# The fields the quick path reads: half the changes go to one of them.
FIELDS = [
    ("eventType",), ("eventTime",), ("producer",), ("schemaURL",), ("run",), ("run", "runId"),
    ("run", "facets"), ("job",), ("job", "namespace"), ("job", "name"), ("job", "facets"),
    ("inputs",), ("outputs",), ("inputs", 0), ("outputs", 0), ("inputs", 0, "namespace"),
    ("inputs", 0, "name"), ("outputs", 0, "name"), ("outputs", 0, "namespace"),
    ("inputs", 0, "facets"), ("outputs", 0, "facets"), ("outputs", 0, "inputFacets"),
    ("inputs", 0, "outputFacets"), ("outputs", 0, "facets", "columnLineage"),
    ("outputs", 0, "facets", "datasetType"), ("inputs", 0, "facets", "datasetType", "datasetType"),
]  # fmt: skip


def _field(event: Any, path: tuple[Any, ...]) -> tuple[Any, Any] | None:
    node = event
    for step in path[:-1]:
        inside = isinstance(node, dict) and step in node
        if not inside and not (isinstance(node, list) and isinstance(step, int)):
            return None
        if not inside and step >= len(node):
            return None
        node = node[step]
    last = path[-1]
    if (isinstance(node, dict) and isinstance(last, str)) or (
        isinstance(node, list) and isinstance(last, int) and last < len(node)
    ):
        return node, last
    return None


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A real event with a few places dropped or replaced by any JSON value."""
    event = orjson.loads(orjson.dumps(EVENTS[draw(st.integers(0, len(EVENTS) - 1))]))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    for _ in range(draw(st.integers(0, 3))):
        known = draw(st.booleans())
        if known:
            place = _field(event, draw(st.sampled_from(FIELDS)))
        else:
            place = random_place(event, rng, 0.8)
        if place is None:
            continue
        if isinstance(place[0], dict) and place[1] not in place[0]:
            place[0][place[1]] = copy.deepcopy(draw(NASTY | JSON))  # a field it did not have
            continue
        if known and draw(st.booleans()):
            place[0][place[1]] = copy.deepcopy(draw(NASTY))
            continue
        drop_or_replace(place, draw(st.booleans()), draw(JSON))
    return orjson.dumps(event)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=mutated(), rule=st.sampled_from(RULES), limits=st.sampled_from(LIMITS))
def test_the_quick_path_gives_the_models_outcome(raw: bytes, rule: MixRule, limits: Limits) -> None:
    assert classify(raw, rule, limits) == classify(raw, rule, limits, quick=False)


def test_every_known_field_replaced_by_every_nasty_value() -> None:
    # Exhaustive where the random changes above are thin: each field the
    # quick path reads, dropped or set to each value one step from valid.
    rule, bases = RULES[0], [EVENTS[0], EVENTS[1], *EVENTS[-len(COLUMN_EVENTS) - 1 :]]
    changed = 0
    for limits in LIMITS[:2]:
        for base in bases:
            for path in FIELDS:
                for value in [OMIT, *NASTY_VALUES]:
                    event = copy.deepcopy(base)
                    place = _field(event, path)
                    if place is None:
                        continue
                    if value is OMIT:
                        if place[1] not in place[0]:
                            continue
                        del place[0][place[1]]
                    else:
                        place[0][place[1]] = copy.deepcopy(value)
                    raw = orjson.dumps(event)
                    assert classify(raw, rule, limits) == classify(raw, rule, limits, quick=False)
                    changed += 1
    assert changed > 2000


def test_on_the_realistic_mix_every_valid_run_event_takes_the_quick_path() -> None:
    rule, limits = RULES[0], Limits()
    quick = 0
    for _, value in realistic_mix(3000, seed=17):
        assert classify(value, rule, limits) == classify(value, rule, limits, quick=False)
        event = _load(value) if value else None
        if isinstance(event, dict) and read_plain(event) is not None:
            quick += 1
    # 5% of the mix is invalid, 10% duplicates of valid events: the rest is plain.
    assert quick >= 3000 * 0.9


def test_column_lineage_and_dataset_types_come_out_the_same() -> None:
    rule, limits = RULES[0], Limits()
    for value in [*COLUMN_EVENTS, _typed_event()]:
        quick = classify(value, rule, limits)
        assert quick == classify(value, rule, limits, quick=False)
        fold = quick.outcome.fold  # type: ignore[union-attr]
        assert fold.nodes
    columns = classify(COLUMN_EVENTS[0], rule, limits).outcome.fold.columns  # type: ignore[union-attr]
    assert len(columns) == 3 * 2  # 3 fields, each from one DIRECT and one INDIRECT column
    nodes = classify(_typed_event(), rule, limits).outcome.fold.nodes  # type: ignore[union-attr]
    assert {(n.name, n.type) for n in nodes} >= {("public.orders", "TABLE"), ("RAW.ORDERS", "VIEW")}
