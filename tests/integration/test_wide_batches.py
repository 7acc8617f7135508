"""A batch of wide events against the real Redis and broker: its fold goes in
several Lua calls of bounded size, an outage between two of them is retried
without losing or double-counting anything, and the graph is the pure fold's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
import pytest

from processor.adapters.dlq_publisher import KafkaPublisher
from processor.adapters.redis_store import RedisGraphStore
from processor.batch import BatchProcessor
from processor.core.batch_plan import MAX_EDGES_PER_CALL
from processor.core.control import DeleteRequest
from processor.core.pipeline import Limits
from processor.core.snapshot import snapshot_hash
from processor.errors import RedisUnavailable
from processor.ports import InputRecord
from tests.events import dataset, raw_event
from tests.integration.conftest import expected_graph
from tests.integration.kafka_utils import read_topic
from tests.integration.streams import DEFAULT_RULE

pytestmark = [pytest.mark.integration, pytest.mark.redis]


class OutageAfterFirstCall:
    """The real store, with Redis "down" once: right after the batch's first fold call."""

    def __init__(self, store: RedisGraphStore) -> None:
        self.store = store
        self.calls: list[int] = []  # edges carried by each fold call that reached Redis
        self.failed = False

    async def seen(self, hashes: Sequence[str]) -> list[bool]:
        return await self.store.seen(hashes)

    async def mark_and_fold(
        self, payload: bytes, token: str, offsets: Mapping[str, int] | None = None
    ) -> list[bool]:
        if len(self.calls) == 1 and not self.failed:
            self.failed = True
            raise RedisUnavailable("connection reset (simulated between two calls)")
        self.calls.append(len(orjson.loads(payload)["edges"]))
        return await self.store.mark_and_fold(payload, token, offsets)

    async def apply_deletes(
        self, requests: Sequence[DeleteRequest], offsets: Mapping[str, int] | None = None
    ) -> None:
        await self.store.apply_deletes(requests, offsets)


def wide(tag: str) -> bytes:
    """100 external inputs x 100 internal outputs, distinct per tag: 10,000 edges."""
    return raw_event(
        job={"namespace": "wide", "name": tag},
        inputs=[dataset("postgres://wide", f"{tag}.in{i}") for i in range(100)],
        outputs=[dataset("snowflake://wide", f"{tag}.OUT{i}") for i in range(100)],
    )


def test_a_batch_of_wide_events_folds_in_bounded_calls_and_survives_an_outage_between_them(
    redis_service: Any,
    broker: str,
    key_prefix: str,
    make_topics: Callable[..., list[str]],
) -> None:
    (dlq,) = make_topics("dlq")
    values: list[bytes | None] = [
        wide("a"),
        raw_event(),
        wide("b"),
        wide("c"),
        raw_event(inputs=[dataset("snowflake://acme", "A")]),  # mix_rule_internal_only
        wide("d"),
        b"{",  # invalid_json
        wide("a"),  # a duplicate within the batch
    ]
    records = [
        InputRecord("events", 0, offset, 1_772_000_000_000, b"k", value)
        for offset, value in enumerate(values)
    ]
    want = snapshot_hash(expected_graph(values).snapshot())

    async def run() -> None:
        store = RedisGraphStore.from_url(redis_service.address, prefix=key_prefix)
        publisher = KafkaPublisher(broker)
        flaky = OutageAfterFirstCall(store)
        processor = BatchProcessor(
            store=flaky,
            publisher=publisher,
            rule=DEFAULT_RULE,
            limits=Limits(),
            dlq_topic=dlq,
            version="test",
            max_backoff=0.05,
        )
        try:
            result = await processor.process(records)
            # 4 x 10,000 + 1 edges in calls of at most 20,000: a + the small
            # event | b + c | d; the outage before the second call makes the
            # retry start again from the first
            assert MAX_EDGES_PER_CALL == 20_000
            assert flaky.failed
            assert flaky.calls == [10_001, 10_001, 20_000, 10_000]
            assert result.attempts == 2
            # the first call ran twice; its events still count once
            assert result.accepted == 5
            assert result.duplicate == 1
            assert result.edges_folded == 40_001
            assert dict(result.rejected) == {"mix_rule_internal_only": 1, "invalid_json": 1}
            assert snapshot_hash(await store.snapshot()) == want

            # the whole batch again (a redelivery): its 7 valid messages (5
            # accepted, 1 rule-rejected, 1 copy) are duplicates, same graph
            again = await processor.process(records)
            assert (again.accepted, again.duplicate) == (0, 7)
            assert snapshot_hash(await store.snapshot()) == want
        finally:
            await publisher.close()
            await store.close()

    asyncio.run(run())
    # the rule-rejected event was dead-lettered once (seen the second time),
    # the invalid message both times
    reasons = sorted(r.headers["lineage.reason"] for r in read_topic(broker, dlq, expect=3))
    assert reasons == ["invalid_json", "invalid_json", "mix_rule_internal_only"]
