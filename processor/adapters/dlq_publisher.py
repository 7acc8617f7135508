"""Publishing to Kafka with broker acknowledgement: dead letters and ``publish``."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from processor.adapters.record_batches import BATCH_BYTES, send_batched
from processor.errors import BrokerUnavailable
from processor.ports import OutRecord as OutRecord

VALUE_DROPPED_HEADER = "lineage.value.dropped"
KEY_DROPPED_HEADER = "lineage.key.dropped"


class KafkaPublisher:
    """An acks=all producer whose ``publish`` returns only once the broker has
    acknowledged every record, or raises ``BrokerUnavailable``.

    With ``drop_oversized_values`` (dead letters), a record the broker refuses
    as too large is sent again without its value and with a
    ``lineage.value.dropped`` header giving the original size: a retry could
    never succeed, and the record's key, headers and source coordinates still
    say which message it was. A record still too large (its key alone is) goes
    without its key too, with ``lineage.key.dropped``. Without the option, the
    refusal is an error like any other.
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        request_timeout_ms: int = 30_000,
        drop_oversized_values: bool = False,
        **config: object,
    ) -> None:
        self._bootstrap = bootstrap
        self._request_timeout_ms = request_timeout_ms
        self._drop_oversized = drop_oversized_values
        self._config: dict[str, object] = {"max_request_size": 16 * 1024 * 1024, **config}
        # Record batches of up to this size (``record_batches``), never more
        # than a request may carry.
        request_bytes = self._config["max_request_size"]
        assert isinstance(request_bytes, int)
        self._config.setdefault("max_batch_size", min(BATCH_BYTES, request_bytes))
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
            results = await self._send_all(producer, records)
            too_large = [r for r, res in zip(records, results, strict=True) if _too_large(res)]
            failed = [res for res in results if isinstance(res, BaseException)]
            if too_large and self._drop_oversized:
                failed = [res for res in failed if not _too_large(res)]
                # Without its value first; a key too large on its own goes too,
                # or the batch would be retried forever.
                for strip in (_without_value, _without_key):
                    stripped = [strip(r) for r in too_large]
                    results = await self._send_all(producer, stripped)
                    too_large = [
                        r for r, res in zip(stripped, results, strict=True) if _too_large(res)
                    ]
                    failed += [
                        res
                        for res in results
                        if isinstance(res, BaseException) and not _too_large(res)
                    ]
                    if not too_large:
                        break
                if too_large:
                    failed.append(MessageSizeTooLargeError(f"{len(too_large)} records"))
            if failed:
                raise failed[0]
        except (KafkaError, OSError) as exc:
            raise BrokerUnavailable(f"Kafka send failed: {exc!r}") from exc

    async def _send_all(
        self, producer: AIOKafkaProducer, records: Sequence[OutRecord]
    ) -> list[object]:
        """Each record's outcome: its metadata, or the exception its send ended in."""
        batch_bytes = self._config["max_batch_size"]
        assert isinstance(batch_bytes, int)
        return await send_batched(producer, records, _send_each, batch_bytes)

    async def close(self) -> None:
        async with self._lock:
            if self._producer is not None:
                await self._producer.stop()
                self._producer = None


async def _send_each(producer: AIOKafkaProducer, records: Sequence[OutRecord]) -> list[object]:
    """One ``send`` a record: the records a batch can not carry, and those of a
    batch the broker refused as too large, which tells which one it was."""
    futures: list[asyncio.Future[object]] = []
    for r in records:
        try:
            if r.key is None and r.value is None:
                futures.append(await _send_empty(producer, r))
            else:
                futures.append(
                    await producer.send(r.topic, value=r.value, key=r.key, headers=r.headers)
                )
        except MessageSizeTooLargeError as exc:  # refused before it left
            failed: asyncio.Future[object] = asyncio.get_running_loop().create_future()
            failed.set_exception(exc)
            futures.append(failed)
    return list(await asyncio.gather(*futures, return_exceptions=True))


async def _send_empty(producer: AIOKafkaProducer, record: OutRecord) -> asyncio.Future[object]:
    """Send a record with neither key nor value, which ``send`` refuses (an
    assertion) but Kafka accepts: the dead letter of a keyless null-valued
    message, or of a keyless one whose value was dropped. Sent as a batch of its
    own to a random partition, as ``send`` places keyless records."""
    partitions = sorted(await producer.partitions_for(record.topic))
    batch = producer.create_batch()
    batch.append(key=None, value=None, timestamp=None, headers=record.headers or [])
    batch.close()
    future: asyncio.Future[object] = await producer.send_batch(
        batch, record.topic, partition=random.choice(partitions)
    )
    return future


def _too_large(result: object) -> bool:
    return isinstance(result, MessageSizeTooLargeError)


def _without_value(record: OutRecord) -> OutRecord:
    size = 0 if record.value is None else len(record.value)
    headers = [*(record.headers or []), (VALUE_DROPPED_HEADER, str(size).encode())]
    return OutRecord(record.topic, record.key, None, headers)


def _without_key(record: OutRecord) -> OutRecord:
    size = 0 if record.key is None else len(record.key)
    headers = [*(record.headers or []), (KEY_DROPPED_HEADER, str(size).encode())]
    return OutRecord(record.topic, None, record.value, headers)
