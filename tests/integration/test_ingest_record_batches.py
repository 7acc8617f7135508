"""A batch's records through ``GatewayPublisher.publish_keyed`` on the real broker:
each record once, on its key's partition (the producer's murmur2 partitioner), in
the order sent within a partition, also when a partition's builder fills up (1 MiB)
and concurrent batches share builders."""

from __future__ import annotations

import asyncio
import secrets

import orjson
from aiokafka.partitioner import DefaultPartitioner

from processor.adapters.kafka_admin import create_topics
from processor.ingest.publisher import GatewayPublisher
from tests.integration.kafka_utils import read_topic

PARTITIONS = 3


def _batches() -> list[list[tuple[bytes | None, bytes]]]:
    """Four batches of 400 records of 2 KiB over 7 keys and no key: 3.2 MiB in all,
    more than one builder's 1 MiB on every partition."""
    batches = []
    for b in range(4):
        records: list[tuple[bytes | None, bytes]] = []
        for i in range(400):
            key = None if i % 8 == 7 else f"run:ns/job-{i % 8}".encode()
            records.append((key, f'{{"b":{b},"i":{i},"pad":"{"x" * 2000}"}}'.encode()))
        batches.append(records)
    return batches


def test_batches_land_whole_in_order_on_their_keys_partitions(broker: str) -> None:
    topic = f"ingest-batches.{secrets.token_hex(4)}"
    asyncio.run(create_topics(broker, [topic], PARTITIONS))
    batches = _batches()

    async def publish() -> None:
        publisher = GatewayPublisher(broker, 20.0)
        try:
            await publisher.publish_keyed(topic, batches[0][:1])  # the topic's metadata
            await asyncio.gather(
                *(
                    publisher.publish_keyed(topic, b[1:] if n == 0 else b)
                    for n, b in enumerate(batches)
                )
            )
        finally:
            await publisher.close()

    asyncio.run(publish())
    sent = [r for b in batches for r in b]
    stored = read_topic(broker, topic, expect=len(sent))
    assert len(stored) == len(sent)
    assert sorted((r.key or b"", r.value) for r in stored) == sorted((k or b"", v) for k, v in sent)
    ids = list(range(PARTITIONS))
    partitioner = DefaultPartitioner()
    for record in stored:
        if record.key is not None:
            assert record.partition == partitioner(record.key, ids, ids)
    # Within a partition, each batch's records keep the order they were sent in.
    for partition in ids:
        for b in range(len(batches)):
            order = [
                orjson.loads(r.value)["i"]
                for r in stored
                if r.partition == partition and orjson.loads(r.value)["b"] == b
            ]
            assert order == sorted(order)
    # A partition received more than one builder's worth.
    sizes = [sum(len(r.value or b"") for r in stored if r.partition == p) for p in ids]
    assert max(sizes) > 1 << 20
