"""A batch's Redis fold is cut into calls of bounded size.

Each event may carry up to ``max_edges_per_event`` (10,000) edges, so one Lua
call per batch would grow with batch size x that cap: 1,000 wide events are
some 10 million edges, gigabytes of payload, more than Redis accepts as one
argument (512 MB), refused on every retry, so the worker would stall on them.
``classify_batch`` therefore cuts the fold into calls of at most
``MAX_EDGES_PER_CALL`` edges (an event bigger than that alone in its call),
each event's dedup mark in the same call as its edges, marks in batch order.
"""

from __future__ import annotations

from typing import Any

import orjson

from processor.core.batch_plan import MAX_EDGES_PER_CALL, classify_batch, first_occurrences
from processor.core.fold_payload import OUTCOME_ACCEPTED, OUTCOME_IGNORED, OUTCOME_REJECTED
from processor.core.pipeline import Accepted, Classified, Ignored, Limits
from processor.core.rules import MixRule
from tests.events import dataset, raw_event

RULE = MixRule("mixed", ["snowflake://*"])


def wide(tag: str, n_in: int, n_out: int) -> bytes:
    """``n_in`` external inputs x ``n_out`` internal outputs, all distinct: n_in * n_out edges."""
    return raw_event(
        job={"namespace": "wide", "name": tag},
        inputs=[dataset("postgres://wide", f"{tag}.in{i}") for i in range(n_in)],
        outputs=[dataset("snowflake://wide", f"{tag}.OUT{i}") for i in range(n_out)],
    )


def decode(payloads: list[bytes]) -> list[dict[str, Any]]:
    return [orjson.loads(p) for p in payloads]


def test_a_batch_of_wide_events_is_folded_in_calls_of_bounded_size() -> None:
    small = raw_event()
    start = raw_event(eventType="START")
    internal_only = raw_event(inputs=[dataset("snowflake://acme", "A")])
    values = [
        wide("a", 100, 100),  # 10,000 edges
        small,  # 1
        start,
        wide("b", 100, 100),
        small,  # a duplicate in the batch: one mark
        internal_only,
        wide("c", 100, 100),
        wide("d", 50, 100),  # 5,000
        wide("e", 100, 100),
    ]
    results, payloads = classify_batch(values, RULE, Limits())
    calls = decode(payloads)

    # a call is closed when the next event would take it past 20,000 edges:
    # a + small = 10,001 | b + c = 20,000 (not past it) | d + e = 5,000 + 10,000
    assert MAX_EDGES_PER_CALL == 20_000
    assert [len(c["edges"]) for c in calls] == [10_001, 20_000, 15_000]
    assert all(len(c["edges"]) <= MAX_EDGES_PER_CALL for c in calls)

    # the marks, concatenated, are the batch's first occurrences in order
    firsts = list(first_occurrences(results).values())
    marks = [m for c in calls for m in c["marks"]]
    want = []
    for i in firsts:
        c = results[i]
        assert isinstance(c, Classified)
        kind = (
            OUTCOME_ACCEPTED
            if isinstance(c.outcome, Accepted)
            else OUTCOME_IGNORED
            if isinstance(c.outcome, Ignored)
            else OUTCOME_REJECTED
        )
        want.append([c.content_hash, kind])
    assert marks == want

    # each accepted event's edges are in the call that carries its mark
    for i in firsts:
        c = results[i]
        assert isinstance(c, Classified)
        if isinstance(c.outcome, Accepted):
            (call,) = [k for k in calls if [c.content_hash, OUTCOME_ACCEPTED] in k["marks"]]
            edges = {(e[0], e[1]) for e in call["edges"]}
            assert set(c.outcome.fold.edges) <= edges


def test_an_event_past_the_call_size_goes_alone_and_small_batches_take_one_call() -> None:
    limits = Limits(max_edges_per_event=30_000)
    values = [raw_event(), wide("big", 150, 150), raw_event(eventType="FAIL")]  # 1, 22,500
    _, payloads = classify_batch(values, RULE, limits)
    assert [len(c["edges"]) for c in decode(payloads)] == [1, 22_500]
    assert [len(c["marks"]) for c in decode(payloads)] == [1, 2]

    _, payloads = classify_batch([raw_event(), b"not json", None], RULE, Limits())
    assert len(payloads) == 1
    _, payloads = classify_batch([], RULE, Limits())
    assert decode(payloads) == [{"marks": [], "nodes": {}, "edges": []}]
