"""Dead letters that the broker refuses as too large still land, without their value."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from processor.adapters.dlq_publisher import VALUE_DROPPED_HEADER, KafkaPublisher, OutRecord
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


def test_without_the_fallback_a_refused_record_is_an_error(broker: str, make_topics: Any) -> None:
    (topic,) = make_topics("plain", partitions=1)
    with pytest.raises(BrokerUnavailable):
        _publish(
            KafkaPublisher(broker, max_request_size=2000),
            [OutRecord(topic, b"big", b"y" * 5000)],
        )
