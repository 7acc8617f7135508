"""Every reach into faust-streaming's internals, in one place.

faust-streaming (pinned in pyproject) has no public way to do any of these,
so each one leans on a private attribute or method or on how faust builds a
message. ``tests/unit/test_faust_compat.py`` checks that each is still there
with the shape relied on, so an upgrade of faust (or aiokafka) fails there
first, with the name of what moved.

* **The fetch wait** (:class:`LineageApp`): faust builds the worker's
  consumer with ``fetch_max_wait_ms=1500`` and no setting to change it. The
  wait is how long the broker may hold a fetch of partitions with nothing
  new. Kafka answers as soon as a record arrives; the Tansu broker of the
  tests and of ``dev`` answers when the wait is over, which put up to 1.5 s
  between a produce and the graph at any rate (``make bench-load``).
  ``LINEAGE_KAFKA_FETCH_MAX_WAIT_MS`` bounds that; on Kafka a shorter wait
  only means more (empty) fetches from idle partitions. Relies on
  ``AIOKafkaConsumerThread._create_worker_consumer``,
  ``Consumer._new_consumer_thread``, ``App._new_transport`` and aiokafka's
  ``AIOKafkaConsumer._fetch_max_wait_ms``.
* **The stale-ack guard** (:func:`guard_stale_acks`): replaces the
  consumer's ``ack`` and drops acks of an old consumer generation from
  ``Consumer._unacked_messages``.
* **The committed offset** (:func:`committed_offset`): the lag gauge's
  position for a partition no batch went through yet, from
  ``Consumer._committed_offset``.
* **The timestamp** (:func:`timestamp_ms`): faust's ``Message`` holds
  aiokafka's millisecond timestamp divided by 1000
  (``Consumer._to_message`` of its aiokafka driver).
* **The fetch diversion** (:class:`FetchSink`, ``_Consumer.divert``): faust
  spends ~240 µs of CPU per message between the fetch and an agent (four
  tasks per message in ``Consumer._drain_messages``, a ``ConsumerMessage``
  and an ``Event`` per record, a loop cycle per record in the stream). The
  consumer's ``ThreadDelegateConsumer._getmany`` is the one place that holds
  aiokafka's ``{TopicPartition: [ConsumerRecord]}`` of a fetch: the input
  topics' records are popped there and handed whole to a sink
  (``processor.hot_path``); the control topic stays on faust's path. The
  sink's :class:`~processor.core.offset_book.OffsetBook` replaces faust's
  acks for them: it is told of every revoke and assignment
  (``Consumer.on_partitions_revoked``/``on_partitions_assigned``), its
  offsets join faust's commits (``Consumer._filter_tps_with_pending_acks``,
  ``Consumer._filter_committable_offsets``, read against
  ``Consumer._committed_offset`` and skipping what ``Consumer._acked``
  holds), and ``Consumer.wait_empty`` (a revoke, a shutdown) first lets the
  sink settle. Records fetched across a
  rebalance are dropped and their partitions sought back to the committed
  offset (``Consumer.seek_to_committed``, ``ConsumerThread.seek_to_beginning``
  through ``_thread`` for a partition never committed). faust's monitor is
  kept true for them: ``messages_received_total``,
  ``messages_received_by_topic``, ``tp_read_offsets``,
  ``stream_inbound_time`` and ``track_tp_end_offset`` with
  ``Consumer.highwater``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from time import monotonic
from typing import Any, Protocol

import faust
from aiokafka.errors import IllegalStateError
from faust.transport.drivers import aiokafka as driver

from processor.core.offset_book import OffsetBook

DEFAULT_FETCH_MAX_WAIT_MS = 1500  # faust's own, when the app sets none


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Read by AIOKafkaConsumer.start() when it builds its fetcher.
        consumer._fetch_max_wait_ms = getattr(
            self.app, "fetch_max_wait_ms", DEFAULT_FETCH_MAX_WAIT_MS
        )
        return consumer


class FetchSink(Protocol):
    """Where the diverted records of a fetch go (``processor.hot_path``)."""

    topics: frozenset[str]
    book: OffsetBook

    async def put(self, fetched: Mapping[Any, Sequence[Any]], epoch: int) -> None:
        """Take a fetch's records (aiokafka ``ConsumerRecord`` lists per
        partition, in offset order) fetched in ``epoch``; may wait for room."""
        ...

    async def settle(self) -> None:
        """Drop what waits, let the batch being committed finish (bounded),
        and make every batch fetched before this stale (``OffsetBook.fence``)."""
        ...


class _Consumer(driver.Consumer):
    sink: FetchSink | None = None

    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def divert(self, sink: FetchSink) -> None:
        """From now on, hand the records of ``sink.topics`` to ``sink``."""
        self.sink = sink

    async def _getmany(self, active_partitions: Any, timeout: float) -> Any:  # noqa: ASYNC109
        sink = self.sink
        if sink is None:
            return await super()._getmany(active_partitions, timeout)
        epoch = sink.book.epoch
        records: Any = await super()._getmany(active_partitions, timeout)
        topics = sink.topics
        mine = {tp: records.pop(tp) for tp in [tp for tp in records if tp.topic in topics]}
        if not mine:
            return records
        if epoch != sink.book.epoch or not self.flow_active:
            # Fetched across a rebalance or a stop: these records may belong to
            # the new assignment, whose position they already advanced. Back to
            # the committed offsets, so none is skipped.
            await self.rewind(list(mine))
            return records
        self.count_in_monitor(mine)
        await sink.put(mine, epoch)
        return records

    def count_in_monitor(self, fetched: Mapping[Any, Sequence[Any]]) -> None:
        """What faust's monitor would have counted for these records."""
        monitor: Any = self.app.monitor
        now = monotonic()
        for tp, recs in fetched.items():
            n = len(recs)
            monitor.messages_received_total += n
            monitor.messages_received_by_topic[tp.topic] += n
            monitor.tp_read_offsets[tp] = recs[-1].offset
            monitor.stream_inbound_time[tp] = now
            monitor.track_tp_end_offset(tp, self.highwater(tp))

    async def rewind(self, tps: Sequence[Any]) -> None:
        try:
            committed = await self.seek_to_committed()
        except (AssertionError, IllegalStateError):
            return  # nothing assigned: the next assignment sets every position
        # aiokafka seeks only past offset 0; a partition never committed
        # starts over (its records meet their dedup marks).
        fresh = [tp for tp in tps if tp in committed and not committed[tp]]
        if fresh:
            await self._thread.seek_to_beginning(*fresh)

    async def on_partitions_assigned(self, assigned: Any, generation_id: int = 0) -> None:
        if self.sink is not None:
            self.sink.book.assigned(assigned)
        await super().on_partitions_assigned(assigned, generation_id)

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # faust's revoke commits what is durable (``wait_empty``) before the
        # book forgets the revoked partitions.
        await super().on_partitions_revoked(revoked)
        if self.sink is not None:
            self.sink.book.revoked(revoked)

    async def wait_empty(self) -> None:
        sink = self.sink
        if sink is not None:
            await sink.settle()
            if self.flow_active:
                # Settled outside a revoke or a stop, so no assignment resets
                # the positions past what the sink dropped: rewind them here.
                await self.rewind([tp for tp in self.assignment() if tp.topic in sink.topics])
        await super().wait_empty()

    def _filter_tps_with_pending_acks(self, topics: Any = None) -> Iterator[Any]:
        yield from super()._filter_tps_with_pending_acks(topics)
        if self.sink is not None:
            tp: Any
            for tp in self.sink.book.pending():
                if tp not in self._acked and (topics is None or tp in topics or tp.topic in topics):
                    yield tp

    def _filter_committable_offsets(self, tps: Iterable[Any]) -> dict[Any, int]:
        tps = list(tps)
        offsets: dict[Any, int] = super()._filter_committable_offsets(tps)
        if self.sink is not None:
            rest = [tp for tp in tps if tp not in offsets]
            committed: Any = self._committed_offset
            offsets.update(self.sink.book.committable(rest, committed.get))
        return offsets


