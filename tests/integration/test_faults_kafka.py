"""Broker-side faults: the dead-letter topic refusing writes for a while, and a
worker SIGKILLed while its consumer group is rebalancing. Each ends with the
books balanced (``check_accounting``) and the pure fold's snapshot."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path

import redis

from processor.adapters.kafka_admin import create_topics
from processor.core.pipeline import Classified, Limits, Rejected, classify
from processor.devstack.services import RunningService
from processor.samples import realistic_mix
from tests.integration.accounting import DEFAULT_RULE, Sent, check_accounting
from tests.integration.conftest import Stack
from tests.integration.dedup_marks import dedup_marks
from tests.integration.faults import (
    WAIT,
    Feeder,
    consumed,
    poll_until,
    spawn_worker,
    wait_committed,
)
from tests.integration.harness import WorkerProcess
from tests.integration.kafka_utils import committed_offsets, produce, read_topic
from tests.integration.streams import mixed_stream

BATCH = 50
# Refuses every record: Tansu validates a produce against ``<topic>.json``
# (key and value as properties) and answers with an error when it fails.
REFUSE_ALL = json.dumps({"properties": {"value": False}})


def _dead_letter_offsets(values: list[bytes | None]) -> list[int]:
    """Indexes of the messages the pure pipeline dead-letters, in order: every
    message rejected before dedup, and the first copy of each rule-rejected event."""
    seen: set[str] = set()
    out = []
    for i, value in enumerate(values):
        c = classify(value, DEFAULT_RULE, Limits())
        if isinstance(c, Rejected):
            out.append(i)
        elif isinstance(c, Classified) and c.content_hash not in seen:
            seen.add(c.content_hash)
            if isinstance(c.outcome, Rejected):
                out.append(i)
    return out


def _first_copies(values: list[bytes | None]) -> dict[str, int]:
    """Content hash of every valid event -> index of its first copy."""
    firsts: dict[str, int] = {}
    for i, value in enumerate(values):
        c = classify(value, DEFAULT_RULE, Limits())
        if isinstance(c, Classified):
            firsts.setdefault(c.content_hash, i)
    return firsts


def test_an_unwritable_dead_letter_topic_holds_the_batch_until_it_is_writable(
    stack: Stack, broker_factory: Callable[..., RunningService], tmp_path: Path
) -> None:
    """How the DLQ is made unwritable: a private Tansu broker with its schema
    registry on, and a schema for the DLQ topic that no record passes. Produce
    requests to that topic alone are refused with an error by the broker, while
    fetches, commits and every other topic work: the broker refusing dead
    letters and nothing else, as a topic whose ``min.insync.replicas`` cannot be
    met, or an ACL on it, would (those errors aiokafka retries itself until its
    request timeout; this one fails at once: either way the publish raises).
    Pausing the whole broker would stop the input too; deleting the topic would
    lose the dead letters already in it; a proxy in front of the broker would
    need a bootstrap setting for the DLQ alone, which the processor does not
    have. Removing the schema makes the topic writable again.
    """
    schemas = tmp_path / "schemas"
    # local: the schema registry is Tansu's; a Kafka container has none
    private = broker_factory(schema_dir=schemas, backend="local")
    stack = dataclasses.replace(stack, bootstrap=private.address)  # the fixture still kills
    topics = [stack.input_topic, stack.dlq_topic, stack.control_topic]
    asyncio.run(create_topics(stack.bootstrap, topics, 1))
    messages = realistic_mix(1600, seed=13)
    values = [v for _, v in messages]
    cut = 600
    dead_at = _dead_letter_offsets(values)
    blocked_at = next(i for i in dead_at if i >= cut)  # the first dead letter after the cut

    worker = stack.start_worker(
        LINEAGE_BATCH_SIZE=str(BATCH), LINEAGE_RETRY_MAX_BACKOFF_SECONDS="1"
    )
    produced = produce(stack.bootstrap, stack.input_topic, messages[:cut], partition=0)
    worker.wait_for(lambda: consumed(worker, stack.input_topic) == cut, timeout=WAIT)
    published = [i for i in dead_at if i < cut]
    assert published, "dead letters before the cut are written while the topic is writable"

    (schemas / f"{stack.dlq_topic}.json").write_text(REFUSE_ALL)
    errors_before = worker.metric("lineage_dlq_publish_errors_total")
    produced += produce(stack.bootstrap, stack.input_topic, messages[cut:], partition=0)

    poll_until(
        lambda: (
            worker.metric("lineage_dependency_down", dependency="kafka") == 1
            and worker.metric("lineage_dlq_publish_errors_total") - errors_before >= 3
        ),
        WAIT,
        "dependency_down{kafka} = 1 and three failed dead-letter publishes",
        [worker],
    )
    # The failing batch starts where the processed records end, and holds the
    # first dead letter due after the cut.
    stalled = consumed(worker, stack.input_topic)
    assert stalled <= blocked_at < stalled + BATCH, (stalled, blocked_at)
    time.sleep(2)
    assert consumed(worker, stack.input_topic) == stalled  # retrying, not skipping
    assert committed_offsets(stack.bootstrap, stack.group, stack.input_topic).get(0, 0) <= stalled
    # Nothing from the failing batch on is marked seen: a rejected event marked
    # before its dead letter is written would be a duplicate forever after.
    client = redis.Redis.from_url(stack.redis_url)
    try:
        firsts = _first_copies(values)
        marked = [bool(m) for m in dedup_marks(client, stack.prefix, list(firsts))]
    finally:
        client.close()
    for (content_hash, first), is_marked in zip(firsts.items(), marked, strict=True):
        assert is_marked == (first < stalled), (content_hash, first, stalled)
    # The DLQ holds exactly the dead letters of the batches before it.
    dead = read_topic(stack.bootstrap, stack.dlq_topic)
    assert sorted(int(r.headers["lineage.source.offset"]) for r in dead) == [
        produced[i][1] for i in dead_at if i < stalled
    ]

    (schemas / f"{stack.dlq_topic}.json").unlink()  # writable again
    events = Sent.of(stack.input_topic, values, produced)
    check_accounting([worker], events, bootstrap=stack.bootstrap, dlq_topic=stack.dlq_topic)
    assert worker.metric("lineage_dependency_down", dependency="kafka") == 0
    failed = worker.metric("lineage_dlq_publish_errors_total") - errors_before
    worker.kill()  # before its private broker stops, which would wait for its connections
    print(
        f"\nDLQ unwritable: stalled at offset {stalled} (first dead letter due at {blocked_at}),"
        f" {failed:.0f} failed publishes"
    )


def _rebalancing(worker: WorkerProcess) -> bool:
    """True while the worker's consumer is in a rebalance (``/readyz`` says so)."""
    try:
        status, body = worker.http_get("/readyz", timeout=2)
    except OSError:
        return False
    return status == 503 and json.loads(body)["checks"]["kafka"] is False


