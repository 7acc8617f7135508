"""Rebalances while batches are in flight on the hot path (whole fetches past
faust's per-message path, ``processor.hot_path``): a worker joins, a worker is
SIGTERMed, a worker is SIGKILLed, each while a stream keeps arriving on a
6-partition topic and two workers share it.

Each scenario checks, on the real broker and Redis:

* **no offset is ever committed past an unfolded record**: a watcher reads the
  group's committed offsets over and over while the scenario runs, and every
  valid message below a committed offset must already have its dedup mark in
  Redis (set in the same Lua call as its fold; a dead letter's mark only after
  the broker acknowledged the letter);
* **no edge is lost and none double-counted**: once everything is committed,
  the books balance (``accounting.check_accounting``) and every edge's
  ``events`` equals the pure fold's.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import redis

from processor.adapters.kafka_admin import create_topics
from processor.core.pipeline import Classified, Limits, classify
from tests.integration.accounting import DEFAULT_RULE, Sent, check_accounting
from tests.integration.conftest import Stack
from tests.integration.dedup_marks import dedup_marks
from tests.integration.faults import (
    WAIT,
    Feeder,
    consumed,
    edge_event_counts,
    expected_snapshot,
    poll_until,
    spawn_worker,
    wait_committed,
)
from tests.integration.harness import WorkerProcess
from tests.integration.kafka_utils import committed_offsets
from tests.integration.streams import mixed_stream

PARTITIONS = 6
ENV = {"LINEAGE_BATCH_SIZE": "100"}


class CommitWatcher(threading.Thread):
    """Checks, again and again, that every valid message below the group's
    committed offset of its partition is marked seen in Redis."""

    def __init__(self, stack: Stack, topic: str, feeder: Feeder, values: Sequence[bytes]) -> None:
        super().__init__(daemon=True, name="commit-watcher")
        self.stack = stack
        self.topic = topic
        self.feeder = feeder
        # content hash per message (None: rejected before dedup, no mark)
        self.hashes = [
            c.content_hash if isinstance(c := classify(v, DEFAULT_RULE, Limits()), Classified)
            else None
            for v in values
        ]  # fmt: skip
        self.stop = threading.Event()
        self.checked = 0  # messages found marked below a committed offset, summed over rounds
        self.violations: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        client = redis.Redis.from_url(self.stack.redis_url)
        try:
            while not self.stop.is_set():
                self.check_once(client)
                time.sleep(0.1)
        except BaseException as exc:
            self.error = exc
        finally:
            client.close()

    def check_once(self, client: redis.Redis) -> None:
        committed = committed_offsets(self.stack.bootstrap, self.stack.group, self.topic)
        below: list[tuple[int, int, str]] = []
        for i, (partition, offset, _) in enumerate(list(self.feeder.produced)):
            digest = self.hashes[i]
            if digest is not None and offset < committed.get(partition, 0):
                below.append((partition, offset, digest))
        if not below:
            return
        marks = dedup_marks(client, self.stack.prefix, [d for _, _, d in below])
        for (partition, offset, _), mark in zip(below, marks, strict=True):
            if not mark:
                self.violations.append(
                    f"offset {committed[partition]} committed on partition {partition}, "
                    f"but the message at {offset} is not folded"
                )
        self.checked += len(below)

    def finish(self) -> None:
        self.stop.set()
        self.join(30)
        assert self.error is None, f"the watcher failed: {self.error!r}"
        assert not self.violations, "\n".join(self.violations[:10])
        assert self.checked, "the watcher never saw a committed offset: it proved nothing"


def _topic(stack: Stack) -> str:
    topic = f"events6.{stack.prefix}"
    asyncio.run(create_topics(stack.bootstrap, [topic], PARTITIONS))
    return topic


def _scenario(stack: Stack, seed: int, disturb: str) -> None:
    topic = _topic(stack)
    stream = mixed_stream(seed, 2400)
    env = {"LINEAGE_INPUT_TOPICS": topic, **ENV}
    feeder = Feeder(stack.bootstrap, topic, stream.events, chunk=60, pause=0.25)
    control = Feeder(
        stack.bootstrap, stack.control_topic, [(None, v) for v in stream.deletes], chunk=1, pause=2
    )
    watcher = CommitWatcher(stack, topic, feeder, [v for _, v in stream.events])
    first = stack.start_worker(**env)
    second = stack.start_worker(**env)
    feeder.start()
    control.start()
    watcher.start()
    workers: list[WorkerProcess] = [first, second]

    def busy(worker: WorkerProcess, at_least: int) -> None:
        poll_until(lambda: consumed(worker, topic) >= at_least, WAIT, "records", workers)

    busy(first, 200)
    busy(second, 1)
    if disturb == "sigterm":
        code = first.terminate()  # batches in flight: settles, commits what is durable
        assert code == 0, first.describe()
    elif disturb == "sigkill":
        first.kill()  # batches in flight: lost with the process, committed nothing of them
    survivors = [second]
    # the survivor takes every partition; then a worker joins while it is busy
    busy(second, consumed(second, topic) + 200)
    third = spawn_worker(stack, **env)
    third.wait_ready(timeout=WAIT)
    survivors.append(third)
    events: Sent = feeder.sent()
    deletes: Sent = control.sent()
    wait_committed(stack, [events, deletes], survivors)
    watcher.finish()
    check_accounting(
        survivors,
        events,
        control=deletes,
        bootstrap=stack.bootstrap,
        dlq_topic=stack.dlq_topic,
        exactly_once=False,
    )
    served = third.get_json("/api/v1/graph/snapshot")
    assert edge_event_counts(served) == edge_event_counts(expected_snapshot(events, deletes))
    print(
        f"\n{disturb}: {len(events.values)} events; {watcher.checked} message checks below"
        f" committed offsets, none unfolded; consumed by the survivors"
        f" {[consumed(w, topic) for w in survivors]}"
    )


def test_a_worker_sigtermed_with_batches_in_flight_then_one_joining(stack: Stack) -> None:
    _scenario(stack, 31, "sigterm")


def test_a_worker_sigkilled_with_batches_in_flight_then_one_joining(stack: Stack) -> None:
    _scenario(stack, 32, "sigkill")