class _Transport(driver.Transport):
    Consumer = _Consumer


class LineageApp(faust.App):
    """A faust app whose consumer waits at most ``fetch_max_wait_ms`` per fetch."""

    def __init__(
        self, *args: Any, fetch_max_wait_ms: int = DEFAULT_FETCH_MAX_WAIT_MS, **kwargs: Any
    ) -> None:
        self.fetch_max_wait_ms = fetch_max_wait_ms
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)


def divert_fetches(app: faust.App, sink: FetchSink) -> None:
    """Hand the records of ``sink.topics`` to ``sink`` whole, per fetch."""
    consumer: Any = app.consumer
    assert isinstance(consumer, _Consumer), "the app is not a LineageApp"
    consumer.divert(sink)


def guard_stale_acks(app: faust.App) -> None:
    """Never let a record fetched before a rebalance count as processed.

    faust acks records of a previous consumer generation when it skips them
    after a rebalance; acking marks an offset committable, so a crash before the
    re-fetched copy is processed would lose it. The re-fetched copy is acked
    when it is really processed.
    """
    consumer: Any = app.consumer
    original = consumer.ack

    def ack(message: Any) -> bool:
        if message.generation_id != app.consumer_generation_id:
            message.acked = True
            consumer._unacked_messages.discard(message)
            return False
        return bool(original(message))

    consumer.ack = ack


def committed_offset(consumer: Any, tp: Any) -> int | None:
    """The offset faust last committed (or found committed) for ``tp``, if any."""
    found = consumer._committed_offset.get(tp)
    return None if found is None else int(found)


def timestamp_ms(message: Any) -> int | None:
    """A faust ``Message``'s timestamp in milliseconds, as the broker gave it."""
    ts = message.timestamp
    return None if ts is None else int(ts * 1000)
