"""Folds of distinct partitions in flight at the same time (``HotPath``'s
``folds_in_flight``): they overlap, a partition's batches never do, each
partition's offsets become committable as its own batches are durable, and an
event in two partitions is folded and dead-lettered once whichever fold runs
first."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from typing import Any

from processor.adapters.memory import MemoryGraphStore, MemoryPublisher
from processor.core.snapshot import snapshot_hash
from tests.events import dataset, raw_event
from tests.unit.test_hot_path import P0, P1, TP, Rig, event, fetched, pure_fold, until


class GatedStore(MemoryGraphStore):
    """Holds each partition's folds until its gate opens; counts the folds in
    flight, in all and per partition."""

    def __init__(self) -> None:
        super().__init__()
        self.gates = {"events/0": asyncio.Event(), "events/1": asyncio.Event()}
        self.active: Counter[str] = Counter()
        self.most_at_once = 0
        self.most_per_partition = 0

    async def mark_and_fold(
        self, payload: bytes, token: str, offsets: Mapping[str, int] | None = None
    ) -> list[bool]:
        assert offsets is not None
        assert len(offsets) == 1, "a batch holds one partition"
        (place,) = offsets
        self.active[place] += 1
        self.most_at_once = max(self.most_at_once, sum(self.active.values()))
        self.most_per_partition = max(self.most_per_partition, self.active[place])
        try:
            await self.gates[place].wait()
            return await super().mark_and_fold(payload, token, offsets)
        finally:
            self.active[place] -= 1


def test_two_partitions_fold_at_once_and_a_duplicate_across_them_counts_once() -> None:
    internal_only = raw_event(inputs=[dataset("snowflake://acme", "A")])  # rule-rejected
    dup = event(100)
    p0 = [dup, internal_only, event(1)]  # two batches: 2 records, 1
    p1 = [dup, internal_only]  # one batch, folded before P0's first

    async def run() -> tuple[Rig, GatedStore, dict[object, int]]:
        store = GatedStore()
        rig = Rig(store, batch_size=2, folds_in_flight=2)
        epoch = rig.hot.book.assigned({P0, P1})
        runner = asyncio.create_task(rig.hot.run())
        await rig.hot.put(fetched(P0, 0, p0), epoch)
        await rig.hot.put(fetched(P1, 0, p1), epoch)
        await until(lambda: store.active["events/0"] == 1 and store.active["events/1"] == 1)
        store.gates["events/1"].set()  # P1 folds first although published after P0
        await until(lambda: len(rig.batches) == 1)
        while_p0_held = rig.committable()
        store.gates["events/0"].set()
        await until(lambda: len(rig.batches) == 3)
        runner.cancel()
        return rig, store, while_p0_held

    rig, store, while_p0_held = asyncio.run(run())
    assert store.most_at_once == 2
    assert store.most_per_partition == 1
    assert while_p0_held == {P1: 2}
    assert rig.committable() == {P0: 3, P1: 2}
    totals = Counter[str]()
    for result, _ in rig.batches:
        totals["accepted"] += result.accepted
        totals["duplicate"] += result.duplicate
        totals["rejected"] += sum(result.rejected.values())
    # 2 distinct accepted events, one rule-rejected; each of dup and
    # internal_only once more as a duplicate
    assert totals == {"accepted": 2, "duplicate": 2, "rejected": 1}
    publisher = rig.processor.publisher
    assert isinstance(publisher, MemoryPublisher)
    assert [r.value for r in publisher.acked] == [internal_only]
    expected = pure_fold([dup, event(1)])
    assert snapshot_hash(rig.store.graph.snapshot()) == snapshot_hash(expected.snapshot())


def test_one_fold_in_flight_keeps_fetch_order_across_partitions() -> None:
    async def run() -> Rig:
        store = GatedStore()
        rig = Rig(store, batch_size=2)  # folds_in_flight 1: the default
        epoch = rig.hot.book.assigned({P0, P1})
        runner = asyncio.create_task(rig.hot.run())
        await rig.hot.put(fetched(P0, 0, [event(1), event(2)]), epoch)
        await rig.hot.put(fetched(P1, 0, [event(3)]), epoch)
        await until(lambda: store.active["events/0"] == 1)
        store.gates["events/1"].set()
        await asyncio.sleep(0.05)
        assert store.active["events/1"] == 0, "P1 started beside P0"
        store.gates["events/0"].set()
        await until(lambda: len(rig.batches) == 2)
        runner.cancel()
        return rig

    rig = asyncio.run(run())
    assert [offsets for _, offsets in rig.batches] == [{("events", 0): 2}, {("events", 1): 1}]


def _lanes(batch_size: int) -> list[list[int]]:
    """The partitions of each batch when 8 partitions of 3 records each wait,
    with 2 folds in flight."""
    tps = [TP("events", p) for p in range(8)]

    async def run() -> Rig:
        rig = Rig(batch_size=batch_size, folds_in_flight=2)
        epoch = rig.hot.book.assigned(tps)
        fetch: dict[Any, list[Any]] = {}
        for tp in tps:
            fetch.update(fetched(tp, 0, [event(10 * tp.partition + i) for i in range(3)]))
        runner = asyncio.create_task(rig.hot.run())
        await rig.hot.put(fetch, epoch)
        await until(lambda: sum(r.accepted for r, _ in rig.batches) == 24)
        runner.cancel()
        return rig

    rig = asyncio.run(run())
    assert all(o == 3 for _, offsets in rig.batches for o in offsets.values())
    return sorted(sorted(p for _, p in offsets) for _, offsets in rig.batches)


def test_with_a_backlog_and_more_partitions_than_folds_a_batch_holds_one_lane() -> None:
    """24 records wait, batches of 12: partitions 0, 2, 4, 6 share a lane and
    a batch (no batch of a record or two each), 1, 3, 5, 7 the other."""
    assert _lanes(12) == [[0, 2, 4, 6], [1, 3, 5, 7]]


def test_without_a_backlog_a_batch_takes_every_lane() -> None:
    """24 records wait, less than half a batch of 100: one batch, as with one
    fold in flight (fewer, larger batches cost less)."""
    assert _lanes(100) == [list(range(8))]


def test_settling_waits_for_every_fold_in_flight_and_drops_the_rest() -> None:
    async def run() -> Rig:
        store = GatedStore()
        rig = Rig(store, batch_size=2, folds_in_flight=2)
        epoch = rig.hot.book.assigned({P0, P1})
        runner = asyncio.create_task(rig.hot.run())
        await rig.hot.put(fetched(P0, 0, [event(1), event(2), event(3)]), epoch)
        await rig.hot.put(fetched(P1, 0, [event(4), event(5)]), epoch)
        await until(lambda: store.active["events/0"] == 1 and store.active["events/1"] == 1)
        settling = asyncio.create_task(rig.hot.settle())
        await asyncio.sleep(0.02)
        for gate in store.gates.values():
            gate.set()
        await settling
        await asyncio.sleep(0.05)
        runner.cancel()
        return rig

    rig = asyncio.run(run())
    # both folds in flight became durable and were recorded; P0's third
    # record (its second batch) was dropped: it is fetched again after the
    # rebalance
    assert sorted(sorted(o.items()) for _, o in rig.batches) == [
        [(("events", 0), 2)],
        [(("events", 1), 2)],
    ]
    assert rig.committable() == {P0: 2, P1: 2}
    assert snapshot_hash(rig.store.graph.snapshot()) == snapshot_hash(
        pure_fold([event(i) for i in (1, 2, 4, 5)]).snapshot()
    )
