"""Crashes lose nothing and count nothing twice: a worker SIGKILLed mid-stream,
twice, and then many times at random points while a stream and deletes keep
arriving, ends with the books balanced (``accounting.check_accounting``) and the
snapshot of an undisturbed run (the pure fold's).

Outages of Redis are in ``test_faults_redis.py``; of the broker's dead-letter
topic, and a worker killed during a rebalance, in ``test_faults_kafka.py``.
"""

from __future__ import annotations

import os
import random
import time

from processor.samples import realistic_mix
from tests.integration.accounting import Sent, check_accounting, expect
from tests.integration.conftest import Stack
from tests.integration.faults import (
    WAIT,
    Feeder,
    consumed,
    edge_event_counts,
    expected_snapshot,
    spawn_worker,
    wait_committed,
)
from tests.integration.harness import WorkerProcess
from tests.integration.kafka_utils import produce
from tests.integration.streams import mixed_stream

KILL_SEED = int(os.environ.get("FAULT_SEED", "20261121"))
KILLS = 9


def test_sigkill_mid_stream_then_restart_gives_the_undisturbed_snapshot(stack: Stack) -> None:
    messages = realistic_mix(3000, seed=7)
    values = [v for _, v in messages]

    produced = produce(stack.bootstrap, stack.input_topic, messages[:1500], partition=0)
    worker = stack.start_worker(LINEAGE_BATCH_SIZE="100")
    worker.wait_for(lambda: consumed(worker, stack.input_topic) >= 300, timeout=WAIT)
    worker.kill()  # SIGKILL in the middle of the stream
    produced += produce(stack.bootstrap, stack.input_topic, messages[1500:], partition=0)
    worker = stack.start_worker(LINEAGE_BATCH_SIZE="100")
    worker.wait_for(lambda: consumed(worker, stack.input_topic) >= 200, timeout=WAIT)
    worker.kill()  # and once more
    worker = stack.start_worker(LINEAGE_BATCH_SIZE="100")

    events = Sent.of(stack.input_topic, values, produced)
    want = expect(events)
    # the mix has both kinds of dead letter, or this test proves little
    assert want.by_position
    assert want.by_hash
    wait_committed(stack, [events], [worker])
    check_accounting(
        [worker], events, bootstrap=stack.bootstrap, dlq_topic=stack.dlq_topic, exactly_once=False
    )


def test_a_worker_sigkilled_at_random_points_many_times_loses_and_double_counts_nothing(
    stack: Stack,
) -> None:
    """Nine SIGKILLs at random points (seeded: ``FAULT_SEED``) while events and
    deletes trickle in: some during start-up or the group join, most soon after
    a batch went through. Each restart resumes from the last committed offset,
    so records processed but not committed are processed again; the dedup marks
    and the batch tokens must make that invisible in the graph (every edge's
    ``events`` equals the pure fold's), and every dead letter must be there."""
    rng = random.Random(KILL_SEED)
    print(f"\nSIGKILL scenario seed {KILL_SEED} (FAULT_SEED to change it)")
    stream = mixed_stream(KILL_SEED % 1000, 3000)
    env = {"LINEAGE_BATCH_SIZE": "50"}
    events_feed = Feeder(stack.bootstrap, stack.input_topic, stream.events, chunk=50, pause=0.8)
    control_feed = Feeder(
        stack.bootstrap, stack.control_topic, [(None, v) for v in stream.deletes], chunk=1, pause=3
    )
    started = time.monotonic()
    events_feed.start()
    control_feed.start()

    processed_by_killed = 0  # a lower bound: scraped just before each kill
    kills: list[str] = []
    for i in range(KILLS):
        worker = spawn_worker(stack, **env)
        if rng.random() < 0.25:
            # before it is ready: while it starts, joins the group or fetches
            delay = rng.uniform(0.5, 4.0)
            time.sleep(delay)
            point = f"{delay:.2f}s after spawn"
        else:
            # Soon after a batch went through: its offsets are committed once
            # a second, so what it processed last is likely not committed yet.
            worker.wait_ready(timeout=WAIT)
            more = rng.randint(1, 400)
            base = _processed(worker, stack)
            deadline = time.monotonic() + 10
            while _processed(worker, stack) < base + more and time.monotonic() < deadline:
                time.sleep(0.02)
            delay = rng.uniform(0.0, 0.5)
            time.sleep(delay)
            point = f"{delay:.2f}s after {more}+ more records"
        processed_by_killed += _processed(worker, stack)
        worker.kill()
        kills.append(f"kill {i + 1}: {point}, fed {events_feed.progress}")
    print("\n".join(kills))
    events = events_feed.sent()
    control = control_feed.sent()

    final = stack.start_worker(**env)
    wait_committed(stack, [events, control], [final])
    books = check_accounting(
        [final],
        events,
        control=control,
        bootstrap=stack.bootstrap,
        dlq_topic=stack.dlq_topic,
        exactly_once=False,
    )
    sent = len(events.values) + len(control.values)
    processed = processed_by_killed + books.totals["consumed"]
    # Records were redelivered after the kills, or this run proved little...
    assert processed > sent, (processed, sent, kills)
    # ...and yet no event is counted twice: each edge's event count is the pure fold's.
    served = final.get_json("/api/v1/graph/snapshot")
    assert edge_event_counts(served) == edge_event_counts(expected_snapshot(events, control))
    print(
        f"{KILLS} kills in {time.monotonic() - started:.1f}s; {processed}+ records processed"
        f" for {sent} sent; {len(books.dead_letters)} dead letters for"
        f" {expect(events, control).dead_letters} rejections"
    )


def _processed(worker: WorkerProcess, stack: Stack) -> int:
    """Records the worker has processed (0 when it does not answer yet)."""
    try:
        return consumed(worker, stack.input_topic) + consumed(worker, stack.control_topic)
    except OSError:
        return 0
