"""The gateway's producer: acknowledged publishes within a deadline, and whether
the broker answers.

Records go through the processor's acks=all ``KafkaPublisher`` (no idempotent
producer: not every Kafka-protocol broker offers InitProducerId, docs/design.md
section 9). Concurrent requests share the one producer, so its linger batches
their records together. A publish that fails, or is not acknowledged within
the deadline, raises ``BrokerUnavailable``: the request then gets a 503, never
a 2xx. Such a record may still reach the topic later; the client's retry then
makes a duplicate, which the worker's dedup drops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from processor.adapters.dlq_publisher import KafkaPublisher, OutRecord
from processor.adapters.kafka_admin import wait_for_broker
from processor.errors import BrokerUnavailable

__all__ = ["GatewayPublisher", "OutRecord"]


class GatewayPublisher:
    """Publishes with a deadline; ``ready`` asks the broker for its metadata."""

    def __init__(
        self, bootstrap: str, timeout: float, security: Mapping[str, Any] | None = None
    ) -> None:
        self._bootstrap = bootstrap
        self._timeout = timeout
        self._security = dict(security or {})
        self._publisher = KafkaPublisher(
            bootstrap,
            request_timeout_ms=max(1000, int(timeout * 1000)),
            # aiokafka keeps one produce request in flight per broker: under load a
            # round trip must carry many events, more than the default 16 KiB batch.
            max_batch_size=1 << 20,
            **self._security,
        )

    async def publish(self, records: Sequence[OutRecord]) -> None:
        """Return once the broker acknowledged every record; else ``BrokerUnavailable``."""
        try:
            async with asyncio.timeout(self._timeout):
                await self._publisher.publish(records)
        except TimeoutError:
            raise BrokerUnavailable(
                f"the broker did not acknowledge within {self._timeout:g} s"
            ) from None

    async def ready(self, timeout: float = 2.0) -> str | None:  # noqa: ASYNC109
        """None when the broker answers a metadata request, else why not."""
        try:
            await wait_for_broker(self._bootstrap, timeout, security=self._security)
        except BrokerUnavailable as exc:
            return str(exc)
        return None

    async def close(self) -> None:
        await self._publisher.close()
