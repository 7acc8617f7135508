"""Hostile input at the pure core, where it is cheap to try many: nesting depth
is measured on the value, not on bracket characters; names of any text get
distinct, well-formed identities and reach the Redis fold's input unchanged;
classify gives every mutated real event one documented outcome."""

from __future__ import annotations

import json
import random
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from processor.core.decode import decode_object
from processor.core.fold_payload import OUTCOME_ACCEPTED, encode_batch
from processor.core.identity import job_field, job_key_id, node_id
from processor.core.pipeline import Accepted, Classified, Limits, Rejected, classify
from processor.core.reasons import Reason
from processor.core.rules import MixRule
from processor.errors import InvalidMessage
from processor.samples import realistic_mix
from tests.events import dataset, dumps, raw_event
from tests.mutation import random_place

RULE = MixRule("mixed", ["snowflake://*"])
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DOCUMENTED = {r.value for r in Reason} - {Reason.INTERNAL_ERROR.value}

# Strings rich in what confuses bracket counting and key building.
TRICKY = st.text(alphabet=st.sampled_from('[]{}"\\:/*?%\n\u202e\U0001f600ab'), max_size=8)
# Any text a name may hold: no NUL (section 2), no lone surrogate (not UTF-8).
NAME = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
    min_size=1,
    max_size=30,
)


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | TRICKY
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TRICKY, inner, max_size=3),
        max_leaves=max_leaves,
    )


def depth(value: Any) -> int:
    """Nesting depth of a decoded JSON value: a scalar is 0, ``{}`` and ``[]`` are 1."""
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


@SETTINGS
@given(
    inner=json_values(),
    wrap=st.integers(0, 6),
    max_depth=st.integers(1, 8),
    ascii_only=st.booleans(),
)
def test_depth_bound_counts_nesting_not_bracket_characters(
    inner: Any, wrap: int, max_depth: int, ascii_only: bool
) -> None:
    obj: Any = {"v": inner}
    for i in range(wrap):
        obj = {"w": [obj]} if i % 2 else {"w": obj}
    raw = json.dumps(obj, ensure_ascii=ascii_only).encode()
    if depth(obj) > max_depth:
        with pytest.raises(InvalidMessage) as info:
            decode_object(raw, max_depth)
        assert info.value.reason == Reason.INVALID_JSON.value
    else:
        assert decode_object(raw, max_depth) == obj


@SETTINGS
@given(text=NAME, cuts=st.lists(st.integers(0, 30), min_size=2, max_size=4, unique=True))
def test_every_split_of_one_text_into_namespace_and_name_is_its_own_node(
    text: str, cuts: list[int]
) -> None:
    # "a:b" + "c" and "a" + ":b:c" concatenate alike; their identities must not
    pairs = {(text[:c], text[c:]) for c in cuts}
    ids = {node_id(ns, name) for ns, name in pairs}
    assert len(ids) == len(pairs)
    for nid in ids:
        assert len(nid) == 32
        assert set(nid) <= set("0123456789abcdef")


@SETTINGS
@given(job=st.tuples(st.text(max_size=10), st.text(max_size=10)), other=st.text(max_size=10))
def test_job_fields_are_injective_and_decode_back(job: tuple[str, str], other: str) -> None:
    field = job_field(*job)
    assert field.startswith("[")  # never one of the edge hash's own fields
    assert tuple(orjson.loads(field)) == job
    moved = (job[0] + other, job[1]) if other else (job[0], job[1] + "x")
    assert job_field(*moved) != field
    assert job_key_id(*moved) != job_key_id(*job)


@SETTINGS
@given(
    source=st.tuples(NAME, NAME),
    target_name=NAME,
    job_name=NAME,
)
def test_hostile_names_reach_the_redis_fold_input_unchanged(
    source: tuple[str, str], target_name: str, job_name: str
) -> None:
    assume(not source[0].startswith("snowflake://"))
    value = raw_event(
        job={"namespace": "dbt", "name": job_name},
        inputs=[dataset(*source)],
        outputs=[dataset("snowflake://acme", target_name)],
    )
    c = classify(value, RULE, Limits())
    assert isinstance(c, Classified)
    assert isinstance(c.outcome, Accepted), c.outcome
    fold = c.outcome.fold
    payload = orjson.loads(encode_batch([(c.content_hash, OUTCOME_ACCEPTED)], [fold]))
    names = {tuple(n[:2]) for n in payload["nodes"].values()}
    assert names == {source, ("snowflake://acme", target_name)}
    (edge,) = payload["edges"]
    assert edge[:2] == [node_id(*source), node_id("snowflake://acme", target_name)]
    assert [orjson.loads(j) for j in edge[7]] == [["dbt", job_name]]
    # the name index member "namespace NUL name" splits back into the pair
    for ns, name in names:
        assert f"{ns}\x00{name}".split("\x00") == [ns, name]


BASE = [v for _, v in realistic_mix(120, seed=23)]
VALUES: list[Any] = [None, 0, -1, 2.5, "", "\x00", "\ud800", [], {}, True, "x" * 2000]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A real event with a few fields dropped, replaced or renamed hostile."""
    raw = BASE[draw(st.integers(0, len(BASE) - 1))]
    try:
        doc = json.loads(raw)
    except ValueError:
        return raw
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    for _ in range(draw(st.integers(1, 4))):
        place = random_place(doc, rng, 0.7)
        if place is None:
            continue
        parent, key = place
        op = draw(st.sampled_from(["drop", "replace", "text"]))
        if op == "drop":
            del parent[key]
        elif op == "replace":
            parent[key] = draw(st.sampled_from(VALUES))
        else:
            parent[key] = draw(TRICKY | NAME)
    return dumps(doc)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=mutated())
def test_a_mutated_real_event_gets_one_documented_outcome(value: bytes) -> None:
    c = classify(value, RULE, Limits())
    if isinstance(c, Rejected):
        assert c.reason in DOCUMENTED, c
        return
    assert isinstance(c, Classified)
    if isinstance(c.outcome, Rejected):
        assert c.outcome.reason in DOCUMENTED, c.outcome
    # classification is a function of the bytes
    assert classify(value, RULE, Limits()) == c
