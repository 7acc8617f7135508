"""Crashes and outages lose nothing: a SIGKILLed worker restarted mid-stream, and
Redis paused mid-stream, end with the snapshot of an undisturbed run."""

from __future__ import annotations

import hashlib
import json
import time

from processor.core.pipeline import Classified, Limits, Rejected, classify
from processor.core.rules import MixRule
from processor.samples import realistic_mix
from tests.integration.conftest import Stack, expected_hash
from tests.integration.kafka_utils import produce, read_topic


def _expected_dead_letters(values: list[bytes | None]) -> tuple[set[int], set[str]]:
    """Indexes of messages rejected before dedup, and hashes of rule-rejected events."""
    rule, limits = MixRule("mixed", ["snowflake://*"]), Limits()
    pre: set[int] = set()
    post: set[str] = set()
    for i, value in enumerate(values):
        c = classify(value, rule, limits)
        if isinstance(c, Rejected):
            pre.add(i)
        elif isinstance(c, Classified) and isinstance(c.outcome, Rejected):
            post.add(c.content_hash)
    return pre, post


def _value_hash(value: bytes | None) -> str:
    return hashlib.sha256(value or b"").hexdigest()


def test_sigkill_mid_stream_then_restart_gives_the_undisturbed_snapshot(stack: Stack) -> None:
    messages = realistic_mix(3000, seed=7)
    values = [v for _, v in messages]
    want = expected_hash(values)
    pre, post = _expected_dead_letters(values)
    # the mix has both kinds, or this test proves little
    assert pre
    assert post

    sent = produce(stack.bootstrap, stack.input_topic, messages[:1500], partition=0)
    worker = stack.start_worker(LINEAGE_BATCH_SIZE="100")
    worker.wait_for(lambda: worker.metric("lineage_events_consumed_total") >= 300, timeout=60)
    worker.kill()  # SIGKILL in the middle of the stream
    sent += produce(stack.bootstrap, stack.input_topic, messages[1500:], partition=0)
    worker = stack.start_worker(LINEAGE_BATCH_SIZE="100")
    worker.wait_for(lambda: worker.metric("lineage_events_consumed_total") >= 200, timeout=60)
    worker.kill()  # and once more
    worker = stack.start_worker(LINEAGE_BATCH_SIZE="100")

    worker.wait_for(
        lambda: worker.get_json("/api/v1/graph/snapshot?hash=1")["sha256"] == want, timeout=90
    )
    dlq = read_topic(stack.bootstrap, stack.dlq_topic)
    offsets = {int(r.headers["lineage.source.offset"]) for r in dlq}
    # Every message rejected before dedup is there at least once, by source offset...
    assert {sent[i][1] for i in pre} <= offsets
    # ...and every rule-rejected event at least once, by its bytes.
    dead_values = {_value_hash(r.value) for r in dlq}
    rule_rejected_values = {
        _value_hash(values[i])
        for i in range(len(values))
        if (c := classify(values[i], MixRule("mixed", ["snowflake://*"]), Limits()))
        and isinstance(c, Classified)
        and c.content_hash in post
    }
    assert rule_rejected_values <= dead_values


def test_redis_paused_mid_stream_loses_nothing_and_dead_letters_nothing(stack: Stack) -> None:
    messages = realistic_mix(2000, seed=11)
    values = [v for _, v in messages]
    want = expected_hash(values)
    pre, post = _expected_dead_letters(values)

    worker = stack.start_worker(LINEAGE_REDIS_TIMEOUT_SECONDS="1", LINEAGE_BATCH_SIZE="100")
    produce(stack.bootstrap, stack.input_topic, messages[:1000], partition=0)
    worker.wait_for(lambda: worker.metric("lineage_events_consumed_total") >= 1000, timeout=60)
    stack.redis.pause()
    try:
        produce(stack.bootstrap, stack.input_topic, messages[1000:], partition=0)
        time.sleep(4)
        # While Redis is stopped nothing past the outage is counted as processed,
        # the worker says it is retrying, and it is not ready.
        assert worker.metric("lineage_events_consumed_total") < 2000
        assert worker.metric("lineage_dependency_down", dependency="redis") == 1
        status, body = worker.http_get("/readyz")
        assert status == 503
        assert json.loads(body)["checks"]["redis"] is False
    finally:
        stack.redis.resume()
    worker.wait_for(lambda: worker.metric("lineage_events_consumed_total") >= 2000, timeout=60)
    assert worker.get_json("/api/v1/graph/snapshot?hash=1")["sha256"] == want
    assert worker.metric("lineage_redis_errors_total") >= 1  # it did retry
    assert (
        worker.metric("lineage_redis_errors_total", operation="fold")
        + worker.metric("lineage_redis_errors_total", operation="seen")
        >= 1
    )  # counted by the operation that failed
    # Exactly the expected dead letters: none for the outage, none twice.
    dlq = read_topic(stack.bootstrap, stack.dlq_topic)
    assert len(dlq) == len(pre) + len(post)
    reasons = {r.headers["lineage.reason"] for r in dlq}
    assert reasons <= {
        "too_large",
        "invalid_json",
        "invalid_event",
        "name_too_long",
        "mix_rule_internal_only",
        "mix_rule_external_only",
        "no_lineage",
    }
    assert worker.metric("lineage_dependency_down", dependency="redis") == 0
