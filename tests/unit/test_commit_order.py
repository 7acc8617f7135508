"""The commit order of docs/design.md section 3, on the in-memory ports.

``BatchProcessor`` runs against ``MemoryGraphStore`` and ``MemoryPublisher``,
which share one journal of calls and fail on demand, so each step of the order
is checked where it happens: dead letters acknowledged before any mark is set
(and deletes applied only after the control dead letters), the whole set of
letters published again when the publish failed, a retried fold call
recognising its own marks by the batch token, a rule-rejected event seen before
counted as a duplicate and not dead-lettered again. The store's graph is the
pure fold of the accepted events whatever fails on the way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processor.adapters.memory import LOST, OK, REFUSED, Call, MemoryGraphStore, MemoryPublisher
from processor.batch import BatchProcessor
from processor.core import batch_plan
from processor.core.control import DeleteRequest, parse_control
from processor.core.fold import Graph
from processor.core.fold_payload import OUTCOME_ACCEPTED, OUTCOME_REJECTED, encode_batch
from processor.core.pipeline import Accepted, Classified, Limits, classify
from processor.core.rules import MixRule
from processor.core.snapshot import snapshot_hash
from processor.errors import RedisUnavailable
from processor.ports import BatchResult, InputRecord
from tests.events import dataset, dumps, raw_event

RULE = MixRule("mixed", ["snowflake://*"])

GOOD = raw_event()  # postgres -> snowflake: one edge
GOOD2 = raw_event(
    job={"namespace": "dbt", "name": "mart"},
    eventTime="2026-03-02T10:00:00Z",
    inputs=[dataset("s3://bucket", "orders.csv")],
)
INTERNAL_ONLY = raw_event(inputs=[dataset("snowflake://acme", "A")])  # rule-rejected
BAD_JSON = b"{"  # rejected before the dedup check
START = raw_event(eventType="START")  # ignored

DELETE = dumps(
    {
        "op": "delete",
        "source": {"namespace": "postgres://db", "name": "public.orders"},
        "requestedAt": "2026-03-05T00:00:00Z",
    }
)
BAD_CONTROL = b'{"op": "delete"}'


def content_hash(value: bytes) -> str:
    c = classify(value, RULE, Limits())
    assert isinstance(c, Classified)
    return c.content_hash


def accepted_payload(value: bytes) -> tuple[str, bytes]:
    """An accepted event's content hash and the fold payload of it alone."""
    c = classify(value, RULE, Limits())
    assert isinstance(c, Classified)
    assert isinstance(c.outcome, Accepted)
    return c.content_hash, encode_batch([(c.content_hash, OUTCOME_ACCEPTED)], [c.outcome.fold])


def records(
    values: Sequence[bytes], first_offset: int = 0, topic: str = "events"
) -> list[InputRecord]:
    return [
        InputRecord(topic, 0, first_offset + i, 1_772_000_000_000, b"k", v)
        for i, v in enumerate(values)
    ]


class Rig:
    """A batch processor on in-memory ports sharing one journal."""

    def __init__(self, *, mark_rejected: bool = True) -> None:
        self.journal: list[Call] = []
        self.store = MemoryGraphStore(mark_rejected=mark_rejected, journal=self.journal)
        self.publisher = MemoryPublisher(self.journal)
        self.processor = BatchProcessor(
            store=self.store,
            publisher=self.publisher,
            rule=RULE,
            limits=Limits(),
            dlq_topic="dlq",
            version="test",
            max_backoff=0.0,  # retries at once
        )
        self.offset = 0

    def process(self, values: Sequence[bytes]) -> BatchResult:
        batch = records(values, self.offset)
        self.offset += len(values)
        return asyncio.run(self.processor.process(batch))

    def control(self, values: Sequence[bytes]) -> BatchResult:
        return asyncio.run(self.processor.apply_control(records(values, topic="control")))

    def steps(self) -> list[tuple[str, str]]:
        return [(c.operation, c.outcome) for c in self.journal]

    def acked_values(self) -> list[bytes | None]:
        return [r.value for r in self.publisher.acked]


def reason(record_headers: list[tuple[str, bytes]] | None) -> str:
    return dict(record_headers or [])["lineage.reason"].decode()


def pure_fold(values: Sequence[bytes], deletes: Sequence[DeleteRequest] = ()) -> Graph:
    graph = Graph()
    for value in values:
        c = classify(value, RULE, Limits())
        if isinstance(c, Classified) and isinstance(c.outcome, Accepted):
            graph.apply(c.outcome.fold)
    for request in deletes:
        graph.delete(request)
    return graph


