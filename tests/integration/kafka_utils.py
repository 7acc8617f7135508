"""Small Kafka helpers for the integration tests: produce raw records, read and
count a topic (with the processor's log reader), read a group's offsets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from processor.adapters.log_reader import LogRecord, iter_records, log_extent


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
    headers: Sequence[tuple[str, bytes]] | None = None,
    max_request_size: int = 1024 * 1024,
) -> list[tuple[int, int, int]]:
    """Send (key, value) records in order, each with ``headers``; returns
    (partition, offset, timestamp_ms) each.

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
                await producer.send(
                    topic,
                    key=k,
                    value=v,
                    partition=partition,
                    timestamp_ms=ts,
                    headers=list(headers) if headers else None,
                )
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
    """Every record stored in ``topic``, read up to its exact end offsets.

    First waits, up to ``timeout``: with ``expect``, until at least that many
    records are stored; without, until none has arrived for a second. Then
    every record stored at that moment is read, so one more than expected is
    seen too. A topic that does not appear in time reads as empty. Ordered by
    partition, then offset. Reads without a consumer group, so it never
    disturbs the worker's offsets.
    """

    async def run() -> list[ReadRecord]:
        ends = await _settled_ends(bootstrap, topic, expect, timeout)
        if ends is None:
            return []
        records: list[LogRecord] = []
        async for batch in iter_records(bootstrap, topic, ends=ends):
            records.extend(batch)
        records.sort(key=lambda r: (r.partition, r.offset))
        return [_read_record(r) for r in records]

    return asyncio.run(run())


def count_messages(bootstrap: str, topic: str) -> int:
    """Records stored in ``topic``: sum over partitions of end minus first offset.

    Exact for the topics this project writes (no transactions, no compaction).
    """
    return _count(*asyncio.run(log_extent(bootstrap, topic)))


def _count(starts: dict[int, int], ends: dict[int, int]) -> int:
    return sum(max(0, end - starts.get(partition, 0)) for partition, end in ends.items())


async def _settled_ends(
    bootstrap: str, topic: str, expect: int | None, wait_s: float
) -> dict[int, int] | None:
    """The end offsets once ``expect`` records are stored (or, without it, once
    nothing arrived for a second), or at the deadline; None if no such topic."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    ends: dict[int, int] | None = None
    quiet_until = loop.time() + 1.0
    while True:
        try:
            starts, now = await log_extent(bootstrap, topic)
        except LookupError:
            starts, now = {}, None
        if now != ends:
            ends, quiet_until = now, loop.time() + 1.0
        if ends is not None and expect is not None and _count(starts, ends) >= expect:
            return ends
        if loop.time() >= deadline or (expect is None and loop.time() >= quiet_until):
            return ends
        await asyncio.sleep(0.1)


def _read_record(r: LogRecord) -> ReadRecord:
    return ReadRecord(
        r.partition,
        r.offset,
        r.key,
        r.value,
        {k: v.decode() for k, v in r.headers},
        r.timestamp_ms if r.timestamp_ms is not None else -1,
    )


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
