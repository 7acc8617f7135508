"""Raw bytes through classify: order and redelivery do not change the snapshot;
nothing raises; every message gets exactly one outcome.

The fuzz properties record which outcome each example reached and assert, after
the run, that the examples got past the first rejection: bytes drawn uniformly
are almost never JSON, so a strategy of those alone tests ``invalid_json`` and
nothing else."""

from __future__ import annotations

import copy
import json
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from processor.core.decode import decode_object
from processor.core.fold import Graph
from processor.core.pipeline import Accepted, Classified, Ignored, Limits, Rejected, classify
from processor.core.reasons import Reason
from processor.core.rules import MixRule
from processor.core.snapshot import snapshot_hash
from processor.errors import InvalidMessage
from tests.events import dataset, dumps, raw_dict

RULES = [MixRule("mixed", ["snowflake://*"]), MixRule("any", ["snowflake://*", "s3://[ab]*"])]
LIMITS = Limits()
DESIGN_REASONS = {r.value for r in Reason} - {Reason.INTERNAL_ERROR.value}

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DATASETS = [
    ("snowflake://acme", "A"),
    ("snowflake://acme", "B"),
    ("postgres://db", "a"),
    ("s3://a", "é"),
    ("kafka://k", "t"),
]
# one instant spelled several ways, and a few others
TIMES = [
    "2026-03-01T10:00:00Z",
    "2026-03-01 11:00:00+01:00",
    "2026-03-01t10:00:00.0000009z",
    "2026-03-01T10:00:00.000001Z",
    "2026-03-01T09:00:00-01:00",
    "2026-02-28T23:59:59.999999",
]
RUN_IDS = [None, "3f5e2b1c-0d4e-4c8a-9b7f-1a2b3c4d5e6f", "3F5E2B1C-0D4E-4C8A-9B7F-1A2B3C4D5E6F"]


@st.composite
def event_dicts(draw: st.DrawFn) -> dict[str, Any]:
    def datasets() -> list[dict[str, Any]]:
        keys = draw(st.lists(st.sampled_from(DATASETS), max_size=3))
        return [
            dataset(*k, dataset_type=draw(st.sampled_from(["TABLE", "VIEW", 3])))
            if draw(st.booleans())
            else dataset(*k)
            for k in keys
        ]

    run_id = draw(st.sampled_from(RUN_IDS))
    return raw_dict(
        eventType=draw(st.sampled_from(["COMPLETE"] * 4 + ["START", "FAIL", "complete"])),
        eventTime=draw(st.sampled_from(TIMES)),
        run={"runId": run_id} if run_id else {},
        job={"namespace": "dbt", "name": draw(st.sampled_from(["a", "b"]))},
        inputs=datasets(),
        outputs=datasets(),
        nonce=draw(st.integers(0, 3)),  # different content, same lineage
    )


def respell(obj: Any, rnd: random.Random) -> Any:
    """The same JSON value with its keys in another order."""
    if isinstance(obj, dict):
        items = list(obj.items())
        rnd.shuffle(items)
        return {k: respell(v, rnd) for k, v in items}
    if isinstance(obj, list):
        return [respell(v, rnd) for v in obj]
    return obj


def snapshot_of(messages: list[bytes], rule: MixRule) -> str:
    graph = Graph()
    for raw in messages:
        result = classify(raw, rule, LIMITS)
        if isinstance(result, Classified) and isinstance(result.outcome, Accepted):
            graph.apply(result.outcome.fold)
    return snapshot_hash(graph.snapshot())


@SETTINGS
@given(
    events=st.lists(event_dicts(), max_size=8),
    data=st.data(),
    rnd=st.randoms(use_true_random=False),
    rule=st.sampled_from(RULES),
)
def test_snapshot_hash_ignores_order_and_redelivery(
    events: list[dict[str, Any]], data: st.DataObject, rnd: random.Random, rule: MixRule
) -> None:
    messages = [dumps(e) for e in events]
    expected = snapshot_of(messages, rule)
    # redelivery: the same bytes again, or the same event spelled differently
    again = data.draw(st.lists(st.sampled_from(events), max_size=6)) if events else []
    respelled = [
        json.dumps(
            respell(e, rnd), indent=rnd.choice([None, 1]), ensure_ascii=rnd.random() < 0.5
        ).encode()
        for e in again
    ]
    shuffled = data.draw(st.permutations(messages + messages[:2] + respelled))
    assert snapshot_of(shuffled, rule) == expected


