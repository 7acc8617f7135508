"""Reading topics from their first stored record: the one log reader, used by
the rebuild, the ``dlq`` commands and the tests, and the one conversion of a
consumed record.

A :class:`LogReader` is a consumer outside any group (so no live group ever
rebalances for it) assigned every partition of some topics, rewound to the
first stored record. Given end offsets it reads up to them and stops there;
without, it follows the log. Records come in batches of :class:`LogRecord`,
the pipeline's ``InputRecord`` with the record's headers added.

Exact end offsets (:func:`end_offsets`): Tansu 0.6 answers ListOffsets
"latest" with the *base offset of the last record batch* + 1, so with a
batching producer it reports far too few messages (1 instead of 334 for one
batch of 334; docs/design.md section 9). The high watermark in a Fetch response is
exact on both brokers, so the ends are read from that. Tansu also answers a
Fetch with ``max_wait_time=0`` on an empty partition with no partition at all
(so no high watermark), hence the small non-zero fetch wait.

Failures to reach the broker raise :class:`~processor.errors.BrokerUnavailable`
(each request is bounded by ``REQUEST_LIMIT_S``, not a whole walk); a topic
that does not exist raises :class:`LookupError`. ``security``: the aiokafka
keywords of ``adapters.connections.kafka_options`` (protocol, SASL, SSL context).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from processor.adapters.kafka_admin import REQUEST_LIMIT_S, broker_unavailable
from processor.ports import InputRecord

FETCH_WAIT_MS = 20  # not 0: see the module docstring
_POLL_MS = 200
_BROKER_ERRORS = (OSError, KafkaError, TimeoutError)


@dataclass(frozen=True, slots=True)
class LogRecord(InputRecord):
    """A record read from a topic: what the pipeline needs, and its headers
    (read by the ``dlq`` commands and the tests)."""

    headers: tuple[tuple[str, bytes], ...] = ()

    def header(self, name: str) -> str | None:
        """The last header called ``name``, decoded as UTF-8, or None."""
        found = [value for key, value in self.headers if key == name]
        return found[-1].decode("utf-8", "replace") if found else None


# A frozen dataclass's ``__init__`` sets each field through
# ``object.__setattr__``: for the seven fields of a record, twice what setting
# the slots directly costs, once for every record the worker or the rebuild
# takes. ``to_record`` sets them directly, in the order of ``fields(LogRecord)``
# (tests/unit/test_log_reader_record.py holds it to the constructor).
_RECORD_FIELDS = ("topic", "partition", "offset", "timestamp_ms", "key", "value", "headers")
_new_record = object.__new__
(_topic, _partition, _offset, _timestamp, _key, _value, _headers) = (
    getattr(LogRecord, name).__set__ for name in _RECORD_FIELDS
)


def to_record(message: Any, *, timestamp_ms: int | None) -> LogRecord:
    """A consumed record as a ``LogRecord``: from aiokafka's ``ConsumerRecord``
    or faust's ``Message``, which hold the same fields, except that faust keeps
    the timestamp in seconds; hence the caller passes it in milliseconds."""
    raw = message.headers
    record: LogRecord = _new_record(LogRecord)
    _topic(record, message.topic)
    _partition(record, message.partition)
    _offset(record, message.offset)
    _timestamp(record, timestamp_ms)
    _key(record, message.key)
    _value(record, message.value)
    _headers(record, tuple((str(k), bytes(v or b"")) for k, v in raw) if raw else ())
    return record


class LogReader:
    """Every partition of ``topics``, read from its first stored record in batches.

    ``ends`` (partition -> the offset to stop before) makes it read up to them
    and then be :meth:`done`; partitions missing from ``ends`` are not read.
    Without ``ends`` it follows the log. Use it as an async context manager
    (or :meth:`start` and :meth:`close`).
    """

    def __init__(
        self,
        bootstrap: str,
        topics: Sequence[str],
        *,
        ends: Mapping[TopicPartition, int] | None = None,
        security: Mapping[str, Any] | None = None,
        client_id: str | None = None,
        fetch_max_wait_ms: int = FETCH_WAIT_MS,
        max_partition_fetch_bytes: int = 1 << 20,
    ) -> None:
        self.bootstrap = bootstrap
        self.topics = list(topics)
        self.ends = None if ends is None else dict(ends)
        options: dict[str, Any] = {} if client_id is None else {"client_id": client_id}
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            **(security or {}),
            **options,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=fetch_max_wait_ms,
            max_partition_fetch_bytes=max_partition_fetch_bytes,
            request_timeout_ms=int(REQUEST_LIMIT_S * 1000),
        )
        self.partitions: list[TopicPartition] = []
        self.beginnings: dict[TopicPartition, int] = {}  # first offset stored at the start
        self.positions: dict[TopicPartition, int] = {}  # next offset to read
        self._pending: set[TopicPartition] = set()  # with ends: those not at their end yet

    async def start(self) -> None:
        """Connect, assign the partitions and rewind each to its first stored record."""
        consumer = self._consumer
        try:
            async with asyncio.timeout(REQUEST_LIMIT_S):
                await consumer.start()
                await consumer.topics()  # refreshes metadata for all topics without creating any
                for topic in self.topics:
                    numbers = consumer.partitions_for_topic(topic)
                    if not numbers:
                        raise LookupError(f"topic {topic!r} does not exist")
                    self.partitions += [TopicPartition(topic, p) for p in sorted(numbers)]
                if self.ends is not None:
                    self.partitions = [tp for tp in self.partitions if tp in self.ends]
                consumer.assign(self.partitions)
                await consumer.seek_to_beginning(*self.partitions)
                for tp in self.partitions:
                    self.beginnings[tp] = self.positions[tp] = await consumer.position(tp)
        except _BROKER_ERRORS as exc:
            await consumer.stop()
            raise broker_unavailable(self.bootstrap, exc) from exc
        except BaseException:
            await consumer.stop()
            raise
        if self.ends is not None:
            self._pending = {tp for tp in self.partitions if self.positions[tp] < self.ends[tp]}

    async def close(self) -> None:
        await self._consumer.stop()

    async def __aenter__(self) -> LogReader:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def done(self) -> bool:
        """Whether every partition was read up to its end (never, when following)."""
        return self.ends is not None and not self._pending

    async def fetch(self, max_records: int) -> dict[TopicPartition, list[LogRecord]]:
        """The next records, at most ``max_records``, by partition in offset order;
        empty when nothing arrived within a fifth of a second."""
        consumer = self._consumer
        if self.done():
            return {}  # getmany() of no partitions would fetch them all
        try:
            async with asyncio.timeout(REQUEST_LIMIT_S):
                if self.ends is None:
                    fetched = await consumer.getmany(timeout_ms=_POLL_MS, max_records=max_records)
                else:
                    fetched = await consumer.getmany(
                        *self._pending, timeout_ms=_POLL_MS, max_records=max_records
                    )
                batches = self._batches(fetched)
                if self.ends is not None:
                    ends = self.ends
                    self._pending = {
                        tp for tp in self._pending if await consumer.position(tp) < ends[tp]
                    }
        except _BROKER_ERRORS as exc:
            raise broker_unavailable(self.bootstrap, exc) from exc
        return batches

    def _batches(self, fetched: Mapping[Any, list[Any]]) -> dict[TopicPartition, list[LogRecord]]:
        out: dict[TopicPartition, list[LogRecord]] = {}
        ends = self.ends
        for tp, messages in fetched.items():
            end = None if ends is None else ends[tp]
            records = [
                to_record(m, timestamp_ms=m.timestamp)
                for m in messages
                if end is None or m.offset < end
            ]
            if records:
                out[tp] = records
                self.positions[tp] = records[-1].offset + 1
        return out

    def highwaters(self) -> dict[TopicPartition, int]:
        """The high watermark of each partition, as far as a fetch has told it."""
        found = {tp: self._consumer.highwater(tp) for tp in self.partitions}
        return {tp: int(hw) for tp, hw in found.items() if hw is not None}

    def pause(self, tp: TopicPartition) -> None:
        """Fetch nothing more from ``tp`` until :meth:`resume`."""
        self._consumer.pause(tp)

    def resume(self, tp: TopicPartition) -> None:
        self._consumer.resume(tp)

    async def _exact_ends(self) -> dict[TopicPartition, int]:
        """Exact end offsets, from the fetch high watermark (module docstring);
        moves every position to its end, so only for a reader opened for it."""
        consumer, tps = self._consumer, self.partitions
        try:
            async with asyncio.timeout(REQUEST_LIMIT_S):
                # Tansu's "end" is low, but fetching from it is cheap
                await consumer.seek_to_end(*tps)
                while any(consumer.highwater(tp) is None for tp in tps):
                    await consumer.getmany(*tps, timeout_ms=50)
        except _BROKER_ERRORS as exc:
            raise broker_unavailable(self.bootstrap, exc) from exc
        return self.highwaters()


async def log_extent(
    bootstrap: str, topic: str, *, security: Mapping[str, Any] | None = None
) -> tuple[dict[int, int], dict[int, int]]:
    """First stored and exact end offset (next offset to be written) of every
    partition of ``topic``."""
    async with LogReader(bootstrap, [topic], security=security) as reader:
        starts = {tp.partition: n for tp, n in reader.beginnings.items()}
        ends = {tp.partition: n for tp, n in (await reader._exact_ends()).items()}
    return starts, ends


async def end_offsets(
    bootstrap: str, topic: str, *, security: Mapping[str, Any] | None = None
) -> dict[int, int]:
    """Exact end offset (next offset to be written) of every partition of ``topic``."""
    _, ends = await log_extent(bootstrap, topic, security=security)
    return ends


async def iter_records(
    bootstrap: str,
    topic: str,
    *,
    ends: Mapping[int, int] | None = None,
    max_records: int = 500,
    security: Mapping[str, Any] | None = None,
) -> AsyncGenerator[list[LogRecord], None]:
    """Batches of the records of ``topic``, from the first one stored up to
    ``ends`` (partition -> end offset; default: the end offsets right now).

    Records of one partition come in offset order; partitions interleave.
    Records at or past ``ends`` are never yielded, so a redrive that makes the
    worker dead-letter records again cannot read its own consequences. Use it
    under ``contextlib.aclosing`` so the consumer is closed when the caller
    stops early.
    """
    if ends is None:
        ends = await end_offsets(bootstrap, topic, security=security)
    stops = {TopicPartition(topic, p): end for p, end in ends.items()}
    async with LogReader(bootstrap, [topic], ends=stops, security=security) as reader:
        while not reader.done():
            batch = [r for records in (await reader.fetch(max_records)).values() for r in records]
            if batch:
                yield batch
