"""The gateway's producer: acknowledged publishes within a deadline, and whether
the broker answers.

One acks=all aiokafka producer per gateway process (no idempotent producer:
not every Kafka-protocol broker offers InitProducerId, docs/design.md section 9).
The records of all concurrent requests are gathered into one record batch per
partition (``coalesce``), so under load a produce request carries many
requests' events.

A publish that fails, or is not acknowledged within the deadline, raises
``BrokerUnavailable``: the request then gets a 503, never a 2xx. Such a record
may still reach the topic later; the client's retry then makes a duplicate,
which the worker's dedup drops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from processor.adapters.kafka_admin import wait_for_broker
from processor.errors import BrokerUnavailable
from processor.ingest.coalesce import RecordBatches
from processor.ports import OutRecord

__all__ = ["GatewayPublisher", "OutRecord", "failure"]


class GatewayPublisher:
    """Publishes with a deadline; ``ready`` asks the broker for its metadata."""

    def __init__(
        self, bootstrap: str, timeout: float, security: Mapping[str, Any] | None = None
    ) -> None:
        self._bootstrap = bootstrap
        self._timeout = timeout
        self._security = dict(security or {})
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._batches: RecordBatches | None = None

    async def _get(self) -> RecordBatches:
        if self._batches is not None:
            return self._batches
        async with self._lock:
            if self._batches is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self._bootstrap,
                    acks="all",
                    enable_idempotence=False,
                    request_timeout_ms=max(1000, int(self._timeout * 1000)),
                    # One produce request in flight per broker: under load a round
                    # trip must carry many events, more than the default 16 KiB batch.
                    max_batch_size=1 << 20,
                    # A batch waits up to 1 ms for more records when the link is idle.
                    # Under load the batches fill while the last is on the wire, and
                    # 0 or 1 ms cost the same CPU a request; 5 ms halved the rate of
                    # clients that wait for each answer (docs/benchmarks.md).
                    linger_ms=1,
                    max_request_size=16 * 1024 * 1024,
                    **self._security,
                )
                try:
                    await producer.start()
                except (KafkaError, OSError) as exc:
                    await producer.stop()
                    raise BrokerUnavailable(f"Kafka at {self._bootstrap}: {exc}") from exc
                self._producer = producer
                self._batches = RecordBatches(producer, self._timeout)
            return self._batches

    def submit(self, record: OutRecord) -> asyncio.Future[None] | None:
        """The broker's acknowledgement of ``record`` (``failure`` tells how it
        ended), without suspending; None before the producer and the topic's
        metadata are ready: then ``publish``. The future is shared with other
        records' requests: add a callback to it, never cancel it."""
        batches = self._batches
        return None if batches is None else batches.add_one(record)

    async def publish(self, records: Sequence[OutRecord]) -> None:
        """Return once the broker acknowledged every record; else ``BrokerUnavailable``."""
        if records:
            await self._publish({r.topic for r in records}, lambda batches: batches.add(records))

    async def publish_keyed(
        self, topic: str, records: Sequence[tuple[bytes | None, bytes]]
    ) -> None:
        """``publish`` for (key, value) records of one topic without headers."""
        if records:
            await self._publish({topic}, lambda batches: batches.add_keyed(topic, records))

    async def _publish(
        self, topics: set[str], add: Callable[[RecordBatches], Awaitable[set[asyncio.Future[None]]]]
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        batches = self._batches
        try:
            if batches is not None and batches.placed(topics):
                waits = await add(batches)  # nothing to wait for before the acks
            else:  # the producer's start or a topic's metadata first
                async with asyncio.timeout(self._timeout):
                    waits = await add(await self._get())
            # Not gather: the futures are shared with other requests, and a
            # request that gives up must not cancel them.
            _, late = await asyncio.wait(waits, timeout=max(0.0, deadline - loop.time()))
        except TimeoutError:
            raise self._late() from None
        except (KafkaError, OSError) as exc:
            raise BrokerUnavailable(f"Kafka send failed: {exc!r}") from exc
        if late:
            raise self._late()
        for wait in waits:
            error = failure(wait)
            if error is not None:
                raise error

    def _late(self) -> BrokerUnavailable:
        return BrokerUnavailable(f"the broker did not acknowledge within {self._timeout:g} s")

    async def ready(self, timeout: float = 2.0) -> str | None:  # noqa: ASYNC109
        """None when the broker answers a metadata request, else why not."""
        try:
            await wait_for_broker(self._bootstrap, timeout, security=self._security)
        except BrokerUnavailable as exc:
            return str(exc)
        return None

    async def close(self) -> None:
        async with self._lock:
            if self._batches is not None:
                await self._batches.close()
                self._batches = None
            if self._producer is not None:
                await self._producer.stop()
                self._producer = None


def failure(acked: asyncio.Future[None]) -> BrokerUnavailable | None:
    """Why an acknowledgement that ended is not one; None when it is."""
    if acked.cancelled():
        return BrokerUnavailable("the producer stopped before the broker acknowledged")
    error = acked.exception()
    if error is None or isinstance(error, BrokerUnavailable):
        return error
    unavailable = BrokerUnavailable(f"Kafka send failed: {error!r}")
    unavailable.__cause__ = error
    return unavailable
