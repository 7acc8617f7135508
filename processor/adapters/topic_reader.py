"""Reading a topic from the beginning in batches, up to fixed end offsets.

``kafka_admin.read_topic`` returns a whole topic as one list under one 30 s
bound, which suits tests and small topics. The ``dlq`` commands need to walk a
dead-letter topic that may hold millions of records (a mis-set rule can reject
everything): this yields batches and bounds each broker request instead.

The end offsets are taken once, before reading, from the fetch high watermark
(``kafka_admin.end_offsets``: exact on Tansu too, DESIGN.md section 9), and
records at or past them are never yielded. So a redrive that makes the worker
dead-letter records again cannot read its own consequences.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from processor.adapters.kafka_admin import REQUEST_LIMIT_S, Record, end_offsets
from processor.errors import BrokerUnavailable

_FETCH_WAIT_MS = 20  # not 0: Tansu answers an empty Fetch with no partition at all


async def iter_records(
    bootstrap: str,
    topic: str,
    *,
    ends: Mapping[int, int] | None = None,
    max_records: int = 500,
    security: Mapping[str, Any] | None = None,
) -> AsyncGenerator[list[Record], None]:
    """Batches of the records of ``topic``, from the first one stored up to
    ``ends`` (partition -> end offset; default: the end offsets right now).

    Records of one partition come in offset order; partitions interleave.
    Raises ``LookupError`` when the topic does not exist and
    ``BrokerUnavailable`` when the broker cannot be reached or stops answering
    (each request is bounded, not the whole walk). Use it under
    ``contextlib.aclosing`` so the consumer is closed when the caller stops early.
    ``security``: aiokafka keywords from ``adapters.connections.kafka_options``.
    """
    if ends is None:
        ends = await end_offsets(bootstrap, topic, security=security)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        **(security or {}),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=_FETCH_WAIT_MS,
        request_timeout_ms=int(REQUEST_LIMIT_S * 1000),
    )
    try:
        async with asyncio.timeout(REQUEST_LIMIT_S):
            await consumer.start()
            tps = [TopicPartition(topic, p) for p in sorted(ends)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            pending = {tp for tp in tps if await consumer.position(tp) < ends[tp.partition]}
        while pending:
            async with asyncio.timeout(REQUEST_LIMIT_S):
                fetched = await consumer.getmany(*pending, timeout_ms=200, max_records=max_records)
                batch = [
                    _record(m)
                    for tp, messages in fetched.items()
                    for m in messages
                    if m.offset < ends[tp.partition]
                ]
                pending = {tp for tp in pending if await consumer.position(tp) < ends[tp.partition]}
            if batch:
                yield batch
    except (OSError, KafkaError, TimeoutError) as exc:
        text = str(exc).replace("\n", " ").strip() or "no answer in time"
        raise BrokerUnavailable(
            f"broker {bootstrap} unavailable: {type(exc).__name__}: {text}"
        ) from exc
    finally:
        await consumer.stop()


def _record(m: Any) -> Record:
    return Record(
        topic=m.topic,
        partition=m.partition,
        offset=m.offset,
        timestamp=m.timestamp,
        key=m.key,
        value=m.value,
        headers=tuple((str(k), bytes(v or b"")) for k, v in (m.headers or ())),
    )
