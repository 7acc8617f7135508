"""Publishing to Kafka with broker acknowledgement: dead letters and ``publish``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from processor.errors import BrokerUnavailable


@dataclass(frozen=True, slots=True)
class OutRecord:
    """One record to produce, bytes as they are."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] | None = None


class KafkaPublisher:
    """An acks=all producer whose ``publish`` returns only once the broker has
    acknowledged every record, or raises ``BrokerUnavailable``."""

    def __init__(
        self, bootstrap: str, *, request_timeout_ms: int = 30_000, **config: object
    ) -> None:
        self._bootstrap = bootstrap
        self._request_timeout_ms = request_timeout_ms
        self._config = config
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _get(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self._bootstrap,
                    acks="all",
                    # Idempotence needs InitProducerId, which not every
                    # Kafka-protocol broker offers; DLQ duplicates are allowed.
                    enable_idempotence=False,
                    request_timeout_ms=self._request_timeout_ms,
                    linger_ms=5,
                    max_request_size=16 * 1024 * 1024,
                    **self._config,
                )
                try:
                    await producer.start()
                except (KafkaError, OSError) as exc:
                    await producer.stop()
                    raise BrokerUnavailable(f"Kafka at {self._bootstrap}: {exc}") from exc
                self._producer = producer
            return self._producer

    async def publish(self, records: Sequence[OutRecord]) -> None:
        """Send all records and wait for every acknowledgement."""
        if not records:
            return
        producer = await self._get()
        try:
            futures = [
                await producer.send(r.topic, value=r.value, key=r.key, headers=r.headers)
                for r in records
            ]
            await asyncio.gather(*futures)
        except (KafkaError, OSError) as exc:
            raise BrokerUnavailable(f"Kafka send failed: {exc!r}") from exc

    async def close(self) -> None:
        async with self._lock:
            if self._producer is not None:
                await self._producer.stop()
                self._producer = None
