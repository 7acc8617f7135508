"""A group's committed offsets and the first stored offset of every partition
of some topics, read by the worker's start-up check (``processor.graph_guard``).

One consumer that names the group but never joins it (no subscription): it
asks the group coordinator (OffsetFetch) without disturbing the members.
aiokafka's admin client can not decode Tansu's OffsetFetch answer, so the
consumer's ``committed`` is used. Offsets are keyed ``"topic/partition"``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from processor.adapters.kafka_admin import REQUEST_LIMIT_S, broker_unavailable


async def group_extent(
    bootstrap: str,
    group: str,
    topics: Sequence[str],
    *,
    security: Mapping[str, Any] | None = None,
) -> tuple[dict[str, int], dict[str, int]]:
    """(first stored offset, committed offset of ``group``) of every partition of
    ``topics``; a partition the group never committed is absent from the second.
    Topics that do not exist (yet) are left out. ``BrokerUnavailable`` when
    the broker does not answer."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        **(security or {}),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=int(REQUEST_LIMIT_S * 1000),
    )
    starts: dict[str, int] = {}
    committed: dict[str, int] = {}
    try:
        async with asyncio.timeout(3 * REQUEST_LIMIT_S):
            await consumer.start()
            await consumer.topics()
            tps = [
                TopicPartition(topic, p)
                for topic in topics
                for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            if tps:
                consumer.assign(tps)
                await consumer.seek_to_beginning(*tps)
            for tp in tps:
                place = f"{tp.topic}/{tp.partition}"
                starts[place] = await consumer.position(tp)
                found = await consumer.committed(tp)
                if found is not None:
                    committed[place] = int(found)
    except (OSError, KafkaError, TimeoutError) as exc:
        raise broker_unavailable(bootstrap, exc) from exc
    finally:
        await consumer.stop()
    return starts, committed
