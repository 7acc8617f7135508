"""Broker administration that works on Apache Kafka and on Tansu alike.

Why not just ``AIOKafkaConsumer.end_offsets``: Tansu 0.6 answers ListOffsets
"latest" with the *base offset of the last record batch* + 1, so with a batching
producer it reports far too few messages (1 instead of 334 for one batch of 334).
The high watermark in a Fetch response is exact on both brokers, so
:func:`end_offsets` reads that. Tansu also answers a Fetch with
``max_wait_time=0`` on an empty partition with no partition at all (so no high
watermark), hence the small non-zero fetch wait used here.

Failures to reach the broker raise :class:`~processor.errors.BrokerUnavailable`;
a topic that does not exist raises :class:`LookupError`; a topic the broker
refuses to create raises :class:`~processor.errors.ConfigurationError`.

Every helper takes ``security``: the aiokafka keywords of
``adapters.connections.kafka_options`` (protocol, SASL, SSL context).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from processor.errors import BrokerUnavailable, ConfigurationError

TOPIC_ALREADY_EXISTS = 36
REQUEST_LIMIT_S = 30.0  # bound on each helper below; wrap in asyncio.timeout for less
_FETCH_WAIT_MS = 20  # not 0: see the module docstring


@dataclass(frozen=True, slots=True)
class Record:
    """One record read back from a topic (tests and the ``dlq show`` command)."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str | None:
        """The last header called ``name``, decoded as UTF-8, or None."""
        found = [value for key, value in self.headers if key == name]
        return found[-1].decode("utf-8", "replace") if found else None


def _hosts(bootstrap: str) -> list[tuple[str, int]]:
    hosts = []
    for part in bootstrap.split(","):
        host, _, port = part.strip().rpartition(":")
        hosts.append((host.strip("[]") or "127.0.0.1", int(port)))
    return hosts


def _describe(exc: BaseException) -> str:
    text = str(exc).replace("\n", " ").strip() or "no answer in time"
    name = type(exc).__name__
    return text if text.startswith(name) else f"{name}: {text}"


def _unavailable(bootstrap: str, exc: BaseException) -> BrokerUnavailable:
    return BrokerUnavailable(f"broker {bootstrap} unavailable: {_describe(exc)}")