def test_a_worker_sigkilled_mid_rebalance_leaves_the_survivors_every_partition(
    stack: Stack,
) -> None:
    """Two workers share six partitions while a stream trickles in; a third joins,
    and while the group is rebalancing for it one of the first two is SIGKILLed:
    its partitions (with records it processed but had not committed) go to the
    survivors once its session times out. Redelivered records are absorbed by
    the dedup marks; each survivor's books add up; the graph is the pure fold's."""
    stream = mixed_stream(9, 3000)
    input_topic = f"events6.{stack.prefix}"
    asyncio.run(create_topics(stack.bootstrap, [input_topic], 6))
    env = {"LINEAGE_INPUT_TOPICS": input_topic, "LINEAGE_BATCH_SIZE": "100"}
    first, second = spawn_worker(stack, **env), spawn_worker(stack, **env)
    for worker in (first, second):
        worker.wait_ready(timeout=WAIT)
    control = Sent.of(
        stack.control_topic,
        stream.deletes,
        produce(stack.bootstrap, stack.control_topic, [(None, v) for v in stream.deletes]),
    )
    feeder = Feeder(stack.bootstrap, input_topic, stream.events, chunk=100, pause=0.4)
    feeder.start()
    poll_until(
        lambda: consumed(first, input_topic) > 0 and consumed(second, input_topic) > 0,
        WAIT,
        "both workers processing",
        [first, second],
    )

    rebalances = first.metric("faust_rebalances_total")
    third = spawn_worker(stack, **env)
    poll_until(
        lambda: _rebalancing(first) or _rebalancing(second),
        WAIT,
        "the group rebalancing for the third worker",
        [first, second, third],
    )
    second.kill()
    killed_at = feeder.progress
    survivors = [first, third]
    third.wait_ready(timeout=WAIT)
    events = feeder.sent()

    # Every partition committed to its end: the survivors took the dead one's too.
    wait_committed(stack, [events, control], survivors)
    books = check_accounting(
        survivors,
        events,
        control=control,
        bootstrap=stack.bootstrap,
        dlq_topic=stack.dlq_topic,
        exactly_once=False,
    )
    assert first.metric("faust_rebalances_total") > rebalances
    shares = [consumed(w, input_topic) for w in survivors]
    assert all(shares), shares
    print(
        f"\nkilled mid-rebalance with {killed_at} of {len(events.values)} fed; survivors"
        f" processed {shares} ({books.totals['consumed']} in all for"
        f" {len(events.values) + len(control.values)} sent)"
    )