def check_one_outcome(result: object) -> str:
    """Assert ``result`` is one documented outcome; return its name (the
    reason of a rejection, else ``Accepted`` or ``Ignored``)."""
    assert isinstance(result, Rejected | Classified)
    outcome = result if isinstance(result, Rejected) else result.outcome
    name = str(getattr(outcome, "reason", type(outcome).__name__))
    event(name)
    if isinstance(result, Rejected):
        assert result.reason in DESIGN_REASONS, result
        return name
    assert len(result.content_hash) == 64
    kinds = [isinstance(result.outcome, k) for k in (Ignored, Rejected, Accepted)]
    assert kinds.count(True) == 1
    if isinstance(result.outcome, Rejected):
        assert result.outcome.reason in DESIGN_REASONS, result.outcome
    if isinstance(result.outcome, Accepted):
        fold = result.outcome.fold
        assert fold.edges
        node_ids = {n.node_id for n in fold.nodes}
        assert {i for e in fold.edges for i in e} <= node_ids
    return name


def reached(prop: Callable[[], None], tally: Counter[str]) -> Counter[str]:
    """Run the Hypothesis property ``prop``, which counts each example's
    outcome in ``tally``; return the counts of this run."""
    tally.clear()
    prop()
    return Counter(tally)


def splice(raw: bytes, at: int, junk: bytes) -> bytes:
    """``junk`` inserted at ``at`` (clamped): damage that often keeps JSON valid."""
    return raw[:at] + junk + raw[at:]


def assert_decodes_or_invalid_json(raw: bytes) -> str:
    """Assert ``raw`` decodes to an object or is ``invalid_json``; return which."""
    try:
        obj = decode_object(raw, 64)
    except InvalidMessage as exc:
        reason = exc.reason
    else:
        assert isinstance(obj, dict)
        return "decoded"
    assert reason == Reason.INVALID_JSON
    return "invalid_json"


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


# JSON objects, as ASCII or as UTF-8, whole or with a few bytes spliced in.
OBJECT_BYTES = st.builds(
    splice,
    st.builds(
        lambda obj, ascii_only: json.dumps(obj, ensure_ascii=ascii_only).encode(),
        st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=4),
        st.booleans(),
    ),
    st.integers(0, 200),
    st.binary(max_size=3),
)
DECODED: Counter[str] = Counter()


@FUZZ
@given(raw=st.binary(max_size=300) | OBJECT_BYTES)
def decode_arbitrary_bytes(raw: bytes) -> None:
    DECODED[assert_decodes_or_invalid_json(raw)] += 1


def test_decode_object_raises_only_invalid_message() -> None:
    counts = reached(decode_arbitrary_bytes, DECODED)
    assert counts["decoded"] >= 10, counts
    assert counts["invalid_json"] >= 10, counts


@FUZZ
@given(
    text=JSON_VALUES.map(lambda v: json.dumps(v)),
    cut=st.integers(0, 200),
    junk=st.binary(max_size=3),
)
def test_decode_object_on_damaged_json(text: str, cut: int, junk: bytes) -> None:
    assert_decodes_or_invalid_json(splice(text.encode(), cut, junk))


