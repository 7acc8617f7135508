"""Dead letters that the broker refuses as too large still land, without their value."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.partitioner import murmur2

from processor.adapters.dlq_publisher import (
    KEY_DROPPED_HEADER,
    VALUE_DROPPED_HEADER,
    KafkaPublisher,
    OutRecord,
)
from processor.errors import BrokerUnavailable
from tests.integration.kafka_utils import read_topic


def _publish(publisher: KafkaPublisher, records: list[OutRecord]) -> None:
    async def run() -> None:
        try:
            await publisher.publish(records)
        finally:
            await publisher.close()

    asyncio.run(run())


def test_an_oversized_dead_letter_is_sent_without_its_value(broker: str, make_topics: Any) -> None:
    (topic,) = make_topics("dlq", partitions=1)
    headers = [("lineage.reason", b"invalid_json")]
    records = [
        OutRecord(topic, b"small", b"x" * 100, headers),
        OutRecord(topic, b"big", b"y" * 5000, headers),
    ]
    # A 2,000-byte request limit stands in for a broker's max.message.bytes.
    _publish(KafkaPublisher(broker, drop_oversized_values=True, max_request_size=2000), records)

    got = {r.key: r for r in read_topic(broker, topic, expect=2)}
    assert got[b"small"].value == b"x" * 100
    assert VALUE_DROPPED_HEADER not in got[b"small"].headers
    assert got[b"big"].value is None
    assert got[b"big"].headers["lineage.reason"] == "invalid_json"
    assert got[b"big"].headers[VALUE_DROPPED_HEADER] == "5000"


def test_a_dead_letter_whose_key_alone_is_too_large_lands_without_key_and_value(
    broker: str, make_topics: Any
) -> None:
    """An input topic that allows larger records than the DLQ topic: the key
    alone can pass the limit, and a retry would never succeed."""
    (topic,) = make_topics("dlqkey", partitions=1)
    headers = [("lineage.reason", b"too_large")]
    records = [
        OutRecord(topic, b"k" * 3000, b"v" * 3000, headers),
        OutRecord(topic, b"small", b"x" * 10, headers),
    ]
    _publish(KafkaPublisher(broker, drop_oversized_values=True, max_request_size=2000), records)

    got = read_topic(broker, topic, expect=2)
    by_key = {r.key: r for r in got}
    assert by_key[b"small"].value == b"x" * 10
    assert KEY_DROPPED_HEADER not in by_key[b"small"].headers
    stripped = by_key[None]
    assert stripped.value is None
    assert stripped.headers[VALUE_DROPPED_HEADER] == "3000"
    assert stripped.headers[KEY_DROPPED_HEADER] == "3000"
    assert stripped.headers["lineage.reason"] == "too_large"


def test_without_the_fallback_a_refused_record_is_an_error(broker: str, make_topics: Any) -> None:
    (topic,) = make_topics("plain", partitions=1)
    with pytest.raises(BrokerUnavailable):
        _publish(
            KafkaPublisher(broker, max_request_size=2000),
            [OutRecord(topic, b"big", b"y" * 5000)],
        )


def test_a_dead_letter_with_neither_key_nor_value_is_sent(broker: str, make_topics: Any) -> None:
    """A keyless null-valued message (a producer's tombstone) and a keyless one
    whose value the broker refused have dead letters with neither key nor value:
    aiokafka's ``send`` refuses those with an assertion; Kafka does not."""
    (topic,) = make_topics("dlq-empty", partitions=2)
    headers = [("lineage.reason", b"invalid_json")]
    records = [
        OutRecord(topic, None, None, headers),
        OutRecord(topic, None, b"y" * 5000, [("lineage.reason", b"too_large")]),
    ]
    _publish(KafkaPublisher(broker, drop_oversized_values=True, max_request_size=2000), records)

    got = sorted(read_topic(broker, topic, expect=2), key=lambda r: r.headers["lineage.reason"])
    assert [(r.key, r.value) for r in got] == [(None, None), (None, None)]
    assert got[0].headers == {"lineage.reason": "invalid_json"}
    assert got[1].headers == {"lineage.reason": "too_large", VALUE_DROPPED_HEADER: "5000"}


def test_dead_letters_land_where_single_sends_would_put_them(broker: str, make_topics: Any) -> None:
    """Sent in record batches, each record still goes to the partition of the
    Java client's murmur2 of its key (positive, modulo the 3 partitions), in
    the order given; more than one batch's worth spans several batches."""
    (topic,) = make_topics("dlq-spread", partitions=3)
    keys = [f"job-{i % 7}".encode() for i in range(600)]
    records = [
        OutRecord(topic, key, b"v" * 1000 + str(i).encode(), [("lineage.seq", str(i).encode())])
        for i, key in enumerate(keys)
    ]
    # 600 records of ~1 KB in batches of at most 64 KiB: ten batches or more.
    _publish(KafkaPublisher(broker, drop_oversized_values=True, max_batch_size=65536), records)

    got = read_topic(broker, topic, expect=600)
    assert len(got) == 600
    for r in got:
        assert r.partition == (murmur2(r.key) & 0x7FFFFFFF) % 3
    for partition in range(3):
        seqs = [int(r.headers["lineage.seq"]) for r in got if r.partition == partition]
        assert seqs == sorted(seqs)
    assert sorted(int(r.headers["lineage.seq"]) for r in got) == list(range(600))
    assert {r.value for r in got} == {rec.value for rec in records}
