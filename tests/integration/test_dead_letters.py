"""Every reason code lands in the DLQ with the original bytes and the section 7
headers; duplicates and non-COMPLETE events are counted, never dead-lettered."""

from __future__ import annotations

import asyncio
import json

from aiokafka import AIOKafkaProducer

from processor import __version__
from processor.samples import realistic_mix
from tests.integration.accounting import Sent, check_accounting
from tests.integration.conftest import Stack
from tests.integration.kafka_utils import produce, read_topic


def _event(**overrides: object) -> dict[str, object]:
    event: dict[str, object] = {
        "eventType": "COMPLETE",
        "eventTime": "2026-03-01T10:00:00Z",
        "run": {"runId": "01930000-0000-7000-8000-0000000000b1"},
        "job": {"namespace": "dbt", "name": "orders"},
        "inputs": [{"namespace": "postgres://db", "name": "public.orders"}],
        "outputs": [{"namespace": "snowflake://acme", "name": "RAW.ORDERS"}],
    }
    event.update(overrides)
    return event


def _bytes(event: dict[str, object]) -> bytes:
    return json.dumps(event).encode()


def test_each_reason_code_is_dead_lettered_with_its_headers(stack: Stack) -> None:
    worker = stack.start_worker(LINEAGE_MAX_EVENT_BYTES="4000", LINEAGE_MAX_NAME_LENGTH="1000")
    big = _event(job={"namespace": "dbt", "name": "big"}, padding="x" * 5000)
    cases: list[tuple[str, bytes | None, bytes | None, str]] = [
        # (expected reason, key, value, text the error must contain)
        ("too_large", b"k-large", _bytes(big), "4000"),
        ("invalid_json", b"k-json", b'{"eventType": "COMPLETE",', "line 1"),
        ("invalid_json", b"k-null", None, "null"),
        ("invalid_json", None, b"\xff\xfe not utf-8", "UTF-8"),
        (
            "invalid_event",
            b"k-event",
            _bytes(_event(outputs=[{"namespace": "snowflake://acme"}])),
            "outputs[0].name",
        ),
        (
            "name_too_long",
            b"k-name",
            _bytes(_event(outputs=[{"namespace": "snowflake://acme", "name": "n" * 1001}])),
            "outputs[0].name",
        ),
        (
            "mix_rule_internal_only",
            b"k-int",
            _bytes(_event(inputs=[{"namespace": "snowflake://acme", "name": "A"}])),
            "internal",
        ),
        (
            "mix_rule_external_only",
            b"k-ext",
            _bytes(_event(outputs=[{"namespace": "s3://b", "name": "o"}])),
            "external",
        ),
        ("no_lineage", b"k-none", _bytes(_event(outputs=[])), "outputs"),
    ]
    accepted = _bytes(_event())
    start = _bytes(_event(eventType="START"))
    records = [(key, value) for _, key, value, _ in cases]
    records += [(b"ok", accepted), (b"ok", accepted), (b"start", start), (b"start", start)]
    sent = produce(stack.bootstrap, stack.input_topic, records, partition=0)

    dlq = read_topic(stack.bootstrap, stack.dlq_topic, expect=len(cases), timeout=30)
    worker.wait_for(lambda: worker.metric("lineage_events_consumed_total") >= len(records), 30)
    assert len(dlq) == len(cases), [r.headers.get("lineage.reason") for r in dlq]
    by_offset = {int(r.headers["lineage.source.offset"]): r for r in dlq}
    for i, (reason, key, value, needle) in enumerate(cases):
        partition, offset, timestamp = sent[i]
        record = by_offset[offset]
        assert record.key == key
        assert record.value == value  # the original bytes, unchanged
        h = record.headers
        assert h["lineage.reason"] == reason
        assert needle in h["lineage.error"], (reason, h["lineage.error"])
        assert h["lineage.source.topic"] == stack.input_topic
        assert h["lineage.source.partition"] == str(partition)
        assert h["lineage.source.timestamp"] == str(timestamp)
        assert h["lineage.processor.version"] == __version__
        assert h["lineage.rule"] == "mixed;internal=snowflake://*"

    # one accepted + its duplicate, one START + its duplicate: counted, not dead-lettered
    assert worker.metric("lineage_events_accepted_total") == 1
    assert worker.metric("lineage_events_duplicate_total") == 2
    assert worker.metric("lineage_events_ignored_total", event_type="START") == 1
    for reason in {c[0] for c in cases}:
        expected = sum(1 for c in cases if c[0] == reason)
        assert worker.metric("lineage_events_rejected_total", reason=reason) == expected


def test_a_rule_rejected_event_seen_again_is_a_duplicate_not_a_second_dead_letter(
    stack: Stack,
) -> None:
    worker = stack.start_worker()
    rejected = _bytes(_event(outputs=[{"namespace": "s3://b", "name": "o"}]))
    produce(stack.bootstrap, stack.input_topic, [(b"a", rejected)], partition=0)
    worker.wait_for(lambda: worker.metric("lineage_events_consumed_total") >= 1, 30)
    # A second batch: the dedup check happens in Redis, not just within a batch.
    produce(stack.bootstrap, stack.input_topic, [(b"a", rejected)], partition=0)
    worker.wait_for(lambda: worker.metric("lineage_events_consumed_total") >= 2, 30)
    assert worker.metric("lineage_events_rejected_total", reason="mix_rule_external_only") == 1
    assert worker.metric("lineage_events_duplicate_total") == 1
    assert len(read_topic(stack.bootstrap, stack.dlq_topic)) == 1


def test_a_message_with_neither_key_nor_value_is_dead_lettered_and_the_worker_goes_on(
    stack: Stack,
) -> None:
    """Any Kafka producer but aiokafka can send a record with a null key and a
    null value; it is ``invalid_json`` like any null value, and its dead letter
    (null key and value too) must not stop the partition."""

    async def produce_empty() -> tuple[int, int, int]:
        producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, acks="all")
        await producer.start()
        try:
            batch = producer.create_batch()  # ``send`` refuses a record this empty
            batch.append(key=None, value=None, timestamp=None, headers=[])
            batch.close()
            meta = await (await producer.send_batch(batch, stack.input_topic, partition=0))
        finally:
            await producer.stop()
        return meta.partition, meta.offset, 0

    worker = stack.start_worker()
    messages = realistic_mix(200, seed=2)
    produced = [asyncio.run(produce_empty())]
    produced += produce(stack.bootstrap, stack.input_topic, messages, partition=0)
    events = Sent.of(stack.input_topic, [None, *(v for _, v in messages)], produced)
    books = check_accounting([worker], events, bootstrap=stack.bootstrap, dlq_topic=stack.dlq_topic)
    (empty,) = [r for r in books.dead_letters if r.headers["lineage.source.offset"] == "0"]
    assert (empty.key, empty.value) == (None, None)
    assert empty.headers["lineage.reason"] == "invalid_json"
