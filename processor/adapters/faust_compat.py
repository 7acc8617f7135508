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
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as driver

DEFAULT_FETCH_MAX_WAIT_MS = 1500  # faust's own, when the app sets none


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Read by AIOKafkaConsumer.start() when it builds its fetcher.
        consumer._fetch_max_wait_ms = getattr(
            self.app, "fetch_max_wait_ms", DEFAULT_FETCH_MAX_WAIT_MS
        )
        return consumer


class _Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


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
