"""Small Kafka helpers for the integration tests: produce raw records, read a topic."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


@dataclass(frozen=True)
class ReadRecord:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]
    timestamp_ms: int


def produce(
    bootstrap: str,
    topic: str,
    records: Sequence[tuple[bytes | None, bytes | None]],
    *,
    partition: int | None = None,
    max_request_size: int = 1024 * 1024,
) -> list[tuple[int, int, int]]:
    """Send (key, value) records in order; returns (partition, offset, timestamp_ms) each.

    ``max_request_size`` is the producer's own cap on a record (aiokafka's
    default, 1 MiB): raise it to publish a record the processor must refuse as
    too large.
    """

    async def run() -> list[tuple[int, int, int]]:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            linger_ms=5,
            max_request_size=max_request_size,
        )
        await producer.start()
        try:
            # Each record's CreateTime is set here and returned as set: aiokafka
            # 0.14's send metadata gives every record of a batch the first one's.
            stamps = [int(time.time() * 1000) for _ in records]
            futures = [
                await producer.send(topic, key=k, value=v, partition=partition, timestamp_ms=ts)
                for (k, v), ts in zip(records, stamps, strict=True)
            ]
            metas = await asyncio.gather(*futures)
        finally:
            await producer.stop()
        return [
            # timestamp_type 1: the broker stamps LogAppendTime, and says which
            (m.partition, m.offset, m.timestamp if m.timestamp_type == 1 else ts)
            for m, ts in zip(metas, stamps, strict=True)
        ]

    return asyncio.run(run())


def read_topic(
    bootstrap: str, topic: str, *, expect: int | None = None, timeout: float = 20.0
) -> list[ReadRecord]:
    """Every record of ``topic`` from the beginning; waits until ``expect`` are there.

    Reads without a consumer group, so it never disturbs the worker's offsets.
    """

    async def run() -> list[ReadRecord]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await consumer.start()
        out: list[ReadRecord] = []
        try:
            parts = consumer.partitions_for_topic(topic)
            deadline = time.monotonic() + timeout
            while not parts and time.monotonic() < deadline:
                await consumer._client.force_metadata_update()
                parts = consumer.partitions_for_topic(topic)
                await asyncio.sleep(0.1)
            from aiokafka import TopicPartition

            tps = [TopicPartition(topic, p) for p in sorted(parts or ())]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            quiet_until = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=200)
                for msgs in batch.values():
                    for m in msgs:
                        out.append(
                            ReadRecord(
                                m.partition,
                                m.offset,
                                m.key,
                                m.value,
                                {k: v.decode() for k, v in m.headers},
                                m.timestamp,
                            )
                        )
                if batch:
                    quiet_until = time.monotonic() + 1.0
                if expect is not None and len(out) >= expect:
                    break
                if expect is None and time.monotonic() > quiet_until:
                    break
        finally:
            await consumer.stop()
        return out

    return asyncio.run(run())


def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The offsets ``group`` has committed on ``topic``, by partition (absent: none yet).

    Asks the group coordinator (OffsetFetch) from a consumer that never joins the
    group, so the group's members are not disturbed. (aiokafka's admin client
    cannot decode Tansu's OffsetFetch answer.)
    """
    from aiokafka import TopicPartition

    async def run() -> dict[int, int]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            parts = consumer.partitions_for_topic(topic) or set()
            if not parts:
                await consumer._client.force_metadata_update()
                parts = consumer.partitions_for_topic(topic) or set()
            found = {p: await consumer.committed(TopicPartition(topic, p)) for p in sorted(parts)}
        finally:
            await consumer.stop()
        return {p: offset for p, offset in found.items() if offset is not None}

    return asyncio.run(run())
