"""The hot path (``processor.hot_path``) on the in-memory ports: fetched records
become durable batches in fetch order, only durable batches of the current
assignment reach the offset book, and settling (a revoke, a stop) drops what
waits and never lets a stale batch's offsets be committed."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import pytest
from aiokafka.structs import ConsumerRecord

from processor.adapters.classifier_pool import ClassifierPool
from processor.adapters.memory import Call, MemoryGraphStore, MemoryPublisher
from processor.batch import BatchProcessor
from processor.core.fold import Graph
from processor.core.pipeline import Accepted, Classified, Limits, classify
from processor.core.rules import MixRule
from processor.core.snapshot import snapshot_hash
from processor.hot_path import HotPath, next_offsets
from processor.ports import BatchResult, InputRecord
from tests.events import dataset, raw_event

RULE = MixRule("mixed", ["snowflake://*"])


class TP(NamedTuple):
    topic: str
    partition: int


P0, P1 = TP("events", 0), TP("events", 1)


def event(i: int) -> bytes:
    """A distinct accepted event (one edge) per ``i``."""
    return raw_event(
        job={"namespace": "dbt", "name": f"job{i}"},
        inputs=[dataset("postgres://db", f"public.t{i % 7}")],
    )


def fetched(tp: TP, first: int, values: Sequence[bytes]) -> dict[Any, list[Any]]:
    return {
        tp: [
            ConsumerRecord(
                tp.topic, tp.partition, first + i, 1_772_000_000_000, 0, b"k", v, None, 1, 1, []
            )
            for i, v in enumerate(values)
        ]
    }


def pure_fold(values: Sequence[bytes]) -> Graph:
    graph = Graph()
    for value in values:
        c = classify(value, RULE, Limits())
        assert isinstance(c, Classified)
        assert isinstance(c.outcome, Accepted)
        graph.apply(c.outcome.fold)
    return graph


class BlockingStore(MemoryGraphStore):
    """Folds only once ``release`` is set: a batch held in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.entered = asyncio.Event()

    async def mark_and_fold(
        self, payload: bytes, token: str, offsets: Mapping[str, int] | None = None
    ) -> list[bool]:
        self.entered.set()
        await self.release.wait()
        return await super().mark_and_fold(payload, token, offsets)


class Rig:
    def __init__(
        self,
        store: MemoryGraphStore | None = None,
        batch_size: int = 4,
        settle: float = 5.0,
        folds_in_flight: int = 1,
    ) -> None:
        self.store = store or MemoryGraphStore()
        self.processor = BatchProcessor(
            store=self.store,
            publisher=MemoryPublisher(),
            rule=RULE,
            limits=Limits(),
            dlq_topic="dlq",
            version="test",
            max_backoff=0.0,
        )
        self.batches: list[tuple[BatchResult, dict[Any, int]]] = []
        self.hot = HotPath(
            self.processor,
            None,
            topics=["events"],
            batch_size=batch_size,
            settle_seconds=settle,
            on_done=lambda result, offsets: self.batches.append((result, dict(offsets))),
            folds_in_flight=folds_in_flight,
        )

    def committable(self) -> dict[Any, int]:
        return self.hot.book.committable([P0, P1], lambda _: None)


