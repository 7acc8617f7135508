"""faust-streaming's internals that ``processor.adapters.faust_compat`` relies on
are still there with the shape relied on.

An upgrade of faust-streaming (or aiokafka) fails here first, naming what
moved. Everything is checked on a faust app that is built but never started,
so no broker is needed.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import tomllib
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord
from faust.transport.drivers import aiokafka as driver
from faust.types import TP

from processor.adapters import faust_compat
from processor.adapters.faust_compat import (
    LineageApp,
    committed_offset,
    divert_fetches,
    guard_stale_acks,
    timestamp_ms,
)
from processor.adapters.log_reader import to_record
from processor.core.offset_book import OffsetBook

CHECKED_WITH = "0.15.3"  # the faust-streaming these reaches were checked against
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
UPGRADE = (
    "re-check every reach listed in processor/adapters/faust_compat.py against the "
    "new faust-streaming, then update CHECKED_WITH here and the pin in pyproject.toml"
)


def _on_an_app(check: Callable[[LineageApp], None]) -> None:
    """Run ``check`` on a built, never started app, inside an event loop as
    faust wants (no broker is contacted)."""

    async def run() -> None:
        app = LineageApp(
            "compat-test",
            broker="kafka://127.0.0.1:1",
            fetch_max_wait_ms=37,
            autodiscover=False,
            web_enabled=False,
            store="memory://",
        )
        check(app)

    asyncio.run(run())


def _record(timestamp: int = 1_772_000_000_123, topic: str = "events", partition: int = 2) -> Any:
    return ConsumerRecord(
        topic=topic,
        partition=partition,
        offset=7,
        timestamp=timestamp,
        timestamp_type=0,
        key=b"k",
        value=b"v",
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=1,
        headers=[("h", b"x")],
    )


def test_the_installed_faust_is_the_one_checked() -> None:
    installed = version("faust-streaming")
    assert installed == CHECKED_WITH, f"faust-streaming {installed} is installed: {UPGRADE}"
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    assert f"faust-streaming=={CHECKED_WITH}" in deps, f"pyproject pins another faust: {UPGRADE}"


def test_the_private_names_relied_on_exist_with_their_signatures() -> None:
    expected = {
        (driver.AIOKafkaConsumerThread, "_create_worker_consumer"): ["self", "transport"],
        (driver.Consumer, "_new_consumer_thread"): ["self"],
        (driver.Consumer, "_to_message"): ["self", "tp", "record"],
        (driver.Consumer, "ack"): ["self", "message"],
        (faust.App, "_new_transport"): ["self"],
        # the fetch diversion
        (driver.Consumer, "_getmany"): ["self", "active_partitions", "timeout"],
        (driver.Consumer, "on_partitions_assigned"): ["self", "assigned", "generation_id"],
        (driver.Consumer, "on_partitions_revoked"): ["self", "revoked"],
        (driver.Consumer, "wait_empty"): ["self"],
        (driver.Consumer, "_filter_tps_with_pending_acks"): ["self", "topics"],
        (driver.Consumer, "_filter_committable_offsets"): ["self", "tps"],
        (driver.Consumer, "seek_to_committed"): ["self"],
        (driver.Consumer, "highwater"): ["self", "tp"],
        (driver.AIOKafkaConsumerThread, "seek_to_beginning"): ["self", "partitions"],
    }
    for (owner, name), params in expected.items():
        method = getattr(owner, name, None)
        assert callable(method), f"{owner.__qualname__}.{name} is gone: {UPGRADE}"
        got = list(inspect.signature(method).parameters)
        assert got == params, f"{owner.__qualname__}.{name}{got} is not {params}: {UPGRADE}"
    assert driver.Transport.Consumer is driver.Consumer, f"Transport.Consumer moved: {UPGRADE}"


def test_the_worker_consumer_gets_the_apps_fetch_wait() -> None:
    def check(app: LineageApp) -> None:
        consumer: Any = app.consumer
        assert type(app.transport).Consumer is type(consumer)
        worker_consumer = consumer._thread._create_worker_consumer(app.transport)
        assert isinstance(worker_consumer, AIOKafkaConsumer)
        assert worker_consumer._fetch_max_wait_ms == 37
        # and aiokafka builds its fetcher from that attribute when it starts
        start = inspect.getsource(AIOKafkaConsumer.start)
        assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in start, "aiokafka: " + UPGRADE

    _on_an_app(check)


def test_a_stale_ack_is_dropped_and_a_current_one_goes_through() -> None:
    def check(app: LineageApp) -> None:
        consumer: Any = app.consumer
        guard_stale_acks(app)
        tp = TP("events", 2)
        # faust counts acks only for topics an agent subscribed to with acks on
        app.topics._acking_topics.add("events")

        stale = consumer._to_message(tp, _record())
        stale.generation_id = app.consumer_generation_id + 1
        consumer._unacked_messages.add(stale)
        assert consumer.ack(stale) is False
        assert stale.acked
        assert stale not in consumer._unacked_messages
        assert 7 not in consumer._acked_index[tp]

        current = consumer._to_message(tp, _record())
        assert current.generation_id == app.consumer_generation_id
        consumer._unacked_messages.add(current)
        assert consumer.ack(current) is True
        assert current not in consumer._unacked_messages
        assert list(consumer._acked[tp]) == [7]

    _on_an_app(check)


def test_the_committed_offset_is_read_from_the_consumer() -> None:
    def check(app: LineageApp) -> None:
        consumer: Any = app.consumer
        tp = TP("events", 2)
        assert committed_offset(consumer, tp) is None
        consumer._committed_offset[tp] = 41  # as faust records it after a commit
        assert committed_offset(consumer, tp) == 41
        assert committed_offset(consumer, TP("events", 3)) is None

    _on_an_app(check)


def test_a_faust_message_converts_like_the_record_it_came_from() -> None:
    def check(app: LineageApp) -> None:
        consumer: Any = app.consumer
        for stamp in (1_772_000_000_123, 1_772_000_000_999, 0, 1):
            record = _record(stamp)
            message = consumer._to_message(TP("events", 2), record)
            assert message.timestamp == stamp / 1000, (
                "faust's Message timestamp is no longer seconds"
            )
            assert timestamp_ms(message) == stamp
            assert to_record(message, timestamp_ms=timestamp_ms(message)) == to_record(
                record, timestamp_ms=record.timestamp
            )

    _on_an_app(check)


def test_the_module_names_every_reach_it_makes() -> None:
    """Each private name used in faust_compat is listed in its docstring."""
    source = inspect.getsource(faust_compat)
    body = source.split('"""', 2)[2]
    used = set(re.findall(r"(?:\.|def )(_[a-z][a-z_]+)", body))
    doc = faust_compat.__doc__ or ""
    assert used, "no private name found: the pattern is wrong"
    assert {name for name in used if name not in doc} == set()


