"""Scale-out (issue 4): several workers in one consumer group split the partitions
and fold into the same Redis; the graph is the one a single worker builds.

Every test feeds the same deterministic stream (``streams.mixed_stream``: 3,000
messages made with the openlineage-python client, duplicates, ignored and
dead-lettered events, and deletes on the control topic) and compares the
workers' snapshot hash with the pure fold of the same messages:

* two workers started together in one group on a 6-partition input topic, each
  taking a share of the partitions: every message processed exactly once;
* one worker on a 1-partition topic;
* a second worker added to a running group mid-stream: partitions move, some
  records are processed twice (at least once), the graph is the same.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections import Counter
from collections.abc import Sequence

from processor.adapters.kafka_admin import create_topics
from processor.adapters.log_reader import end_offsets
from processor.core.pipeline import Classified, Limits, Rejected, classify
from processor.core.snapshot import snapshot_hash
from tests.integration.conftest import Stack
from tests.integration.harness import WorkerProcess, free_port, wait_for
from tests.integration.kafka_utils import committed_offsets, count_messages, produce, read_topic
from tests.integration.streams import (
    DEFAULT_RULE,
    MixedStream,
    Outcomes,
    delete_effects,
    expected_graph_of,
    expected_outcomes,
    mixed_stream,
)

SEED = 4
MESSAGES = 3000
PARTITIONS = 6
WAIT = 120.0  # generous for 2 CI cores, but finite
WORKER_ENV = {"LINEAGE_BATCH_SIZE": "200"}  # several batches per worker, not one


@functools.cache
def _stream() -> tuple[MixedStream, str, Outcomes]:
    """The stream, its expected snapshot hash and outcome counts (made once)."""
    stream = mixed_stream(SEED, MESSAGES)
    values = [v for _, v in stream.events]
    graph = expected_graph_of(values, stream.deletes)
    hidden, back = delete_effects(graph)
    # the stream exercises what it claims to, or these tests prove little
    assert hidden, "some deleted edges stay hidden"
    assert back, "some deleted edges come back"
    outcomes = expected_outcomes(values)
    assert outcomes.total == MESSAGES
    assert outcomes.accepted
    assert outcomes.duplicate
    assert outcomes.ignored["START"]
    assert outcomes.rejected["mix_rule_external_only"]
    return stream, snapshot_hash(graph.snapshot()), outcomes


def _start_together(stack: Stack, count: int, **env: str) -> list[WorkerProcess]:
    """Spawn ``count`` workers at once (distinct web ports), then wait until all are ready."""
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    workers = []
    for port in sorted(ports):
        log_path = stack.log_dir / f"worker-{len(stack.workers)}.log"
        worker = WorkerProcess(stack.env(LINEAGE_WEB_PORT=str(port), **env), port, log_path)
        stack.workers.append(worker)  # the fixture kills it
        workers.append(worker.start())
    for worker in workers:
        worker.wait_ready(timeout=WAIT)
    return workers


def _total(workers: Sequence[WorkerProcess], name: str, **labels: str) -> int:
    return int(sum(w.metric(name, **labels) for w in workers))


def _describe(workers: Sequence[WorkerProcess]) -> str:
    return "\n".join(w.describe() for w in workers)


def _totals(workers: Sequence[WorkerProcess], input_topic: str) -> dict[str, int]:
    """Counters summed over the workers, each worker's read from one scrape (a batch's
    records and their outcomes are counted together, so one scrape is consistent)."""
    names = {
        "accepted": "lineage_events_accepted_total",
        "duplicate": "lineage_events_duplicate_total",
        "ignored": "lineage_events_ignored_total",
        "rejected": "lineage_events_rejected_total",
        "deletes": "lineage_deletes_applied_total",
    }
    totals = dict.fromkeys([*names, "consumed"], 0)
    for worker in workers:
        for (name, labels), value in worker.metrics().items():
            for key, wanted in names.items():
                if name == wanted:
                    totals[key] += int(value)
            if name == "lineage_events_consumed_total" and dict(labels).get("topic") == input_topic:
                totals["consumed"] += int(value)
    return totals


def _wait_processed(workers: Sequence[WorkerProcess], input_topic: str, deletes: int) -> None:
    """Until the workers together have processed the whole stream and every delete."""

    def done() -> bool:
        totals = _totals(workers, input_topic)
        return totals["consumed"] >= MESSAGES and totals["deletes"] >= deletes

    wait_for(done, timeout=WAIT, interval=0.2, describe=lambda: _describe(workers))


def _partitions_read(worker: WorkerProcess, topic: str) -> set[int]:
    """Partitions of ``topic`` faust has handed this worker records from."""
    return {
        int(dict(labels)["partition"])
        for (name, labels), _ in worker.metrics().items()
        if name == "faust_topic_partition_read_offset" and dict(labels).get("topic") == topic
    }


def _run(
    stack: Stack,
    workers: Sequence[WorkerProcess],
    input_topic: str,
    control_topic: str,
    dlq_topic: str,
    partitions: int,
) -> dict[str, float]:
    """Publish the stream, wait until every worker is done, check graph and accounting.

    Returns timings (seconds) and the rebalances seen while the stream was processed.
    """
    stream, want, outcomes = _stream()
    rebalances_before = _total(workers, "faust_rebalances_total")
    started = time.monotonic()
    # Deletes before, during (well, between) and after the events: order does not matter.
    half = len(stream.deletes) // 2
    produce(stack.bootstrap, control_topic, [(None, v) for v in stream.deletes[:half]])
    sent = produce(stack.bootstrap, input_topic, stream.events)
    produce(stack.bootstrap, control_topic, [(None, v) for v in stream.deletes[half:]])
    produced = time.monotonic()
    # every partition of the input topic gets records
    assert {p for p, _, _ in sent} == set(range(partitions)), Counter(p for p, _, _ in sent)

    _wait_processed(workers, input_topic, len(stream.deletes))
    consumed_at = time.monotonic()
    rebalances = _total(workers, "faust_rebalances_total") - rebalances_before

    # Nothing was processed twice: no record redelivered to a second worker.
    totals = _totals(workers, input_topic)
    assert totals["consumed"] == MESSAGES, (
        f"rebalances while consuming: {rebalances}\n{_describe(workers)}"
    )
    assert totals["deletes"] == len(stream.deletes)

    # The graph: every worker reads the one graph, and it is the pure fold's.
    for worker in workers:
        got = worker.get_json("/api/v1/graph/snapshot?hash=1")
        assert got["sha256"] == want, (got, _describe(workers))

    # Accounting, summed over the workers: every message has exactly one outcome,
    # and each outcome is counted as often as the pure pipeline says.
    rejected = totals["rejected"]
    assert totals["accepted"] + totals["duplicate"] + totals["ignored"] + rejected == MESSAGES
    assert (totals["accepted"], totals["duplicate"]) == (outcomes.accepted, outcomes.duplicate)
    for event_type, n in outcomes.ignored.items():
        assert _total(workers, "lineage_events_ignored_total", event_type=event_type) == n
    for reason, n in outcomes.rejected.items():
        assert _total(workers, "lineage_events_rejected_total", reason=reason) == n

    # The dead-letter topic holds each rejected message exactly once.
    assert count_messages(stack.bootstrap, dlq_topic) == rejected
    dead = read_topic(stack.bootstrap, dlq_topic, expect=rejected)
    assert {r.headers.get("lineage.source.topic") for r in dead} == {input_topic}
    by_reason: dict[str, int] = {}
    for r in dead:
        reason = r.headers.get("lineage.reason", "?")
        by_reason[reason] = by_reason.get(reason, 0) + 1
    assert by_reason == dict(outcomes.rejected)

    return {
        "produce_s": produced - started,
        "consume_s": consumed_at - produced,
        "rebalances": float(rebalances),
    }


def test_two_workers_in_one_group_split_six_partitions_into_the_same_graph(
    stack: Stack,
) -> None:
    _stream()  # made before the workers start: not on their clock
    input_topic = f"events6.{stack.prefix}"
    asyncio.run(create_topics(stack.bootstrap, [input_topic], PARTITIONS))
    t0 = time.monotonic()
    workers = _start_together(stack, 2, LINEAGE_INPUT_TOPICS=input_topic, **WORKER_ENV)
    ready = time.monotonic() - t0

    timings = _run(stack, workers, input_topic, stack.control_topic, stack.dlq_topic, PARTITIONS)

    # The partitions were split: each worker processed a share, from its own partitions.
    shares = [_totals([w], input_topic)["consumed"] for w in workers]
    assert all(shares), shares
    parts = [_partitions_read(w, input_topic) for w in workers]
    if not timings["rebalances"]:  # (faust forgets its read offsets on a rebalance)
        assert not parts[0] & parts[1], parts
        assert parts[0] | parts[1] == set(range(PARTITIONS)), parts
    print(
        f"\nscale-out: 2 workers ready in {ready:.1f}s, produced in {timings['produce_s']:.1f}s,"
        f" consumed in {timings['consume_s']:.1f}s; shares {shares}, partitions"
        f" {[sorted(p) for p in parts]}, rebalances while consuming {timings['rebalances']:.0f}"
    )


def test_one_worker_on_one_partition_builds_the_same_graph(stack: Stack) -> None:
    _stream()
    t0 = time.monotonic()
    worker = stack.start_worker(**WORKER_ENV)
    ready = time.monotonic() - t0
    timings = _run(stack, [worker], stack.input_topic, stack.control_topic, stack.dlq_topic, 1)
    assert _partitions_read(worker, stack.input_topic) == {0}
    print(
        f"\nsingle worker: ready in {ready:.1f}s, produced in {timings['produce_s']:.1f}s,"
        f" consumed in {timings['consume_s']:.1f}s"
    )


def test_a_worker_added_to_a_running_group_takes_partitions_and_loses_nothing(
    stack: Stack,
) -> None:
    """Scaling out a live group: the second worker's join moves partitions while the
    first one is busy. After the rebalance every partition (moved or kept) restarts
    from its committed offset, so records processed but not yet committed are
    processed again (at least once); the dedup marks absorb that: the graph and
    the accepted count are exactly the pure fold's."""
    stream, want, outcomes = _stream()
    input_topic = f"events6.{stack.prefix}"
    asyncio.run(create_topics(stack.bootstrap, [input_topic], PARTITIONS))
    env = {"LINEAGE_INPUT_TOPICS": input_topic, **WORKER_ENV}
    first = stack.start_worker(**env)
    produce(stack.bootstrap, stack.control_topic, [(None, v) for v in stream.deletes])

    def feed(records: Sequence[tuple[bytes, bytes]]) -> None:
        for i in range(0, len(records), 100):  # a steady trickle, not one burst
            produce(stack.bootstrap, input_topic, records[i : i + 100])
            time.sleep(0.25)

    # Two thirds trickle in while the second worker joins (~5 s), so the group
    # rebalances while the first worker is busy; the rest once it has joined, so
    # that it surely gets records whatever the timing.
    cut = 2 * len(stream.events) // 3
    feeder = threading.Thread(target=feed, args=(stream.events[:cut],))
    feeder.start()
    try:
        first.wait_for(
            lambda: first.metric("lineage_events_consumed_total", topic=input_topic) >= 300,
            timeout=WAIT,
        )
        t0 = time.monotonic()
        second = stack.start_worker(**env)  # waits until the group has rebalanced
        joined = time.monotonic() - t0
    finally:
        feeder.join()
    feed(stream.events[cut:])
    workers = [first, second]

    # Done when the group has committed every offset (an offset is committed only
    # past durable outcomes) and the graph and accepted count are the pure fold's.
    ends = {
        topic: asyncio.run(end_offsets(stack.bootstrap, topic))
        for topic in (input_topic, stack.control_topic)
    }

    def done() -> bool:
        return (
            all(committed_offsets(stack.bootstrap, stack.group, t) == e for t, e in ends.items())
            and _totals(workers, input_topic)["accepted"] == outcomes.accepted
            and all(w.get_json("/api/v1/graph/snapshot?hash=1")["sha256"] == want for w in workers)
        )

    wait_for(done, timeout=WAIT, interval=0.5, describe=lambda: _describe(workers))
    shares = [_totals([w], input_topic)["consumed"] for w in workers]
    assert all(shares), shares  # the newcomer got partitions with records on them
    totals = _totals(workers, input_topic)
    consumed = totals["consumed"]
    # Every processing of a record has one outcome; an event is accepted once
    # however often it is processed; redelivered copies are duplicates (or, for
    # messages rejected before dedup, dead letters again).
    outcome_sum = sum(totals[k] for k in ("accepted", "duplicate", "ignored", "rejected"))
    assert outcome_sum == consumed, totals
    assert consumed >= MESSAGES
    assert totals["duplicate"] >= outcomes.duplicate
    assert totals["rejected"] >= sum(outcomes.rejected.values())
    assert totals["deletes"] >= len(stream.deletes)
    # Every expected dead letter is there; a redelivery may add copies, never lose one.
    dead = read_topic(stack.bootstrap, stack.dlq_topic, expect=sum(outcomes.rejected.values()))
    want_dead = {v for _, v in stream.events if _rejected(v)}
    assert want_dead <= {r.value for r in dead}
    assert len(dead) >= sum(outcomes.rejected.values())
    print(
        f"\nadded worker: joined in {joined:.1f}s; shares {shares}; processed {consumed}"
        f" for {MESSAGES} messages ({consumed - MESSAGES} redelivered by the rebalance);"
        f" dead letters {len(dead)} for {sum(outcomes.rejected.values())} rejections"
    )


def _rejected(value: bytes) -> bool:
    """Whether the pure pipeline dead-letters this message (on its first copy)."""
    c = classify(value, DEFAULT_RULE, Limits())
    return isinstance(c, Rejected) or (
        isinstance(c, Classified) and isinstance(c.outcome, Rejected)
    )
