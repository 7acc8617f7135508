"""faust's aiokafka transport, with the consumer's fetch wait as a setting.

faust-streaming builds the worker's consumer with ``fetch_max_wait_ms=1500``
and no setting to change it. The wait is how long the broker may hold a fetch
of partitions with nothing new. Kafka answers as soon as a record arrives; the
Tansu broker of the tests and of ``dev`` answers when the wait is over, which
put up to 1.5 s between a produce and the graph at any rate
(``make bench-load``). ``LINEAGE_KAFKA_FETCH_MAX_WAIT_MS`` bounds that; on
Kafka a shorter wait only means more (empty) fetches from idle partitions.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as driver


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Read by AIOKafkaConsumer.start() when it builds its fetcher.
        consumer._fetch_max_wait_ms = getattr(self.app, "fetch_max_wait_ms", 1500)
        return consumer


class _Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(driver.Transport):
    Consumer = _Consumer


class LineageApp(faust.App):
    """A faust app whose consumer waits at most ``fetch_max_wait_ms`` per fetch."""

    def __init__(self, *args: Any, fetch_max_wait_ms: int = 1500, **kwargs: Any) -> None:
        self.fetch_max_wait_ms = fetch_max_wait_ms
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)
