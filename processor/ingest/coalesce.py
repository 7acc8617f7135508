"""The records of concurrent requests, gathered into one record batch per partition.

aiokafka keeps one produce request in flight per broker and, per partition, one
batch waiting behind it. ``send`` fills that waiting batch record by record, at
the price of a future and a trip through its accumulator per record (most of the
producer's cost per event at the gateway's rates). Here the records are
appended straight to a ``BatchBuilder`` per partition, and a flusher per
partition hands the builders to ``send_batch`` one at a time: it waits while the
partition's slot is taken, so what arrives meanwhile fills the next builder and
a produce request carries everything that came while the last was on the wire,
as with ``send`` (the producer's linger applies to these batches too).

Each builder's acknowledgement has one deadline, from when it was opened: a
record added later waits less, never more, and a request costs no timer of
its own.

Records are placed by the producer's own partitioner (``DefaultPartitioner``:
murmur2 of the key, as the Java client and the openlineage-python Kafka
transport place them); a partition's records reach the broker in the order they
were added.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner

from processor.errors import BrokerUnavailable
from processor.ports import OutRecord

Place = tuple[str, int]
_NO_HEADERS: list[tuple[str, bytes]] = []  # read, never changed
# Keys whose partition is remembered, per topic (then forgotten all at once).
_PLACED_KEYS = 100_000


class _Pending:
    """A builder being filled or waiting its turn, and the acknowledgement of its records."""

    __slots__ = ("builder", "done")

    def __init__(self, builder: Any, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.builder = builder
        self.done: asyncio.Future[None] = loop.create_future()
        deadline = loop.call_later(timeout, _expire, self.done, timeout)
        self.done.add_done_callback(lambda future: _retrieve(future, deadline))


def _expire(done: asyncio.Future[None], timeout: float) -> None:
    if not done.done():
        done.set_exception(
            BrokerUnavailable(f"the broker did not acknowledge within {timeout:g} s")
        )


def _retrieve(future: asyncio.Future[None], deadline: asyncio.TimerHandle) -> None:
    deadline.cancel()
    # Nobody may be left waiting (their requests answered already): retrieved here.
    if not future.cancelled():
        future.exception()


class RecordBatches:
    """``add`` places records in the builders of their partitions and returns
    the futures that complete when the broker acknowledged them."""

    def __init__(self, producer: AIOKafkaProducer, timeout: float) -> None:
        self._producer = producer
        self._timeout = timeout
        self._partitioner = DefaultPartitioner()
        self._partitions: dict[str, list[int]] = {}
        self._queues: dict[Place, deque[_Pending]] = {}
        self._flushers: dict[Place, asyncio.Task[None]] = {}
        self._placed: dict[str, dict[bytes, int]] = {}

    def placed(self, topics: Iterable[str]) -> bool:
        """True when ``add`` and ``add_keyed`` can place records of ``topics`` at once
        (their partitions are known): they then return without suspending."""
        return all(self._known_partitions(topic) for topic in topics)

    def add_one(self, record: OutRecord) -> asyncio.Future[None] | None:
        """The acknowledgement of ``record``, added without suspending; None when
        its topic's partitions are not known yet (then ``add``)."""
        ids = self._known_partitions(record.topic)
        if ids is None:
            return None
        return self._append(record, ids, asyncio.get_running_loop())

    async def add(self, records: Sequence[OutRecord]) -> set[asyncio.Future[None]]:
        loop = asyncio.get_running_loop()
        topics: dict[str, list[int]] = {}
        for topic in {r.topic for r in records}:
            topics[topic] = self._known_partitions(topic) or await self._load(topic)
        return {self._append(r, topics[r.topic], loop) for r in records}

    async def add_keyed(
        self, topic: str, records: Iterable[tuple[bytes | None, bytes]]
    ) -> set[asyncio.Future[None]]:
        """``add`` for (key, value) records of one topic, without headers: a batch's
        events, spared a record object, a look-up of their topic and of their
        partition's queue each (a record goes straight to its partition's open
        builder while it has room)."""
        loop = asyncio.get_running_loop()
        ids = self._known_partitions(topic) or await self._load(topic)
        known = self._placed.setdefault(topic, {})
        partition_of = self._partition
        # Per partition, the open builder's append: valid for this call only (the
        # flusher takes builders between event-loop turns, never during it).
        appends: dict[int, Any] = {}
        waits: set[asyncio.Future[None]] = set()
        for key, value in records:
            partition = known.get(key) if key is not None else None
            if partition is None:
                partition = partition_of(topic, key, ids)
            append = appends.get(partition)
            if append is not None and append(
                key=key, value=value, timestamp=None, headers=_NO_HEADERS
            ):
                continue
            waits.add(self._place_at((topic, partition), key, value, _NO_HEADERS, loop))
            appends[partition] = self._queues[(topic, partition)][-1].builder.append
        return waits

    def _append(
        self, r: OutRecord, ids: list[int], loop: asyncio.AbstractEventLoop
    ) -> asyncio.Future[None]:
        return self._place(r.topic, r.key, r.value, r.headers or _NO_HEADERS, ids, loop)

    def _place(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
        ids: list[int],
        loop: asyncio.AbstractEventLoop,
    ) -> asyncio.Future[None]:
        return self._place_at((topic, self._partition(topic, key, ids)), key, value, headers, loop)

    def _place_at(
        self,
        place: Place,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
        loop: asyncio.AbstractEventLoop,
    ) -> asyncio.Future[None]:
        queue = self._queues.get(place)
        if queue is None:
            queue = self._queues[place] = deque()
        if not queue or not queue[-1].builder.append(
            key=key, value=value, timestamp=None, headers=headers
        ):
            # None open, or the open one is full: a first record always fits.
            queue.append(_Pending(self._producer.create_batch(), loop, self._timeout))
            queue[-1].builder.append(key=key, value=value, timestamp=None, headers=headers)
        if place not in self._flushers:
            self._flushers[place] = loop.create_task(self._flush(place))
        return queue[-1].done

    def _known_partitions(self, topic: str) -> list[int] | None:
        """The topic's partitions in the producer's metadata (which it refreshes);
        None before it has any. Keys are placed anew when partitions were added."""
        current = self._producer.client.cluster.partitions_for_topic(topic)
        if not current:
            return None
        ids = self._partitions.get(topic)
        if ids is None or len(ids) != len(current):
            ids = self._partitions[topic] = sorted(current)
            self._placed.pop(topic, None)
        return ids

    async def _load(self, topic: str) -> list[int]:
        """Wait for the topic's metadata (the producer asks the broker)."""
        await self._producer.partitions_for(topic)
        ids = self._known_partitions(topic)
        if not ids:
            raise KafkaError(f"the broker knows no partition of {topic}")
        return ids

    def _partition(self, topic: str, key: bytes | None, ids: list[int]) -> int:
        """The partitioner's choice, remembered by key: its murmur2 is pure Python,
        several microseconds a key, and a job's runs keep their key."""
        if key is None:
            return int(self._partitioner(None, ids, ids))
        known = self._placed.setdefault(topic, {})
        partition = known.get(key)
        if partition is None:
            if len(known) >= _PLACED_KEYS:
                known.clear()
            partition = known[key] = int(self._partitioner(key, ids, ids))
        return partition

    async def _flush(self, place: Place) -> None:
        """Hand the partition's builders to the producer in order, each once the
        one before it left; stop when none is left."""
        topic, partition = place
        queue = self._queues[place]
        try:
            while queue:
                pending = queue.popleft()
                try:
                    acked = await self._producer.send_batch(
                        pending.builder, topic, partition=partition
                    )
                except Exception as exc:  # the requests waiting on it answer 503
                    if not pending.done.done():
                        pending.done.set_exception(exc)
                    continue
                acked.add_done_callback(lambda f, p=pending: _settle(f, p.done))
        finally:
            del self._flushers[place]
            if not queue:
                del self._queues[place]

    async def close(self) -> None:
        """Wait for the flushers (the producer's stop then flushes what they sent)."""
        if self._flushers:
            await asyncio.gather(*self._flushers.values(), return_exceptions=True)


def _settle(acked: asyncio.Future[Any], done: asyncio.Future[None]) -> None:
    if done.done():
        return
    if acked.cancelled():
        done.cancel()
    elif (exc := acked.exception()) is not None:
        done.set_exception(exc)
    else:
        done.set_result(None)
