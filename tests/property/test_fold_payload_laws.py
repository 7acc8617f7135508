"""The fold call's payload carries the whole join of its events, and joining
graphs is folding their events: what lets the in-memory store fold the very
payload Redis would get (``adapters.memory``)."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given

from processor.core.control import DeleteRequest
from processor.core.fold import Graph
from processor.core.fold_payload import (
    OUTCOME_ACCEPTED,
    OUTCOME_IGNORED,
    decode_batch,
    encode_batch,
)
from processor.core.pipeline import FoldEvent
from tests.property.test_delete_laws import deletes
from tests.property.test_fold_laws import SETTINGS, Spec, specs


def folded(events: list[FoldEvent], requests: Sequence[DeleteRequest] = ()) -> Graph:
    graph = Graph()
    for event in events:
        graph.apply(event)
    for request in requests:
        graph.delete(request)
    return graph


def same(a: Graph, b: Graph) -> None:
    assert a.nodes == b.nodes
    assert a.edges == b.edges
    assert (a.edge_deletes, a.out_deletes, a.in_deletes) == (
        b.edge_deletes,
        b.out_deletes,
        b.in_deletes,
    )


@SETTINGS
@given(spec_list=specs())
def test_decoding_a_payload_gives_back_its_marks_and_the_fold_of_its_events(
    spec_list: list[Spec],
) -> None:
    events = [s.fold_event() for s in spec_list]
    marks = [(e.content_hash, OUTCOME_ACCEPTED) for e in events] + [("f" * 64, OUTCOME_IGNORED)]
    payload = decode_batch(encode_batch(marks, events))
    assert payload.marks == marks
    same(payload.graph, folded(events))


@SETTINGS
@given(left=specs(), right=specs(), left_deletes=deletes(), right_deletes=deletes())
def test_joining_two_graphs_is_folding_both_sets_of_events(
    left: list[Spec],
    right: list[Spec],
    left_deletes: list[DeleteRequest],
    right_deletes: list[DeleteRequest],
) -> None:
    known = {s.content_hash for s in left}
    right = [s for s in right if s.content_hash not in known]
    a = [s.fold_event() for s in left]
    b = [s.fold_event() for s in right]
    graph = folded(a, left_deletes)
    graph.join(folded(b, right_deletes))
    same(graph, folded(a + b, left_deletes + right_deletes))
    graph.join(folded(b, right_deletes))  # again: nothing changes
    same(graph, folded(a + b, left_deletes + right_deletes))