async def wait_for_broker(
    bootstrap: str,
    timeout: float,  # noqa: ASYNC109
    *,
    security: Mapping[str, Any] | None = None,
) -> None:
    """Return once a TCP connect and a metadata request succeed; else BrokerUnavailable.

    ``timeout`` bounds the whole retry loop (with backoff), not one request.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    backoff = 0.02
    last: BaseException = TimeoutError("no attempt finished")
    while True:
        remaining = deadline - loop.time()
        try:
            async with asyncio.timeout(max(0.05, remaining)):
                await _probe(bootstrap, security or {})
            return
        except (OSError, KafkaError, TimeoutError) as exc:
            last = exc
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise BrokerUnavailable(
                f"broker {bootstrap} not ready after {timeout:.1f}s: {_describe(last)}"
            )
        await asyncio.sleep(min(backoff, remaining))
        backoff = min(backoff * 2, 0.5)


async def _probe(bootstrap: str, security: Mapping[str, Any]) -> None:
    errors: list[OSError] = []
    for host, port in _hosts(bootstrap):
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError as exc:
            errors.append(exc)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        break
    else:
        raise errors[-1]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000, **security)
    try:
        await admin.start()
        await admin.list_topics()
    finally:
        await admin.close()


async def create_topics(
    bootstrap: str,
    topics: Sequence[str],
    partitions: int,
    replication: int = 1,
    *,
    security: Mapping[str, Any] | None = None,
) -> list[str]:
    """Create ``topics``; ones that already exist are left alone. Returns those created.

    Returns only once the broker's metadata lists every topic, so a producer may
    send at once without triggering auto-creation (4 partitions on Tansu).
    """
    if partitions < 1 or replication < 1:  # Tansu would create a topic with 0 partitions
        raise ConfigurationError(
            f"topics need partitions >= 1 and replication >= 1, not {partitions} and {replication}"
        )
    if not topics:
        return []
    limit_ms = int(REQUEST_LIMIT_S * 1000)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=limit_ms, **(security or {})
    )
    created: list[str] = []
    try:
        async with asyncio.timeout(REQUEST_LIMIT_S):
            await admin.start()
            requests = [NewTopic(name, partitions, replication) for name in dict.fromkeys(topics)]
            response = await admin.create_topics(requests, timeout_ms=limit_ms)
            for entry in response.topic_errors:
                name, code = entry[0], entry[1]
                message = entry[2] if len(entry) > 2 else None
                if code == 0:
                    created.append(name)
                elif code != TOPIC_ALREADY_EXISTS:
                    raise ConfigurationError(
                        f"broker {bootstrap} refused to create topic {name!r} "
                        f"(partitions={partitions}, replication={replication}): "
                        f"error {code} {message or ''}".strip()
                    )
            while True:  # metadata may lag the create on a multi-broker cluster
                if set(topics) <= set(await admin.list_topics()):
                    break
                await asyncio.sleep(0.05)
    except (OSError, KafkaError, TimeoutError) as exc:
        raise _unavailable(bootstrap, exc) from exc
    finally:
        await admin.close()
    return created


@contextlib.asynccontextmanager
async def _consumer(bootstrap: str, security: Mapping[str, Any] | None) -> AsyncIterator[Any]:
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
            yield consumer
    except (OSError, KafkaError, TimeoutError) as exc:
        raise _unavailable(bootstrap, exc) from exc
    finally:
        await consumer.stop()


async def _partitions(consumer: Any, topic: str) -> list[TopicPartition]:
    await consumer.topics()  # refreshes metadata for all topics without creating any
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise LookupError(f"topic {topic!r} does not exist")
    return [TopicPartition(topic, p) for p in sorted(partitions)]


async def _high_watermarks(consumer: Any, tps: list[TopicPartition]) -> dict[int, int]:
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)  # Tansu's "end" is low, but fetching from it is cheap
    while any(consumer.highwater(tp) is None for tp in tps):
        await consumer.getmany(*tps, timeout_ms=50)
    return {tp.partition: int(consumer.highwater(tp)) for tp in tps}


async def end_offsets(
    bootstrap: str, topic: str, *, security: Mapping[str, Any] | None = None
) -> dict[int, int]:
    """Exact end offset (next offset to be written) of every partition of ``topic``."""
    async with _consumer(bootstrap, security) as consumer:
        return await _high_watermarks(consumer, await _partitions(consumer, topic))


async def beginning_offsets(
    bootstrap: str, topic: str, *, security: Mapping[str, Any] | None = None
) -> dict[int, int]:
    """First offset still stored in every partition of ``topic``."""
    async with _consumer(bootstrap, security) as consumer:
        tps = await _partitions(consumer, topic)
        found = await consumer.beginning_offsets(tps)
        return {tp.partition: int(found[tp]) for tp in tps}


async def count_messages(
    bootstrap: str, topic: str, *, security: Mapping[str, Any] | None = None
) -> int:
    """Records stored in ``topic``: sum over partitions of end minus beginning offset.

    Exact for the topics this project writes (no transactions, no compaction).
    """
    ends = await end_offsets(bootstrap, topic, security=security)
    starts = await beginning_offsets(bootstrap, topic, security=security)
    return sum(max(0, end - starts.get(partition, 0)) for partition, end in ends.items())


async def read_topic(
    bootstrap: str, topic: str, *, security: Mapping[str, Any] | None = None
) -> list[Record]:
    """Every record of ``topic`` from the beginning up to its end offsets right now.

    Ordered by partition, then offset.
    """
    ends = await end_offsets(bootstrap, topic, security=security)
    records: list[Record] = []
    async with _consumer(bootstrap, security) as consumer:
        tps = [TopicPartition(topic, p) for p in sorted(ends)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        pending = {tp for tp in tps if ends[tp.partition] > 0}
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=200)
            for tp, messages in batch.items():
                records.extend(_record(m) for m in messages if m.offset < ends[tp.partition])
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp.partition]}
    records.sort(key=lambda r: (r.partition, r.offset))
    return records


def _record(message: Any) -> Record:
    return Record(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp=message.timestamp,
        key=message.key,
        value=message.value,
        headers=tuple((str(k), bytes(v or b"")) for k, v in (message.headers or ())),
    )
