"""A publication's records in one record batch per partition.

aiokafka's ``send`` costs, per record, an await of the topic's metadata, a
pure-Python murmur2 of the key, a trip through the accumulator and a future
that a ``gather`` then waits on: about a tenth of the worker's CPU when the
benchmark mix dead-letters 15% of its records. Here the records are appended
straight to a ``BatchBuilder`` per partition (another when one is full), and
each builder goes to ``send_batch`` once: one acknowledgement a batch, which is
the outcome of each of its records.

Records go where ``send`` puts them: the producer's partitioner (murmur2 of
the key; a random partition for a keyless record), remembered per key. A
partition's records keep their order. A record too large for a batch of its
own, a record with neither key nor value, and the records of a batch that the
broker refused as too large go through ``send_each`` one by one, which tells
which record it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from functools import lru_cache
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.partitioner import DefaultPartitioner, murmur2

from processor.ports import OutRecord

# The producer's ``max_batch_size`` for dead letters: a few hundred letters of
# the mix a request, well under a broker's default limit of 1 MiB a batch.
BATCH_BYTES = 512 * 1024
# Keys whose hash is remembered, least recently used forgotten first: the
# murmur2 of the producer's partitioner is pure Python (5 µs a key), and a
# stream's dead letters repeat their keys (one per job). Bounded, so that a
# stream of ever new keys does not grow the worker (the soak's memory). The
# soak's 15,000 letters hit 25% of the time at 1,024 keys and 36% at 8,192
# (0.6 µs a letter more), but 8,192 took 12,000 letters to fill, most of the
# soak, growing the worker by some 1.2 MiB after its warm-up.
_HASHED_KEYS = 1_024
# Bytes a record costs in a batch beyond its key, value and headers (at most).
_RECORD_OVERHEAD = 64

SendEach = Callable[[AIOKafkaProducer, Sequence[OutRecord]], Awaitable[list[object]]]

_partitioner = DefaultPartitioner()


@lru_cache(maxsize=_HASHED_KEYS)
def _key_hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def _partition(key: bytes | None, ids: list[int]) -> int:
    """The partition ``DefaultPartitioner`` gives ``key`` among ``ids`` (sorted)."""
    if key is None:
        return int(_partitioner(None, ids, ids))
    return ids[_key_hash(key) % len(ids)]


def _size(r: OutRecord) -> int:
    size = _RECORD_OVERHEAD + len(r.key or b"") + len(r.value or b"")
    for name, value in r.headers or ():
        size += len(name) + len(value)
    return size


async def send_batched(
    producer: AIOKafkaProducer,
    records: Sequence[OutRecord],
    send_each: SendEach,
    batch_bytes: int,
) -> list[object]:
    """Each record's outcome once the broker answered: a value (sent) or the
    exception it ended in (``gather(..., return_exceptions=True)``)."""
    results: list[object] = [None] * len(records)
    alone: list[int] = []
    # (topic, partition) -> the builders of that partition, with their records' indexes
    places: dict[tuple[str, int], list[tuple[Any, list[int]]]] = {}
    partitions: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        if (r.key is None and r.value is None) or _size(r) > batch_bytes // 4:
            alone.append(i)
            continue
        ids = partitions.get(r.topic)
        if ids is None:
            ids = partitions[r.topic] = sorted(await producer.partitions_for(r.topic))
        builders = places.setdefault((r.topic, _partition(r.key, ids)), [])
        headers = r.headers or []
        if not builders or not builders[-1][0].append(
            key=r.key, value=r.value, timestamp=None, headers=headers
        ):
            # None open, or the open one is full: a first record always fits.
            builders.append((producer.create_batch(), []))
            builders[-1][0].append(key=r.key, value=r.value, timestamp=None, headers=headers)
        builders[-1][1].append(i)
    sent: list[tuple[list[int], asyncio.Future[Any]]] = []
    try:
        for (topic, partition), builders in places.items():
            for builder, indexes in builders:
                acked = await producer.send_batch(builder, topic, partition=partition)
                sent.append((indexes, acked))
    except BaseException:
        # The publication is retried whole; what left already is not awaited.
        for _, acked in sent:
            acked.add_done_callback(_retrieve)
        raise
    outcomes = await asyncio.gather(*(acked for _, acked in sent), return_exceptions=True)
    for (indexes, _), outcome in zip(sent, outcomes, strict=True):
        if isinstance(outcome, MessageSizeTooLargeError):
            alone += indexes  # the broker's limit is below the batch's size
        else:
            for i in indexes:
                results[i] = outcome
    if alone:
        alone.sort()
        one_by_one = await send_each(producer, [records[i] for i in alone])
        for i, outcome in zip(alone, one_by_one, strict=True):
            results[i] = outcome
    return results


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
