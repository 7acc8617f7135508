"""The commit bookkeeping of the hot path (``core.offset_book``): an offset is
committable only when its batch is durable and was fetched in the assignment
that is still current; a batch of an older one is never committed."""

from __future__ import annotations

from typing import NamedTuple

from hypothesis import given
from hypothesis import strategies as st

from processor.core.offset_book import OffsetBook


class TP(NamedTuple):  # the shape of faust's TP
    topic: str
    partition: int


P0, P1 = TP("events", 0), TP("events", 1)


def nothing_committed(_: object) -> None:
    return None


def test_a_durable_batch_of_the_current_assignment_is_committable() -> None:
    book = OffsetBook()
    epoch = book.assigned({P0, P1})
    assert book.done(epoch, {("events", 0): 100, ("events", 1): 7})
    assert book.committable([P0, P1], nothing_committed) == {P0: 100, P1: 7}
    # keyed by the assigned objects, as the consumer commits with them
    assert all(type(tp) is TP for tp in book.committable([P0, P1], nothing_committed))


def test_what_is_committed_already_is_not_offered_again() -> None:
    book = OffsetBook()
    epoch = book.assigned({P0, P1})
    book.done(epoch, {P0: 100, P1: 7})
    committed = {P0: 100, P1: 3}
    assert book.committable([P0, P1], committed.get) == {P1: 7}


def test_offsets_only_grow() -> None:
    book = OffsetBook()
    epoch = book.assigned({P0})
    book.done(epoch, {P0: 50})
    book.done(epoch, {P0: 20})  # a batch seen again after a seek back
    assert book.committable([P0], nothing_committed) == {P0: 50}


def test_a_batch_fetched_before_a_revoke_is_never_recorded() -> None:
    book = OffsetBook()
    old = book.assigned({P0, P1})
    book.revoked({P0, P1})
    assert not book.done(old, {P0: 100})
    assert book.pending() == []


def test_a_batch_of_the_previous_generation_is_stale_even_when_its_partition_comes_back() -> None:
    book = OffsetBook()
    old = book.assigned({P0})
    book.done(old, {P0: 10})
    book.revoked({P0})
    new = book.assigned({P0})
    # the new assignment restarts at the committed offset: offsets 10.. of the
    # old fetch say nothing of what was folded in this one
    assert not book.done(old, {P0: 500})
    assert book.committable([P0], nothing_committed) == {}
    assert book.done(new, {P0: 30})
    assert book.committable([P0], nothing_committed) == {P0: 30}


def test_a_revoke_forgets_the_offsets_of_its_partitions_only() -> None:
    book = OffsetBook()
    epoch = book.assigned({P0, P1})
    book.done(epoch, {P0: 5, P1: 9})
    book.revoked({P1})
    assert book.committable([P0, P1], nothing_committed) == {P0: 5}


def test_a_new_assignment_forgets_partitions_not_in_it() -> None:
    book = OffsetBook()
    epoch = book.assigned({P0, P1})
    book.done(epoch, {P0: 5, P1: 9})
    epoch = book.assigned({P0})
    assert book.pending() == [P0]
    assert book.done(epoch, {P0: 6, P1: 12})  # P1 is not ours any more
    assert book.committable([P0, P1], nothing_committed) == {P0: 6}


def test_a_fence_makes_every_batch_fetched_before_it_stale() -> None:
    book = OffsetBook()
    epoch = book.assigned({P0})
    book.done(epoch, {P0: 5})
    fenced = book.fence()
    assert not book.done(epoch, {P0: 9})
    assert book.committable([P0], nothing_committed) == {P0: 5}
    assert book.done(fenced, {P0: 9})


# A model: one partition, batches fetched in order from the assignment's start
# (the committed offset). A rebalance drops some of the batches on their way
# (any of them: ``keep`` says which go on) and starts over at the committed
# offset; the kept ones become durable late. Whatever the interleaving, the
# committed offset never passes a record that no durable batch folded.
Step = str | tuple[str, int]
steps = st.lists(
    st.one_of(
        st.sampled_from(["fetch", "durable", "commit"]),
        st.tuples(st.just("rebalance"), st.integers(0, 255)),
    ),
    max_size=60,
)


@given(steps)
def test_no_offset_is_committed_past_a_record_not_folded(plan: list[Step]) -> None:
    book = OffsetBook()
    epoch = book.assigned({P0})
    committed = 0
    position = 0
    in_flight: list[tuple[int, int, int]] = []  # (epoch, first, next), fetch order
    folded: set[int] = set()
    for step in plan:
        if step == "fetch":
            in_flight.append((epoch, position, position + 10))
            position += 10
        elif step == "durable" and in_flight:
            batch_epoch, first, nxt = in_flight.pop(0)
            folded.update(range(first, nxt))
            book.done(batch_epoch, {P0: nxt})
        elif step == "commit":
            offered = book.committable([P0], {P0: committed}.get)
            committed = offered.get(P0, committed)
            assert all(o in folded for o in range(committed)), "committed past a lost record"
        elif isinstance(step, tuple):
            keep = step[1]
            in_flight = [b for i, b in enumerate(in_flight) if keep >> (i % 8) & 1]
            book.revoked({P0})
            epoch = book.assigned({P0})
            position = committed