def with_long_name(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` as a COMPLETE event (names are checked only on those) with one
    more output, named one character over the limit."""
    name = "N" * (LIMITS.max_name_length + 1)
    outputs = [*obj["outputs"], dataset("snowflake://acme", name)]
    return {**obj, "eventType": "COMPLETE", "outputs": outputs}


# Valid events are listed three times: a third of the examples go through to
# the event type, the name length and the mix rule.
FORMS = ["none", "bytes", "json", "event", "event", "event", "spliced", "padded", "long name"]


@st.composite
def messages(draw: st.DrawFn) -> bytes | None:
    """A message for every step of docs/design.md section 3: no value, arbitrary
    bytes, JSON that is not an event, an event whole, damaged, padded past the
    byte limit or with a name too long."""
    form = draw(st.sampled_from(FORMS))
    if form == "none":
        return None
    if form == "bytes":
        return draw(st.binary(max_size=300))
    if form == "json":
        return json.dumps(draw(JSON_VALUES)).encode()
    obj = draw(event_dicts())
    if form == "long name":
        return dumps(with_long_name(obj))
    raw = dumps(obj)
    if form == "spliced":
        return splice(raw, draw(st.integers(0, len(raw))), draw(st.binary(min_size=1, max_size=3)))
    if form == "padded":  # valid JSON still, but over the limit
        return raw + b" " * LIMITS.max_event_bytes
    return raw


CLASSIFIED: Counter[str] = Counter()


@FUZZ
@given(raw=messages(), rule=st.sampled_from(RULES))
def classify_arbitrary_bytes(raw: bytes | None, rule: MixRule) -> None:
    CLASSIFIED[check_one_outcome(classify(raw, rule, LIMITS))] += 1


def test_classify_never_raises_on_arbitrary_bytes() -> None:
    counts = reached(classify_arbitrary_bytes, CLASSIFIED)
    rule_reasons = {"mix_rule_internal_only", "mix_rule_external_only", "no_lineage"}
    # Past each early step of section 3: size, JSON, profile, event type,
    # name length, mix rule; and through to the fold.
    for name in ("too_large", "invalid_json", "invalid_event", "Ignored", "name_too_long"):
        assert counts[name] >= 3, counts
    assert sum(counts[r] for r in rule_reasons) >= 3, counts
    assert counts["Accepted"] >= 3, counts


PATHS: list[tuple[str | int, ...]] = [
    ("eventType",), ("eventTime",), ("run",), ("run", "runId"), ("run", "facets"),
    ("job",), ("job", "namespace"), ("job", "name"), ("job", "facets"),
    ("inputs",), ("inputs", 0), ("inputs", 0, "namespace"), ("inputs", 0, "name"),
    ("inputs", 0, "facets"), ("inputs", 0, "facets", "datasetType"),
    ("inputs", 0, "facets", "datasetType", "datasetType"), ("inputs", 0, "inputFacets"),
    ("outputs",), ("outputs", 0), ("outputs", 0, "namespace"), ("outputs", 0, "name"),
    ("outputs", 0, "facets", "datasetType", "datasetType"), ("outputs", 0, "outputFacets"),
    ("producer",), ("schemaURL",), ("dataset",), ("dataset", "name"),
]  # fmt: skip
INTERESTING = st.sampled_from(
    [
        "COMPLETE", "START", "2026-03-01T10:00:00Z", "2026-03-01",
        "3F5E2B1C-0D4E-4C8A-9B7F-1A2B3C4D5E6F", "snowflake://acme", "", "\x00", "x" * 1001,
        "é" * 1001, {}, [], [{}], 1e308, 2**64, -(2**64),
        {"namespace": "snowflake://acme", "name": "T"}, {"datasetType": "VIEW"},
    ]
)  # fmt: skip
DELETE = object()


def mutate(obj: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    # A copy: the sampled values are shared objects, and putting one inside
    # itself would make the test's own event unserialisable.
    value = value if value is DELETE else copy.deepcopy(value)
    node: Any = obj
    for part in path[:-1]:
        if isinstance(node, dict) and isinstance(part, str):
            node = node.setdefault(part, {})
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return
    last = path[-1]
    if isinstance(node, dict) and isinstance(last, str):
        if value is DELETE:
            node.pop(last, None)
        else:
            node[last] = value
    elif isinstance(node, list) and isinstance(last, int) and last < len(node):
        if value is DELETE:
            del node[last]
        else:
            node[last] = value


@FUZZ
@given(
    changes=st.lists(
        st.tuples(st.sampled_from(PATHS), st.one_of(INTERESTING, JSON_VALUES, st.just(DELETE))),
        min_size=1,
        max_size=4,
    ),
    rule=st.sampled_from(RULES),
)
def test_classify_never_fails_on_damaged_events(
    changes: list[tuple[tuple[str | int, ...], Any]], rule: MixRule
) -> None:
    obj = raw_dict()
    for path, value in changes:
        mutate(obj, path, value)
    result = classify(dumps(obj), rule, LIMITS)
    check_one_outcome(result)
    # deterministic: the same bytes, the same answer
    assert classify(dumps(obj), rule, LIMITS) == result
