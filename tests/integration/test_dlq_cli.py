"""``lineage-processor dlq show|stats|redrive`` against the real broker, Redis and worker."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest
import redis

from processor.adapters.dlq_publisher import KafkaPublisher, OutRecord
from processor.adapters.log_reader import end_offsets
from processor.adapters.redis_redrive import RedriveLedger
from processor.adapters.redis_store import RedisGraphStore
from processor.core.dlq_headers import dlq_headers
from processor.core.dlq_review import REDRIVEN_FROM_HEADER, format_ms, rejection_hash
from processor.core.fold_payload import encode_batch
from processor.core.rules import MixRule
from processor.core.snapshot import canonical_bytes, snapshot_hash
from tests.events import ol_event
from tests.integration.conftest import Stack, expected_graph
from tests.integration.dedup_marks import dedup_marks, write_rejection_mark
from tests.integration.harness import free_port
from tests.integration.kafka_utils import produce, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.redis]

PG = ("postgres://db", "public.orders")
RAW = ("snowflake://acme", "RAW.ORDERS")
STG = ("snowflake://acme", "STAGING.ORDERS")
CRM = ("postgres://crm", "public.customers")
BQ = ("bigquery://proj", "crm.customers")
BQ2 = ("bigquery://proj", "crm.accounts")
BOTH_INTERNAL = "snowflake://*,bigquery://*"


def _cli(stack: Stack, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "processor", *args],
        env=stack.env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def _mix() -> tuple[list[tuple[bytes, bytes]], list[bytes], list[bytes]]:
    """Records to publish: (all, the all-external events, the invalid JSON).

    The all-external events read postgres and write bigquery: rejected while
    only snowflake is internal, crossing once bigquery is internal too. The
    good events touch no bigquery dataset, so no node's side changes.
    """
    good = [
        ol_event(job=("dbt", "load"), inputs=[PG], outputs=[RAW]),
        ol_event(
            job=("dbt", "load"), inputs=[PG], outputs=[RAW], event_time="2026-03-02T10:00:00Z"
        ),
        ol_event(job=("dbt", "stage"), inputs=[PG], outputs=[STG]),
    ]
    external = [
        ol_event(job=("fivetran", "crm"), inputs=[CRM], outputs=[BQ]),
        ol_event(
            job=("fivetran", "crm"),
            inputs=[CRM],
            outputs=[BQ, BQ2],
            event_time="2026-03-02T10:00:00Z",
        ),
        ol_event(job=("airbyte", "crm"), inputs=[CRM], outputs=[BQ2]),
    ]
    invalid = [b'{"eventType": "COMPLETE",', b"\xff\xfe not json"]
    records = [(b"good", v) for v in good]
    records += [(b"ext", v) for v in external]
    records.append((b"ext", external[0]))  # a duplicate: dropped, not a second dead letter
    records += [(b"bad", v) for v in invalid]
    return records, external, invalid


def _run_mix(stack: Stack) -> tuple[Any, list[tuple[bytes, bytes]], list[tuple[int, int, int]]]:
    records, external, invalid = _mix()
    worker = stack.start_worker()
    sent = produce(stack.bootstrap, stack.input_topic, records, partition=0)
    worker.wait_for(lambda: worker.metric("lineage_events_consumed_total") == len(records), 30)
    read_topic(stack.bootstrap, stack.dlq_topic, expect=len(external) + len(invalid), timeout=30)
    assert worker.metric("lineage_events_accepted_total") == 3
    assert worker.metric("lineage_events_duplicate_total") == 1
    return worker, records, sent


def test_stats_and_show_count_and_locate_the_dead_letters(stack: Stack) -> None:
    _, records, sent = _run_mix(stack)
    dlq = read_topic(stack.bootstrap, stack.dlq_topic)
    times = sorted(r.timestamp_ms for r in dlq)

    stats = _ok(_cli(stack, "dlq", "stats"))
    assert stats == [
        f"{stack.dlq_topic}: 5 dead letters",
        "by reason:",
        "  mix_rule_external_only         3",
        "  invalid_json                   2",
        "by source topic:",
        f"  {stack.input_topic}         5",
        f"oldest  {format_ms(times[0])}",
        f"newest  {format_ms(times[-1])}",
    ]

    out = _ok(_cli(stack, "dlq", "show", "--reason", "mix_rule_external_only"))
    blocks = [line for line in out if line.startswith(f"{stack.dlq_topic}/")]
    assert len(blocks) == 3
    assert (
        out[-1]
        == f"3 shown (newest last) of 3 with reason mix_rule_external_only, 5 in {stack.dlq_topic}"
    )
    sources = [line for line in out if line.startswith("  source  ")]
    # The first three records of the input topic are the good events. Their
    # timestamps are read back: aiokafka's send metadata gives every record of
    # a batch the first one's CreateTime.
    stored = read_topic(stack.bootstrap, stack.input_topic)
    assert [r.offset for r in stored[3:6]] == [offset for _, offset, _ in sent[3:6]]
    expected = [
        f"  source  {stack.input_topic}/0/{r.offset}  at {format_ms(r.timestamp_ms)}"
        for r in stored[3:6]
    ]
    assert sources == expected
    assert all(
        line == "  reason  mix_rule_external_only" for line in out if line.startswith("  reason")
    )
    assert "  rule    mixed;internal=snowflake://*" in out
    values = [line for line in out if line.startswith("  value   ")]
    assert values[0] == "  value   " + records[3][1].decode()[:199] + "…"

    limited = _ok(_cli(stack, "dlq", "show", "--limit", "1"))
    last = max(dlq, key=lambda r: (r.timestamp_ms, r.offset))
    assert limited[0] == (
        f"{stack.dlq_topic}/0/{last.offset}  dead-lettered at {format_ms(last.timestamp_ms)}"
    )
    assert f"  reason  {last.headers['lineage.reason']}" in limited

    bad_json = _ok(_cli(stack, "dlq", "show", "--reason", "invalid_json"))
    assert "  value   \ufffd\ufffd not json" in bad_json
    assert '  value   {"eventType": "COMPLETE",' in bad_json
    assert limited[-1] == f"1 shown (newest last) of 5 in {stack.dlq_topic}"


def _seen_marks(stack: Stack, values: list[bytes]) -> list[str]:
    client = redis.Redis.from_url(stack.redis_url)
    try:
        return dedup_marks(client, stack.prefix, [rejection_hash(v, 64) for v in values])
    finally:
        client.close()


def test_redrive_after_widening_the_internal_namespaces_then_again_changes_nothing(
    stack: Stack,
) -> None:
    worker, records, _ = _run_mix(stack)
    _, external, _ = _mix()
    assert _seen_marks(stack, external) == ["r"] * len(external)
    worker.terminate()
    worker = stack.start_worker(LINEAGE_INTERNAL_NAMESPACES=BOTH_INTERNAL)
    dlq_before = read_topic(stack.bootstrap, stack.dlq_topic)
    assert len(dlq_before) == 5

    first = _ok(
        _cli(
            stack,
            "dlq",
            "redrive",
            "--reason",
            "mix_rule_external_only",
            LINEAGE_INTERNAL_NAMESPACES=BOTH_INTERNAL,
        )
    )
    assert first == [
        "redriven: 3",
        "skipped, already redriven: 0",
        "by reason (redriven / already redriven):",
        "  mix_rule_external_only         3 / 0",
        f"published to {stack.input_topic}: 3",
        "rejection marks cleared (dedup bypass): 3",
    ]
    worker.wait_for(lambda: worker.metric("lineage_events_accepted_total") == 3, 30)
    assert worker.metric("lineage_events_consumed_total") == 3
    assert _seen_marks(stack, external) == ["a"] * len(external)

    rule = MixRule("mixed", BOTH_INTERNAL.split(","))
    expected = expected_graph([v for _, v in records], rule).snapshot()
    snapshot = _ok(_cli(stack, "snapshot"))
    assert snapshot[0].encode() == canonical_bytes(expected)
    # 2 edges of the good events, 2 of the redriven ones (one event repeats an edge)
    assert len(expected["edges"]) == 4
    digest = _ok(_cli(stack, "snapshot", "--hash"))
    assert digest == [snapshot_hash(expected)]
    # the redriven copies carry where they came from
    copies = read_topic(stack.bootstrap, stack.input_topic)[len(records) :]
    assert sorted(c.headers[REDRIVEN_FROM_HEADER] for c in copies) == sorted(
        f"{stack.dlq_topic}/0/{r.offset}"
        for r in dlq_before
        if r.headers["lineage.reason"] == "mix_rule_external_only"
    )
    inputs_end = asyncio.run(end_offsets(stack.bootstrap, stack.input_topic))

    second = _ok(
        _cli(
            stack,
            "dlq",
            "redrive",
            "--reason",
            "mix_rule_external_only",
            LINEAGE_INTERNAL_NAMESPACES=BOTH_INTERNAL,
        )
    )
    assert second == [
        "redriven: 0",
        "skipped, already redriven: 3",
        "by reason (redriven / already redriven):",
        "  mix_rule_external_only         0 / 3",
    ]
    assert asyncio.run(end_offsets(stack.bootstrap, stack.input_topic)) == inputs_end
    assert _ok(_cli(stack, "snapshot", "--hash")) == digest
    assert len(read_topic(stack.bootstrap, stack.dlq_topic)) == 5
    assert worker.metric("lineage_events_consumed_total") == 3


def _dead_letter(stack: Stack, reason: str, topic: str, offset: int, value: bytes) -> OutRecord:
    headers = dlq_headers(
        reason=reason,
        error="made by the test",
        topic=topic,
        partition=0,
        offset=offset,
        timestamp_ms=1772359200000,
        version="0.1.0",
        rule="mixed;internal=snowflake://*",
    )
    return OutRecord(stack.dlq_topic, b"k", value, headers)


def _publish(stack: Stack, records: list[OutRecord]) -> None:
    async def run() -> None:
        publisher = KafkaPublisher(stack.bootstrap)
        try:
            await publisher.publish(records)
        finally:
            await publisher.close()

    asyncio.run(run())


def test_since_routing_and_argument_errors(stack: Stack) -> None:
    assert _ok(_cli(stack, "dlq", "show")) == [f"no dead letters in {stack.dlq_topic}"]
    assert _ok(_cli(stack, "dlq", "stats")) == [f"{stack.dlq_topic}: no dead letters"]
    bad_control = b'{"op": "drop"}'
    event = ol_event(inputs=[CRM], outputs=[BQ])
    _publish(
        stack,
        [
            _dead_letter(stack, "invalid_control", stack.control_topic, 0, bad_control),
            _dead_letter(stack, "mix_rule_external_only", "retired.topic", 5, event),
        ],
    )

    future = "2999-01-01T00:00:00+01:00"
    assert _ok(_cli(stack, "dlq", "show", "--since", future)) == [
        f"no dead letters with since {future} (2 in {stack.dlq_topic})"
    ]
    assert _ok(_cli(stack, "dlq", "redrive", "--since", future)) == [
        "redriven: 0",
        "skipped, already redriven: 0",
    ]
    assert _ok(_cli(stack, "dlq", "show", "--since", "2000-01-01T00:00:00Z"))[-1] == (
        f"2 shown (newest last) of 2 with since 2000-01-01T00:00:00Z, 2 in {stack.dlq_topic}"
    )

    for args, needle in [
        (("show", "--reason", "mix_rule"), "--reason: unknown reason 'mix_rule' (one of: "),
        (("redrive", "--reason", "MIX_RULE_EXTERNAL_ONLY"), "--reason: unknown reason"),
        (("redrive", "--since", "yesterday"), "--since: not an RFC 3339 date-time"),
        (("show", "--limit", "0"), "--limit: must be at least 1"),
    ]:
        bad = _cli(stack, "dlq", *args)
        assert bad.returncode == 2, bad.stderr
        assert len(bad.stderr.splitlines()) == 1, bad.stderr
        assert needle in bad.stderr
        assert bad.stdout == ""

    # No worker runs: the redriven records stay where they were sent, and the
    # rule-rejected one never got its dedup mark.
    assert _ok(_cli(stack, "dlq", "redrive")) == [
        "redriven: 2",
        "skipped, already redriven: 0",
        "by reason (redriven / already redriven):",
        "  invalid_control                1 / 0",
        "  mix_rule_external_only         1 / 0",
        f"published to {stack.control_topic}: 1",
        f"published to {stack.input_topic}: 1",  # its source is no input topic
        "published but not recorded, the worker has not marked them yet: 1 "
        "(the next redrive publishes them again)",
    ]
    assert [r.value for r in read_topic(stack.bootstrap, stack.control_topic, expect=1)] == [
        bad_control
    ]
    assert [r.value for r in read_topic(stack.bootstrap, stack.input_topic, expect=1)] == [event]

    # Once the worker's rejection mark is there, a redrive clears it and records.
    assert _ok(_cli(stack, "dlq", "redrive"))[0] == "redriven: 1"  # not marked yet: again
    write_rejection_mark(stack.redis_url, stack.prefix, rejection_hash(event, 64), "worker.7")
    assert _ok(_cli(stack, "dlq", "redrive")) == [
        "redriven: 1",
        "skipped, already redriven: 1",
        "by reason (redriven / already redriven):",
        "  invalid_control                0 / 1",
        "  mix_rule_external_only         1 / 0",
        f"published to {stack.input_topic}: 1",
        "rejection marks cleared (dedup bypass): 1",
    ]
    assert _seen_marks(stack, [event]) == [""]
    assert _ok(_cli(stack, "dlq", "redrive"))[:2] == ["redriven: 0", "skipped, already redriven: 2"]
    assert len(read_topic(stack.bootstrap, stack.input_topic, expect=3)) == 3


def test_unreachable_kafka_or_redis_is_one_line_and_exit_1(stack: Stack) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    for command in ("show", "stats", "redrive"):
        down = _cli(stack, "dlq", command, LINEAGE_KAFKA_BOOTSTRAP=nowhere)
        assert down.returncode == 1, (command, down.stderr)
        assert len(down.stderr.splitlines()) == 1, down.stderr
        assert nowhere in down.stderr
        assert down.stdout == ""
    missing = _cli(stack, "dlq", "stats", LINEAGE_DLQ_TOPIC=f"missing.{stack.prefix}")
    assert missing.returncode == 2, missing.stderr
    assert f"the dead-letter topic 'missing.{stack.prefix}' does not exist" in missing.stderr
    down = _cli(stack, "dlq", "redrive", LINEAGE_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert down.returncode == 1, down.stderr
    assert len(down.stderr.splitlines()) == 1, down.stderr
    assert "Redis" in down.stderr


def test_only_rejection_marks_are_cleared_in_the_current_generation(
    redis_url: str, key_prefix: str
) -> None:
    async def run() -> tuple[dict[str, str], list[str], list[str]]:
        store = RedisGraphStore.from_url(redis_url, prefix=key_prefix)
        old = RedisGraphStore(store.client, prefix=key_prefix, generation="2")
        try:
            await store.client.set(f"{key_prefix}:generation", "3")
            await store.load_generation()
            marks = [("aa", "a"), ("ii", "i"), ("rr", "r"), ("rs", "r")]
            await store.mark_and_fold(encode_batch(marks, []), "tok.1")
            await old.mark_and_fold(encode_batch([("rr", "r")], []), "tok.0")
            ledger = RedriveLedger(store)
            found = await ledger.clear_rejections(["aa", "ii", "rr", "rs", "rr", "missing"])
            left = await store.marks(["aa", "ii", "rr", "rs"])
            other = await old.marks(["rr"])  # another generation: not touched
            assert await ledger.redriven(["dlq/0/1", "dlq/0/2"]) == [False, False]
            await ledger.record(["dlq/0/1"])
            assert await ledger.redriven(["dlq/0/1", "dlq/0/2"]) == [True, False]
            assert await store.client.smembers(f"{key_prefix}:dlq:redriven") == {b"dlq/0/1"}
            return found, left, other
        finally:
            await store.close()

    found, left, other = asyncio.run(run())
    assert found == {"aa": "a", "ii": "i", "rr": "r", "rs": "r", "missing": ""}
    assert left == ["a", "i", "", ""]
    assert other == ["r"]


def test_log_reader_stops_at_the_end_offsets_taken_first(broker: str, make_topics: Any) -> None:
    from processor.adapters.log_reader import iter_records

    (topic,) = make_topics("multi", partitions=3)
    # One producer batch per partition: Tansu's ListOffsets would say 1 each.
    produce(broker, topic, [(b"a", b"%d" % i) for i in range(7)], partition=0)
    produce(broker, topic, [(b"b", b"%d" % i) for i in range(5)], partition=2)

    async def read(ends: dict[int, int] | None) -> list[Any]:
        out = []
        async for batch in iter_records(broker, topic, ends=ends, max_records=3):
            assert 0 < len(batch) <= 3
            out.extend(batch)
        return out

    ends = asyncio.run(end_offsets(broker, topic))
    assert ends == {0: 7, 1: 0, 2: 5}
    produce(broker, topic, [(b"late", b"late")], partition=0)
    records = asyncio.run(read(ends))
    assert sorted((r.partition, r.offset, r.value) for r in records) == [
        *((0, i, b"%d" % i) for i in range(7)),
        *((2, i, b"%d" % i) for i in range(5)),
    ]
    assert len(asyncio.run(read(None))) == 13