def assert_marks_follow_acks(journal: Sequence[Call], rejected: dict[str, bytes]) -> None:
    """No rule-rejected event is marked seen (by a fold call that took effect)
    before its dead letter was acknowledged (``rejected``: hash -> value)."""
    acked: set[bytes | None] = set()
    for call in journal:
        if call.operation == "publish" and call.outcome != REFUSED:
            acked |= {r.value for r in call.records}
        if call.operation == "fold" and call.outcome != REFUSED:
            for digest in call.hashes:
                if digest in rejected:
                    assert rejected[digest] in acked, "marked seen before its dead letter"


# --- the order of one batch ---------------------------------------------------------


def test_dead_letters_are_acknowledged_before_the_fold_marks_anything() -> None:
    rig = Rig()
    result = rig.process([GOOD, INTERNAL_ONLY, BAD_JSON, START])
    assert rig.steps() == [("seen", OK), ("publish", OK), ("fold", OK)]
    (publish,) = [c for c in rig.journal if c.operation == "publish"]
    # pre-dedup rejections first, then the rule-rejected events the store had not seen
    assert [(r.topic, r.value, reason(r.headers)) for r in publish.records] == [
        ("dlq", BAD_JSON, "invalid_json"),
        ("dlq", INTERNAL_ONLY, "mix_rule_internal_only"),
    ]
    (fold,) = [c for c in rig.journal if c.operation == "fold"]
    assert fold.hashes == (content_hash(GOOD), content_hash(INTERNAL_ONLY), content_hash(START))
    assert (result.accepted, result.duplicate, result.attempts) == (1, 0, 1)
    assert dict(result.rejected) == {"invalid_json": 1, "mix_rule_internal_only": 1}
    assert dict(result.ignored) == {"START": 1}
    assert rig.store.marks == {
        content_hash(GOOD): f"{OUTCOME_ACCEPTED}:{fold.token}",
        content_hash(INTERNAL_ONLY): f"{OUTCOME_REJECTED}:{fold.token}",
        content_hash(START): f"i:{fold.token}",
    }
    assert rig.store.folded == {"events/0": 3}


def test_a_rule_rejected_event_seen_before_is_a_duplicate_not_a_second_dead_letter() -> None:
    rig = Rig()
    rig.process([INTERNAL_ONLY])
    again = rig.process([INTERNAL_ONLY, GOOD])
    assert rig.acked_values() == [INTERNAL_ONLY]
    assert again.dead_letters == []
    assert (again.duplicate, again.accepted, dict(again.rejected)) == (1, 1, {})
    # the second batch asked the store, had nothing to publish, and folded
    assert rig.steps()[3:] == [("seen", OK), ("fold", OK)]


def test_a_message_rejected_before_the_dedup_check_is_dead_lettered_every_time() -> None:
    rig = Rig()
    rig.process([BAD_JSON])
    again = rig.process([BAD_JSON])
    assert rig.acked_values() == [BAD_JSON, BAD_JSON]
    assert dict(again.rejected) == {"invalid_json": 1}


def test_a_failed_publish_is_retried_whole_and_nothing_is_marked_until_it_is_acked() -> None:
    rig = Rig()
    rig.publisher.fail_next(2)
    result = rig.process([GOOD, INTERNAL_ONLY, BAD_JSON])
    assert rig.steps() == [
        ("seen", OK),
        ("publish", REFUSED),
        ("seen", OK),
        ("publish", REFUSED),
        ("seen", OK),
        ("publish", OK),
        ("fold", OK),
    ]
    publishes = [c.records for c in rig.journal if c.operation == "publish"]
    assert publishes[0] == publishes[1] == publishes[2]
    assert rig.acked_values() == [BAD_JSON, INTERNAL_ONLY]
    assert result.attempts == 3
    assert result.accepted == 1


def test_a_publish_whose_ack_was_lost_is_published_again_duplicates_allowed() -> None:
    rig = Rig()
    rig.publisher.fail_next(lost_reply=True)
    result = rig.process([INTERNAL_ONLY, BAD_JSON])
    assert rig.acked_values() == [BAD_JSON, INTERNAL_ONLY, BAD_JSON, INTERNAL_ONLY]
    assert [op for op, _ in rig.steps()] == ["seen", "publish", "seen", "publish", "fold"]
    assert result.dead_letters == [
        (records([INTERNAL_ONLY, BAD_JSON])[1], "invalid_json"),
        (records([INTERNAL_ONLY, BAD_JSON])[0], "mix_rule_internal_only"),
    ]