async def until(condition: Any, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")


def test_next_offsets_are_one_past_the_highest_per_partition() -> None:
    recs = [
        InputRecord("a", 0, 5, None, None, b""),
        InputRecord("a", 1, 9, None, None, b""),
        InputRecord("a", 0, 6, None, None, b""),
    ]
    assert next_offsets(recs) == {("a", 0): 7, ("a", 1): 10}


def test_fetches_become_durable_batches_in_order_and_their_offsets_committable() -> None:
    values = [event(i) for i in range(10)]

    async def run() -> Rig:
        rig = Rig(batch_size=4)
        epoch = rig.hot.book.assigned({P0, P1})
        runner = asyncio.create_task(rig.hot.run())
        await rig.hot.put(fetched(P0, 100, values[:6]), epoch)
        await rig.hot.put(fetched(P1, 0, values[6:]), epoch)
        await until(lambda: sum(r.accepted for r, _ in rig.batches) == 10)
        runner.cancel()
        return rig

    rig = asyncio.run(run())
    assert snapshot_hash(rig.store.graph.snapshot()) == snapshot_hash(pure_fold(values).snapshot())
    # batches of at most 4 records, in fetch order: 4 of P0, then 2 of P0 and
    # 2 of P1 (joined: both were waiting, in the one lane of one fold in
    # flight), then the last 2 of P1
    assert [offsets for _, offsets in rig.batches] == [
        {("events", 0): 104},
        {("events", 0): 106, ("events", 1): 2},
        {("events", 1): 4},
    ]
    assert rig.committable() == {P0: 106, P1: 4}
    assert rig.store.folded == {"events/0": 105, "events/1": 3}


def test_a_fetch_of_a_previous_assignment_is_dropped() -> None:
    async def run() -> Rig:
        rig = Rig()
        old = rig.hot.book.assigned({P0})
        rig.hot.book.revoked({P0})
        rig.hot.book.assigned({P0})
        runner = asyncio.create_task(rig.hot.run())
        await rig.hot.put(fetched(P0, 0, [event(1)]), old)
        await asyncio.sleep(0.05)
        runner.cancel()
        return rig

    rig = asyncio.run(run())
    assert rig.batches == []
    assert rig.store.journal == []
    assert rig.committable() == {}


def test_settling_lets_the_batch_in_flight_finish_and_drops_what_waits() -> None:
    async def run() -> tuple[Rig, list[bytes]]:
        store = BlockingStore()
        rig = Rig(store, batch_size=2)
        epoch = rig.hot.book.assigned({P0})
        runner = asyncio.create_task(rig.hot.run())
        values = [event(i) for i in range(6)]
        await rig.hot.put(fetched(P0, 0, values), epoch)
        await store.entered.wait()  # batch 0-1 is in flight, 2-5 wait
        settling = asyncio.create_task(rig.hot.settle())
        await asyncio.sleep(0.02)
        store.release.set()
        await settling
        await asyncio.sleep(0.05)
        runner.cancel()
        return rig, values

    rig, values = asyncio.run(run())
    assert [offsets for _, offsets in rig.batches] == [{("events", 0): 2}]
    assert rig.committable() == {P0: 2}
    assert snapshot_hash(rig.store.graph.snapshot()) == snapshot_hash(
        pure_fold(values[:2]).snapshot()
    )


def test_a_batch_not_durable_in_time_is_cancelled_and_never_committed() -> None:
    async def run() -> Rig:
        store = BlockingStore()
        rig = Rig(store, batch_size=2, settle=0.05)
        epoch = rig.hot.book.assigned({P0})
        runner = asyncio.create_task(rig.hot.run())
        await rig.hot.put(fetched(P0, 0, [event(1), event(2)]), epoch)
        await store.entered.wait()
        await rig.hot.settle()
        store.release.set()
        # fetched after the settle: this epoch's records start over elsewhere
        await rig.hot.put(fetched(P0, 2, [event(3)]), epoch)
        await asyncio.sleep(0.05)
        runner.cancel()
        return rig

    rig = asyncio.run(run())
    assert rig.batches == []
    assert rig.committable() == {}
    assert rig.store.journal == []


def test_put_waits_while_two_batches_wait() -> None:
    async def run() -> tuple[bool, bool]:
        rig = Rig(batch_size=2)
        epoch = rig.hot.book.assigned({P0})
        await rig.hot.put(fetched(P0, 0, [event(i) for i in range(4)]), epoch)
        blocked = asyncio.create_task(rig.hot.put(fetched(P0, 4, [event(4)]), epoch))
        await asyncio.sleep(0.02)
        was_waiting = not blocked.done()
        runner = asyncio.create_task(rig.hot.run())
        await asyncio.wait_for(blocked, 5)
        await until(lambda: sum(r.accepted for r, _ in rig.batches) == 5)
        runner.cancel()
        return was_waiting, rig.committable() == {P0: 5}

    assert asyncio.run(run()) == (True, True)


def test_drain_returns_once_every_record_taken_is_durable() -> None:
    values = [event(i) for i in range(7)]

    async def run() -> tuple[Rig, int]:
        rig = Rig(batch_size=3)
        epoch = rig.hot.book.assigned([])  # a reader outside any group owns nothing
        runner = asyncio.create_task(rig.hot.run())
        await rig.hot.put(fetched(P0, 0, values), epoch)
        await rig.hot.drain(runner)
        accepted = sum(r.accepted for r, _ in rig.batches)
        runner.cancel()
        return rig, accepted

    rig, accepted = asyncio.run(run())
    assert accepted == 7
    assert rig.committable() == {}  # nothing owned, nothing to commit
    assert snapshot_hash(rig.store.graph.snapshot()) == snapshot_hash(pure_fold(values).snapshot())


def test_drain_raises_when_the_hot_path_failed() -> None:
    class Broken(MemoryGraphStore):
        async def mark_and_fold(self, *args: Any, **kwargs: Any) -> list[bool]:
            raise ValueError("a bug")

    async def run() -> None:
        rig = Rig(Broken())
        epoch = rig.hot.book.assigned([P0])
        runner = asyncio.create_task(rig.hot.run())
        await rig.hot.put(fetched(P0, 0, [event(1)]), epoch)
        await rig.hot.drain(runner)

    with pytest.raises(ValueError, match="a bug"):
        asyncio.run(run())


def test_letters_of_the_next_batch_go_out_while_one_folds_and_none_twice() -> None:
    """Batch 2 is published while batch 1 folds: its copy of a rule-rejected
    event of batch 1 is a duplicate (batch 1 marks it first), not a second
    dead letter; and no fold marks a rule-rejected event before its letter."""
    internal_only = raw_event(inputs=[dataset("snowflake://acme", "A")])  # rule-rejected
    good = event(1)
    first, second = [internal_only, b"{"], [internal_only, good]
    journal: list[Call] = []

    async def run() -> Rig:
        store = BlockingStore()
        store.journal = journal
        rig = Rig(store, batch_size=2)
        rig.processor.publisher = MemoryPublisher(journal)
        epoch = rig.hot.book.assigned({P0})
        runner = asyncio.create_task(rig.hot.run())
        await rig.hot.put(fetched(P0, 0, first + second), epoch)
        await store.entered.wait()  # batch 1 folds (held) ...
        await until(lambda: rig.hot._publishing is None and not rig.hot._classified.qsize())
        store.release.set()  # ... while batch 2 was published
        await until(lambda: len(rig.batches) == 2)
        runner.cancel()
        return rig

    rig = asyncio.run(run())
    publisher = rig.processor.publisher
    assert isinstance(publisher, MemoryPublisher)
    assert sorted(r.value or b"" for r in publisher.acked) == sorted([internal_only, b"{"])
    (one, _), (two, _) = rig.batches
    assert (one.rejected["mix_rule_internal_only"], one.rejected["invalid_json"]) == (1, 1)
    assert (two.duplicate, two.accepted) == (1, 1)
    assert rig.committable() == {P0: 4}
    assert snapshot_hash(rig.store.graph.snapshot()) == snapshot_hash(pure_fold([good]).snapshot())
    # the order of effects: letters of both batches, then the folds in order
    steps = [c.operation for c in journal if c.operation in ("publish", "fold")]
    assert steps == ["publish", "fold", "fold"]
    internal_hash = classify(internal_only, RULE, Limits())
    assert isinstance(internal_hash, Classified)
    published = False
    for call in journal:
        published |= call.operation == "publish"
        if call.operation == "fold" and internal_hash.content_hash in call.hashes:
            assert published, "marked seen before its dead letter was acknowledged"


def test_letters_go_out_at_most_one_batch_ahead_of_a_fold_held_up() -> None:
    """While a fold is retried (Redis down), the batch after it may have its
    letters out, the one after that not yet."""

    async def run() -> list[bytes | None]:
        store = BlockingStore()
        rig = Rig(store, batch_size=2)
        epoch = rig.hot.book.assigned({P0})
        runner = asyncio.create_task(rig.hot.run())
        values = [event(1), b"{1", event(2), b"{2", event(3), b"{3"]  # a letter per batch
        await rig.hot.put(fetched(P0, 0, values), epoch)
        await store.entered.wait()
        await asyncio.sleep(0.1)  # time enough for any letter to go out
        publisher = rig.processor.publisher
        assert isinstance(publisher, MemoryPublisher)
        out = [r.value for r in publisher.acked]
        store.release.set()
        await until(lambda: len(rig.batches) == 3)
        runner.cancel()
        return out

    assert sorted(v or b"" for v in asyncio.run(run())) == [b"{1", b"{2"]


@pytest.mark.parametrize("send_folds", [False, True])
def test_batches_classified_in_a_helper_carry_folds_only_when_asked(send_folds: bool) -> None:
    """Through a helper process the results count every accepted event and
    carry its event time; the folds themselves (for ``dev``'s edges) only
    with ``send_folds``."""
    values = [event(i) for i in range(6)]
    pool = ClassifierPool(RULE, Limits(), 1)
    pool.send_folds = send_folds

    async def run() -> Rig:
        rig = Rig(batch_size=10)
        rig.hot.pool = pool
        epoch = rig.hot.book.assigned({P0})
        runner = asyncio.create_task(rig.hot.run())
        await rig.hot.put(fetched(P0, 0, values), epoch)
        await until(lambda: sum(r.accepted for r, _ in rig.batches) == 6, seconds=30.0)
        runner.cancel()
        return rig

    try:
        rig = asyncio.run(run())
    finally:
        pool.close()
    results = [r for r, _ in rig.batches]
    assert snapshot_hash(rig.store.graph.snapshot()) == snapshot_hash(pure_fold(values).snapshot())
    # raw_event's eventTime, normalised
    assert [t for r in results for t in r.event_times] == ["2026-03-01T10:00:00.000000Z"] * 6
    assert sum(r.edges_folded for r in results) == 6
    folded = [f for r in results for f in r.folded]
    if send_folds:
        assert [f.job for f in folded] == [("dbt", f"job{i}") for i in range(6)]
    else:
        assert folded == []
