"""The live worker's input path: whole fetched batches, past faust's per-message machinery.

faust's consumer hands every fetch of the input topics here as it came from
aiokafka (``adapters.faust_compat``: the fetch diversion); faust keeps the
group membership, the rebalance callbacks, the commit timer, the control
topic and its monitor. Three loops run side by side, each on its own batch:

* the **classify loop** takes up to ``batch_size`` fetched records of one
  lane of partitions (never waiting to fill a batch: a fetch already is one, and
  waiting only adds latency) and starts their classification, in a helper
  process when there is one;
* the **publish loop**, batch after batch, claims the batch's events and
  starts steps 2-3 of docs/design.md section 3 for it (dedup check of its
  rule-rejected events, dead letters acknowledged by the broker), at most one
  batch beyond the folds started. A hash that a batch ahead claimed counts as
  seen (``BatchProcessor.publish_dead_letters``), as it will be once that
  batch folded; the batch folds only once the letters of every batch up to
  it are acknowledged, so a letter it left to a batch ahead is out first;
* the **commit loop** starts the batches' folds in fetch order (one Lua call
  each: step 4), up to ``folds_in_flight`` at a time for distinct partitions,
  and a batch only once every earlier batch of its partition is durable; when
  a batch is durable it records its offsets in the
  :class:`~processor.core.offset_book.OffsetBook`, from which faust's commit
  timer commits them. Per partition the folds are thus in offset order and
  the book's offsets only move forward past durable records; across
  partitions Redis runs the calls one by one in some order, and the fold's
  dedup marks (one atomic call each) make the outcome the same in any order:
  of one event in two partitions, whichever call runs first folds it.

A batch carries the book's epoch of its fetch; after a rebalance (or a
:meth:`HotPath.settle`) it is stale: dropped wherever it is found and never
recorded, so no offset is committed from a batch of an old assignment.
Backpressure: :meth:`HotPath.put` waits while two batches' worth of records
are waiting, which holds faust's fetcher.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from processor.adapters.classifier_pool import ClassifierPool
from processor.adapters.log_reader import to_record
from processor.batch import BatchProcessor, PreparedBatch
from processor.core.batch_plan import Summary
from processor.core.offset_book import OffsetBook
from processor.ports import BatchResult, InputRecord

log = logging.getLogger("processor.hot_path")

Done = Callable[[BatchResult, Mapping[Any, int]], None]


@dataclass(slots=True)
class HotBatch:
    """A batch between the two loops."""

    epoch: int
    records: list[InputRecord]
    next_offsets: dict[Any, int]  # (topic, partition) -> highest offset + 1
    work: asyncio.Future[tuple[list[Summary], list[bytes]]] | None
    prepared: PreparedBatch | None
    claimed: bool = False  # its hashes are in ``HotPath._marking``
    # Its dead letters being published, and those of every batch before it
    # still being published: all acknowledged before it folds.
    letters: tuple[asyncio.Task[None], ...] = ()

    @property
    def places(self) -> Sequence[Any]:
        return list(self.next_offsets)


def next_offsets(records: Sequence[InputRecord]) -> dict[Any, int]:
    """Per (topic, partition), the offset after the highest of ``records``."""
    out: dict[Any, int] = {}
    for rec in records:
        place = (rec.topic, rec.partition)
        if rec.offset >= out.get(place, 0):
            out[place] = rec.offset + 1
    return out


class HotPath:
    """Fetched records in, durable batches and committable offsets out."""

    def __init__(
        self,
        processor: BatchProcessor,
        pool: ClassifierPool | None,
        *,
        topics: Sequence[str],
        batch_size: int,
        settle_seconds: float,
        on_done: Done,
        folds_in_flight: int = 1,
    ) -> None:
        self.processor = processor
        self.pool = pool
        self.topics = frozenset(topics)
        self.batch_size = batch_size
        self.settle_seconds = settle_seconds
        self.on_done = on_done
        self.folds_in_flight = max(1, folds_in_flight)
        self.book = OffsetBook()
        # (epoch, lane, records): one lane's records of a fetch (see ``_take``)
        self._waiting: deque[tuple[int, int, list[InputRecord]]] = deque()
        self._waiting_count = 0
        self._recent: deque[int] = deque(maxlen=self.folds_in_flight - 1)  # see ``_take``
        self._has_data = asyncio.Event()
        self._has_room = asyncio.Event()
        self._has_room.set()
        self._classified: asyncio.Queue[HotBatch] = asyncio.Queue(maxsize=2)
        self._published: asyncio.Queue[HotBatch] = asyncio.Queue(maxsize=1)
        self._closing = False
        self._publishing: asyncio.Task[None] | None = None
        # fold tasks -> the partitions they hold
        self._inflight: dict[asyncio.Task[None], Sequence[Any]] = {}
        self._landed = asyncio.Event()  # a fold task finished
        # A bug in a fold task: raised by :meth:`run`.
        self._failed: asyncio.Future[None] | None = None
        # content hash -> batches published and not yet folded that mark it
        self._marking: dict[str, int] = {}
        self._letters: list[asyncio.Task[None]] = []  # in publish order, not yet seen done
        self._outstanding = 0  # records taken and not yet durable or dropped
        self._idle = asyncio.Event()
        self._idle.set()

    # -- the consumer's side (``faust_compat.FetchSink``) ------------------------

    async def put(self, fetched: Mapping[Any, Sequence[Any]], epoch: int) -> None:
        """Take a fetch's records; waits while two batches' worth are waiting."""
        records: list[InputRecord] = [
            to_record(r, timestamp_ms=r.timestamp) for recs in fetched.values() for r in recs
        ]
        await self.put_records(records, epoch)

    async def put_records(self, records: list[InputRecord], epoch: int) -> None:
        """Take records (in offset order per partition) fetched in ``epoch``."""
        while self._waiting_count >= 2 * self.batch_size:
            self._has_room.clear()
            await self._has_room.wait()
        if self._closing or not records:
            return  # settling: the rebalance or the stop resets the positions
        lanes = self.folds_in_flight
        by_lane: dict[int, list[InputRecord]] = {}
        for rec in records:
            lane = rec.partition % lanes
            chunk = by_lane.get(lane)
            if chunk is None:
                by_lane[lane] = [rec]
            else:
                chunk.append(rec)
        for lane, chunk in by_lane.items():
            self._waiting.append((epoch, lane, chunk))
        self._waiting_count += len(records)
        self._count(len(records))
        self._has_data.set()

    def _count(self, n: int) -> None:
        self._outstanding += n
        if self._outstanding:
            self._idle.clear()
        else:
            self._idle.set()

    async def drain(self, runner: asyncio.Task[None]) -> None:
        """Wait until every record taken is durable or dropped (``runner``: the
        task of :meth:`run`, whose failure is raised here)."""
        while not self._idle.is_set():
            idle = asyncio.ensure_future(self._idle.wait())
            await asyncio.wait([idle, runner], return_when=asyncio.FIRST_COMPLETED)
            idle.cancel()
            if runner.done():
                runner.result()
                raise RuntimeError("the hot path stopped")

    async def settle(self) -> None:
        """Before a revoke or a stop: drop every waiting batch, give the ones
        being published and committed ``settle_seconds`` to become durable (then
        cancel them: they run again after the rebalance), and make everything
        fetched so far stale."""
        self._closing = True
        try:
            self._count(-self._waiting_count)
            self._waiting.clear()
            self._waiting_count = 0
            self._has_room.set()
            while not self._classified.empty():
                self._drop(self._classified.get_nowait())
            while not self._published.empty():
                self._drop(self._published.get_nowait())
                self._published.task_done()
            tasks = list(self._inflight) + [t for t in self._letters if not t.done()]
            if self._publishing is not None:
                tasks.append(self._publishing)
            if tasks:
                _, late = await asyncio.wait(tasks, timeout=self.settle_seconds)
                if late:
                    log.warning("batch not durable after %.1f s: cancelled", self.settle_seconds)
                    for task in late:
                        task.cancel()
                    await asyncio.wait(late)
            self.book.fence()
        finally:
            self._closing = False

    # -- the three loops ---------------------------------------------------------

    async def run(self) -> None:
        """The loops until cancelled; a bug in one ends them all."""
        self._failed = asyncio.get_running_loop().create_future()
        loops = [
            asyncio.create_task(self.classify_loop()),
            asyncio.create_task(self.publish_loop()),
            asyncio.create_task(self.commit_loop()),
        ]
        try:
            await asyncio.gather(*loops, self._failed)
        finally:
            for task in (*loops, self._publishing, *self._inflight, *self._letters):
                if task is not None:
                    task.cancel()

    def _take(self) -> tuple[int, list[InputRecord]]:
        """Up to ``batch_size`` waiting records of one lane of the oldest waiting
        epoch, in offset order per partition: the lane of the oldest waiting
        records that none of the last ``folds_in_flight - 1`` batches took if
        there is one (so that batches next to each other can fold side by
        side), else of the oldest.

        A partition is in lane ``partition % folds_in_flight``: with as many
        partitions as folds in flight a batch holds one partition; with many
        more, a batch still gathers several (no batch of one record each at
        low rates), and batches of distinct lanes hold distinct partitions.

        While fewer than half a batch waits there is no backlog for folds side
        by side to work off: the batch takes every lane, as fewer, larger
        batches cost less CPU (a batch of a lane at 2,000 events/s and 4 lanes
        cost the worker some 45% more CPU an event)."""
        epoch, lane, _ = self._waiting[0]
        recent = self._recent
        every_lane = self._waiting_count < self.batch_size // 2
        if every_lane:
            recent.clear()
        elif lane in recent:
            for chunk_epoch, chunk_lane, _ in self._waiting:
                if chunk_epoch != epoch:
                    break
                if chunk_lane not in recent:
                    lane = chunk_lane
                    break
        if not every_lane:
            recent.append(lane)
        out: list[InputRecord] = []
        rest: list[tuple[int, int, list[InputRecord]]] = []
        while self._waiting and self._waiting[0][0] == epoch and len(out) < self.batch_size:
            chunk = self._waiting.popleft()
            if chunk[1] != lane and not every_lane:
                rest.append(chunk)
                continue
            records = chunk[2]
            room = self.batch_size - len(out)
            if len(records) <= room:
                out += records
            else:
                out += records[:room]
                rest.append((epoch, chunk[1], records[room:]))
        self._waiting.extendleft(reversed(rest))
        self._waiting_count -= len(out)
        if self._waiting_count < 2 * self.batch_size:
            self._has_room.set()
        if not self._waiting:
            self._has_data.clear()
        return epoch, out

    async def classify_loop(self) -> None:
        while True:
            await self._has_data.wait()
            if not self._waiting:
                self._has_data.clear()
                continue
            epoch, records = self._take()
            if epoch != self.book.epoch:
                self._count(-len(records))
                continue
            if self.pool is not None:
                work = asyncio.ensure_future(self.pool.classify([r.value for r in records]))
                batch = HotBatch(epoch, records, next_offsets(records), work, None)
            else:
                prepared = self.processor.prepare(records)
                batch = HotBatch(epoch, records, next_offsets(records), None, prepared)
            await self._classified.put(batch)

    def _stale(self, batch: HotBatch) -> bool:
        return self._closing or batch.epoch != self.book.epoch

    def _drop(self, batch: HotBatch) -> None:
        if batch.work is not None:
            batch.work.cancel()
        if batch.claimed:
            assert batch.prepared is not None
            batch.claimed = False
            self._unmark(batch.prepared)
        self._count(-len(batch.records))

    def _unmark(self, prepared: PreparedBatch) -> None:
        marking = self._marking
        for s in prepared.firsts:
            digest = s[1]
            left = marking.get(digest, 0) - 1
            if left > 0:
                marking[digest] = left
            else:
                marking.pop(digest, None)

    async def publish_loop(self) -> None:
        """Steps 2-3 (dedup check, dead letters) of a batch started while the
        batches before it fold."""
        while True:
            batch = await self._classified.get()
            # At most one batch beyond the folds started: while the folds are
            # retried (Redis down), letters stop after the batch behind them.
            await self._published.join()
            if self._stale(batch):
                self._drop(batch)
                continue
            task = asyncio.create_task(self._publish(batch))
            self._publishing = task
            try:
                await asyncio.wait([task])
            finally:
                self._publishing = None
            if task.cancelled():
                self._drop(batch)
                continue
            task.result()  # a bug: surface it
            await self._published.put(batch)

    async def _publish(self, batch: HotBatch) -> None:
        """Claim the batch's hashes and start publishing its dead letters; the
        acknowledgements are awaited before its fold (``_commit``), so the
        letters of several batches are on their way at once."""
        prepared = batch.prepared
        if prepared is None:
            assert batch.work is not None
            results, payloads = await batch.work
            prepared = batch.prepared = self.processor.group(batch.records, results, payloads)
        marking = self._marking
        # Hashes a batch ahead will mark (and dead-letters, if it is the first
        # to have them): seen, for this batch, as they will be when it folds,
        # since it folds only once that batch's letters are acknowledged.
        ahead = frozenset(h for _, h, _ in prepared.rule_rejected) & marking.keys()
        for s in prepared.firsts:
            digest = s[1]
            marking[digest] = marking.get(digest, 0) + 1
        batch.claimed = True
        task = asyncio.create_task(self.processor.publish_dead_letters(prepared, ahead))
        task.add_done_callback(self._fail_on_bug)
        self._letters = [t for t in self._letters if not t.done()]
        self._letters.append(task)
        batch.letters = tuple(self._letters)

    def _fail_on_bug(self, task: asyncio.Task[None]) -> None:
        error = None if task.cancelled() else task.exception()
        if error is not None and self._failed is not None and not self._failed.done():
            self._failed.set_exception(error)

    async def commit_loop(self) -> None:
        """Step 4 (one Lua call per batch): folds started in fetch order, up to
        ``folds_in_flight`` at a time, never two of one partition."""
        while True:
            batch = await self._published.get()
            try:
                await self._start(batch)
            finally:
                # Only now may the publish loop put out the next batch's letters.
                self._published.task_done()

    async def _start(self, batch: HotBatch) -> None:
        places = batch.places
        while not self._stale(batch) and (
            len(self._inflight) >= self.folds_in_flight
            or any(p in busy for busy in self._inflight.values() for p in places)
        ):
            self._landed.clear()
            await self._landed.wait()
        if self._stale(batch):
            self._drop(batch)
            return
        task = asyncio.create_task(self._commit(batch))
        self._inflight[task] = places
        task.add_done_callback(functools.partial(self._landing, batch=batch))

    def _landing(self, task: asyncio.Task[None], *, batch: HotBatch) -> None:
        """A fold task ended: durable, cancelled, or a bug (which ends :meth:`run`)."""
        del self._inflight[task]
        self._drop(batch)  # durable or cancelled: no longer outstanding
        self._landed.set()
        self._fail_on_bug(task)

    async def _commit(self, batch: HotBatch) -> None:
        assert batch.prepared is not None
        # The letters of this batch and of those before it (which it may have
        # counted on) first; one of them cancelled (a settle) cancels this fold.
        await asyncio.gather(*batch.letters)
        result = await self.processor.commit(batch.prepared)
        if not self.book.done(batch.epoch, batch.next_offsets):
            log.info("a batch of a previous assignment is durable; its offsets are not committed")
        self.on_done(result, batch.next_offsets)