def test_an_outage_of_the_dedup_check_publishes_nothing_until_it_answers() -> None:
    rig = Rig()
    rig.store.fail_next(operation="seen")
    rig.process([INTERNAL_ONLY])
    assert rig.steps() == [("seen", REFUSED), ("seen", OK), ("publish", OK), ("fold", OK)]
    assert rig.acked_values() == [INTERNAL_ONLY]


def test_a_failed_fold_is_retried_without_publishing_the_acked_letters_again() -> None:
    rig = Rig()
    rig.store.fail_next(2, operation="fold")
    result = rig.process([GOOD, INTERNAL_ONLY])
    assert rig.steps() == [
        ("seen", OK),
        ("publish", OK),
        ("fold", REFUSED),
        ("fold", REFUSED),
        ("fold", OK),
    ]
    assert rig.acked_values() == [INTERNAL_ONLY]
    assert (result.accepted, dict(result.rejected), result.attempts) == (
        1,
        {"mix_rule_internal_only": 1},
        3,
    )


def test_a_fold_that_ran_but_lost_its_reply_counts_its_events_once_not_as_duplicates() -> None:
    rig = Rig()
    rig.store.fail_next(operation="fold", lost_reply=True)
    result = rig.process([GOOD, GOOD2, INTERNAL_ONLY])
    folds = [c for c in rig.journal if c.operation == "fold"]
    assert [c.outcome for c in folds] == [LOST, OK]
    assert folds[0].token == folds[1].token
    assert (result.accepted, result.duplicate, dict(result.rejected)) == (
        2,
        0,
        {"mix_rule_internal_only": 1},
    )
    assert result.edges_folded == 2
    assert snapshot_hash(rig.store.graph.snapshot()) == snapshot_hash(
        pure_fold([GOOD, GOOD2]).snapshot()
    )


def test_a_retry_runs_every_fold_call_of_the_batch_again_with_its_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # one accepted event per call: the batch takes three
    monkeypatch.setattr(batch_plan, "MAX_EDGES_PER_CALL", 1)
    rig = Rig()
    rig.store.fail_next(operation="fold", lost_reply=True, after=1)
    result = rig.process([GOOD, GOOD2, START, raw_event(eventTime="2026-03-03T10:00:00Z")])
    folds = [c for c in rig.journal if c.operation == "fold"]
    # call 2 ran and lost its reply; the retry starts again from call 1
    assert [c.outcome for c in folds] == [OK, LOST, OK, OK, OK]
    assert [len(c.hashes) for c in folds[2:]] == [1, 2, 1]
    assert len({c.token for c in folds}) == 1
    assert (result.accepted, result.duplicate, dict(result.ignored)) == (3, 0, {"START": 1})


def test_every_batch_has_its_own_token() -> None:
    rig = Rig()
    rig.process([GOOD])
    again = rig.process([GOOD])
    tokens = [c.token for c in rig.journal if c.operation == "fold"]
    assert len(set(tokens)) == 2
    assert (again.accepted, again.duplicate) == (0, 1)


# --- the control topic ----------------------------------------------------------------


def test_deletes_wait_for_the_dead_letters_of_malformed_control_records() -> None:
    rig = Rig()
    rig.publisher.fail_next()
    result = rig.control([BAD_CONTROL, DELETE])
    assert rig.steps() == [("publish", REFUSED), ("publish", OK), ("deletes", OK)]
    assert rig.acked_values() == [BAD_CONTROL]
    assert (result.deletes, dict(result.rejected), result.attempts) == (
        1,
        {"invalid_control": 1},
        2,
    )
    request = parse_control(DELETE)
    assert isinstance(request, DeleteRequest)
    (call,) = [c for c in rig.journal if c.operation == "deletes"]
    assert call.deletes == (request,)
    assert rig.store.graph.out_deletes == {request.source_id: "2026-03-05T00:00:00.000000Z"}
    assert rig.store.folded == {"control/0": 1}


def test_failed_deletes_are_retried_without_publishing_the_letters_again() -> None:
    rig = Rig()
    rig.store.fail_next(operation="deletes")
    rig.control([BAD_CONTROL, DELETE])
    assert rig.steps() == [("publish", OK), ("deletes", REFUSED), ("deletes", OK)]
    assert rig.acked_values() == [BAD_CONTROL]


# --- the in-memory store keeps the Lua fold's semantics -------------------------------