class _Sink:
    topics = frozenset({"events"})

    def __init__(self) -> None:
        self.book = OffsetBook()

    async def put(self, fetched: Any, epoch: int) -> None:
        raise AssertionError("not called here")

    async def settle(self) -> None:
        raise AssertionError("not called here")


def test_the_diverted_offsets_join_fausts_commits() -> None:
    def check(app: LineageApp) -> None:
        consumer: Any = app.consumer
        sink = _Sink()
        divert_fetches(app, sink)
        mine, control = TP("events", 0), TP("control", 0)
        epoch = sink.book.assigned({mine, control})
        sink.book.done(epoch, {("events", 0): 42})
        # faust's own acks for the control topic, and our durable offset
        app.topics._acking_topics.add("control")
        current = consumer._to_message(control, _record(topic="control", partition=0))
        consumer.ack(current)
        tps = list(consumer._filter_tps_with_pending_acks())
        assert set(tps) == {mine, control}
        assert consumer._filter_committable_offsets(tps) == {mine: 42, control: 8}
        # once committed, it is not offered again
        consumer._committed_offset[mine] = 42
        assert consumer._filter_committable_offsets([mine]) == {}

    _on_an_app(check)


def test_fausts_monitor_counts_the_diverted_records() -> None:
    def check(app: LineageApp) -> None:
        consumer: Any = app.consumer
        monitor: Any = app.monitor
        consumer.highwater = lambda tp: 99  # the consumer thread is not started here
        tp = TP("events", 2)
        consumer.count_in_monitor({tp: [_record(), _record()]})
        assert monitor.messages_received_total == 2
        assert monitor.messages_received_by_topic["events"] == 2
        assert monitor.tp_read_offsets[tp] == 7
        assert monitor.tp_end_offsets[tp] == 99
        assert tp in monitor.stream_inbound_time

    _on_an_app(check)