def test_the_memory_store_marks_with_the_batch_token() -> None:
    store = MemoryGraphStore()
    digest, payload = accepted_payload(GOOD)

    async def run() -> list[list[bool]]:
        return [
            await store.mark_and_fold(payload, "t1", {"events/0": 5}),
            await store.mark_and_fold(payload, "t1", {"events/0": 3}),  # a retry
            await store.mark_and_fold(payload, "t2"),  # another batch
            await store.seen([digest, "0" * 64]),
        ]

    assert asyncio.run(run()) == [[True], [True], [False], [True, False]]
    assert store.marks == {digest: "a:t1"}
    assert store.folded == {"events/0": 5}
    (edge,) = store.graph.edge_records()
    assert edge.events == 1


def test_without_mark_rejected_a_rule_rejected_event_is_new_every_time() -> None:
    store = MemoryGraphStore(mark_rejected=False)
    digest = content_hash(INTERNAL_ONLY)
    payload = encode_batch([(digest, OUTCOME_REJECTED)], [])

    async def run() -> list[list[bool]]:
        return [await store.mark_and_fold(payload, t) for t in ("t1", "t2")]

    assert asyncio.run(run()) == [[True], [True]]
    assert store.marks == {}


def test_a_refused_call_has_no_effect() -> None:
    store = MemoryGraphStore()
    store.fail_next(operation="fold")
    _, payload = accepted_payload(GOOD)
    with pytest.raises(RedisUnavailable, match="refused"):
        asyncio.run(store.mark_and_fold(payload, "t", {"events/0": 1}))
    assert (store.marks, store.folded, store.graph.edges) == ({}, {}, {})


# --- whatever fails, the graph is the pure fold and every letter is out ---------------

VALUES = [GOOD, GOOD2, INTERNAL_ONLY, BAD_JSON, START, raw_event(eventTime="2026-03-04T00:00:00Z")]
FAULTS = st.lists(
    st.tuples(
        st.sampled_from(["publish", "seen", "fold"]),
        st.integers(1, 3),
        st.booleans(),
    ),
    max_size=3,
)


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(st.lists(st.sampled_from(VALUES), min_size=1, max_size=5), max_size=4),
    faults=st.lists(FAULTS, max_size=4),
)
def test_any_outages_leave_the_pure_fold_and_every_dead_letter_acked(
    batches: list[list[bytes]], faults: list[list[tuple[str, int, bool]]]
) -> None:
    rig = Rig()
    for i, batch in enumerate(batches):
        for operation, times, lost in faults[i] if i < len(faults) else []:
            if operation == "publish":
                rig.publisher.fail_next(times, lost_reply=lost)
            else:
                rig.store.fail_next(times, operation=operation, lost_reply=lost)
        rig.process(batch)
    everything = [v for batch in batches for v in batch]
    assert snapshot_hash(rig.store.graph.snapshot()) == snapshot_hash(
        pure_fold(everything).snapshot()
    )
    acked = rig.acked_values()
    # every invalid message as often as it came, at least; the rule-rejected event once
    # at least, and again only if a publish lost its reply
    assert acked.count(BAD_JSON) >= everything.count(BAD_JSON)
    if INTERNAL_ONLY in everything:
        assert INTERNAL_ONLY in acked
    if not any(lost for batch_faults in faults for op, _, lost in batch_faults if op == "publish"):
        assert acked.count(INTERNAL_ONLY) == min(1, everything.count(INTERNAL_ONLY))
    assert_marks_follow_acks(rig.journal, {content_hash(INTERNAL_ONLY): INTERNAL_ONLY})


def test_without_dead_letters_a_batch_only_folds() -> None:
    """The rebuild's processor (``dead_letters=False``): no dedup check, no
    letter published, one fold call; the outcomes are counted as the worker
    counts them (the rule-rejected event is new, as nothing marks it)."""
    rig = Rig(mark_rejected=False)
    rig.processor.dead_letters = False
    result = rig.process([GOOD, INTERNAL_ONLY, BAD_JSON, START, GOOD])
    assert rig.steps() == [("fold", "ok")]
    assert rig.publisher.acked == []
    assert result.dead_letters == []
    assert (result.accepted, result.duplicate, result.edges_folded) == (1, 1, 1)
    assert result.rejected == {"invalid_json": 1, "mix_rule_internal_only": 1}
    assert result.ignored == {"START": 1}
    # the normalised eventTime of GOOD (tests/events.py: 2026-03-01T10:00:00Z)
    assert result.event_times == ["2026-03-01T10:00:00.000000Z"]
