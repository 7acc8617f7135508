"""``lineage-processor rebuild``: the graph rebuilt from the log into a new
generation equals the live one, the switch moves the live workers without a
restart, and an interrupted rebuild leaves the current generation untouched."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
import redis

from processor.cli.graph import delete_message
from processor.core.control import DeleteRequest, parse_control
from processor.core.fold import Graph
from processor.core.rules import MixRule
from processor.core.snapshot import snapshot_hash
from tests.events import ol_event
from tests.integration.conftest import Stack, expected_graph
from tests.integration.kafka_utils import produce
from tests.integration.streams import expected_graph_of, mixed_stream

pytestmark = [pytest.mark.integration, pytest.mark.redis]

SF, PG, S3 = "snowflake://acme", "postgres://db", "s3://lake"


def _stream(n: int, seed: int = 7) -> tuple[list[tuple[bytes, bytes]], list[bytes]]:
    """``n`` events (with duplicates, START events and all-external ones) and a
    few deletes whose times fall among the events'."""
    rng = random.Random(seed)
    internal = [(SF, f"T{i}") for i in range(12)]
    external = [(PG, f"src{i}") for i in range(8)] + [(S3, f"out{i}") for i in range(6)]
    events: list[tuple[bytes, bytes]] = []
    for i in range(n):
        day = 1 + i * 27 // n
        when = f"2026-03-{day:02d}T{rng.randrange(24):02d}:00:00Z"
        kind = rng.random()
        if kind < 0.1 and events:
            events.append(rng.choice(events))  # an exact duplicate
            continue
        if kind < 0.2:
            ins, outs = [rng.choice(external)], [rng.choice(external)]  # external only
        else:
            ins = rng.sample(external, 2) if rng.random() < 0.5 else [rng.choice(internal)]
            outs = [rng.choice(internal)] if ins[0][0] != SF else [rng.choice(external)]
        job = (f"job{rng.randrange(10)}", "run")
        value = ol_event(
            job=job,
            inputs=ins,
            outputs=outs,
            event_time=when,
            event_type="START" if kind > 0.95 else "COMPLETE",
            run_id=f"00000000-0000-4000-8000-{i:012d}",
        )
        events.append((b"run:" + job[0].encode(), value))
    deletes = [
        json.dumps(delete_message([PG, "src1"], None, "2026-03-10T00:00:00Z")).encode(),
        json.dumps(delete_message(None, [SF, "T3"], "2026-03-20T00:00:00Z")).encode(),
        json.dumps(delete_message([SF, "T5"], [S3, "out2"], "2026-03-28T00:00:00Z")).encode(),
    ]
    return events, deletes


def _expected(values: list[bytes], deletes: list[bytes], rule: MixRule | None = None) -> str:
    graph: Graph = expected_graph(values, rule)
    for raw in deletes:
        request = parse_control(raw)
        assert isinstance(request, DeleteRequest)
        graph.delete(request)
    return snapshot_hash(graph.snapshot())


def _cli(stack: Stack, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "processor", *args],
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _keys(stack: Stack, generation: str) -> int:
    client = redis.Redis.from_url(stack.redis_url)
    try:
        return sum(1 for _ in client.scan_iter(match=f"{{{stack.prefix}:g{generation}}}:*"))
    finally:
        client.close()


def _hash(worker: Any) -> str:
    return str(worker.get_json("/api/v1/graph/snapshot?hash=1")["sha256"])


def test_rebuild_verifies_then_switches_and_the_worker_follows(stack: Stack) -> None:
    # The scale-out tests' stream and seed (test_scale_out.py): the live hash,
    # the --verify hash and the rebuilt hash here all equal the pure fold's,
    # which is also what two workers on six partitions build there.
    stream = mixed_stream(4, 3000)
    events, deletes = stream.events, stream.deletes
    worker = stack.start_worker()
    produce(stack.bootstrap, stack.input_topic, events)
    produce(stack.bootstrap, stack.control_topic, [(None, d) for d in deletes])
    worker.wait_for(
        lambda: (
            worker.metric("lineage_events_consumed_total", topic=stack.input_topic) == len(events)
            and worker.metric("lineage_deletes_applied_total") == len(deletes)
        ),
        timeout=120,
    )
    want = snapshot_hash(expected_graph_of([v for _, v in events], deletes).snapshot())
    assert worker.metric("lineage_events_duplicate_total") > 0  # it has duplicates
    assert _hash(worker) == want

    verify = _cli(stack, "rebuild", "--verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert f"current generation 1: {want}" in verify.stdout
    assert f"rebuilt from the log:  {want}" in verify.stdout
    assert _keys(stack, "2") == 0  # verify drops what it built

    done = _cli(stack, "rebuild")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "switched to generation 3" in done.stdout
    worker.wait_for(lambda: worker.metric("lineage_generation") == 3, timeout=10)
    assert _hash(worker) == want
    assert _keys(stack, "1") == 0  # the old generation is gone

    # The live worker folds new events into the new generation.
    more = [(b"k", ol_event(job=("late", "job"), inputs=[(PG, "late")], outputs=[(SF, "LATE")]))]
    produce(stack.bootstrap, stack.input_topic, more)
    expected_now = snapshot_hash(
        expected_graph_of([v for _, v in [*events, *more]], deletes).snapshot()
    )
    worker.wait_for(lambda: _hash(worker) == expected_now, timeout=30)


def test_rebuild_with_another_rule_gives_that_rules_graph(stack: Stack, tmp_path: Any) -> None:
    events, deletes = _stream(600, seed=11)
    worker = stack.start_worker()
    produce(stack.bootstrap, stack.input_topic, events)
    produce(stack.bootstrap, stack.control_topic, [(None, d) for d in deletes])
    worker.wait_for(
        lambda: (
            worker.metric("lineage_events_consumed_total", topic=stack.input_topic) == len(events)
        ),
        timeout=120,
    )
    overrides = tmp_path / "rule.env"
    overrides.write_text("# the rule off\nLINEAGE_MIX_RULE=any\n")
    done = _cli(stack, "rebuild", "--settings", str(overrides))
    assert done.returncode == 0, done.stdout + done.stderr
    want = _expected([v for _, v in events], deletes, MixRule("any", ["snowflake://*"]))
    worker.wait_for(lambda: _hash(worker) == want, timeout=20)


def test_an_interrupted_rebuild_leaves_the_current_generation_serving(stack: Stack) -> None:
    events, deletes = _stream(3000, seed=3)
    worker = stack.start_worker()
    produce(stack.bootstrap, stack.input_topic, events)
    produce(stack.bootstrap, stack.control_topic, [(None, d) for d in deletes])
    worker.wait_for(
        lambda: (
            worker.metric("lineage_events_consumed_total", topic=stack.input_topic) == len(events)
        ),
        timeout=120,
    )
    want = _hash(worker)
    rng = random.Random(5)
    # Random points: while the consumer starts, mid-fold, and after a switch.
    lock = f"{stack.prefix}:rebuild:lock"
    client = redis.Redis.from_url(stack.redis_url)
    outputs: list[str] = []
    for sig in (signal.SIGINT, signal.SIGKILL, signal.SIGKILL, signal.SIGINT, signal.SIGKILL):
        # A killed rebuild's lock outlives it by at most 15 s.
        worker.wait_for(lambda: not client.exists(lock), timeout=30)
        proc = subprocess.Popen(
            [sys.executable, "-m", "processor", "rebuild"],
            env=stack.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        time.sleep(rng.uniform(0.3, 2.5))
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=60)
        outputs.append(
            f"--- {sig!r} ---\n"
            + "\n".join(
                line
                for line in out.splitlines()
                if "dead-lettered" not in line and " INFO " not in line
            )
        )
        assert _hash(worker) == want, out
        if sig == signal.SIGINT and proc.returncode == 130:
            assert "untouched" in out or "after the switch" in out
    # The next rebuild clears what the killed one left and completes.
    worker.wait_for(lambda: not client.exists(lock), timeout=30)
    client.close()
    done = _cli(stack, "rebuild")
    assert done.returncode == 0, done.stdout + done.stderr
    worker.wait_for(lambda: _hash(worker) == want, timeout=20)
    generation = str(int(worker.metric("lineage_generation")))
    client = redis.Redis.from_url(stack.redis_url)
    try:
        keys = [key.decode() for key in client.scan_iter(match=f"{{{stack.prefix}:g*")]
    finally:
        client.close()
    gens = {key.split("}")[0].split(":g")[-1] for key in keys}
    assert gens == {generation}, "\n".join(outputs) + done.stdout


def test_a_rebuild_under_live_traffic_misses_nothing_and_queries_keep_answering(
    stack: Stack,
) -> None:
    import threading

    events, deletes = _stream(2000, seed=21)
    first, rest = events[:1000], events[1000:]
    worker = stack.start_worker()
    produce(stack.bootstrap, stack.input_topic, first)
    produce(stack.bootstrap, stack.control_topic, [(None, d) for d in deletes])
    worker.wait_for(
        lambda: (
            worker.metric("lineage_events_consumed_total", topic=stack.input_topic) == len(first)
        ),
        timeout=120,
    )
    # A dataset present from the start, to query throughout.
    root = worker.get_json("/api/v1/graph/snapshot")["edges"][0]["source"]
    statuses: list[int] = []
    stop = threading.Event()

    def query() -> None:
        path = f"/api/v1/graph/downstream?namespace={root['namespace']}&name={root['name']}&depth=3"
        while not stop.is_set():
            statuses.append(worker.http_get(path)[0])
            time.sleep(0.02)

    def publish() -> None:
        for i in range(0, len(rest), 50):
            produce(stack.bootstrap, stack.input_topic, rest[i : i + 50])
            time.sleep(0.1)

    reader = threading.Thread(target=query)
    writer = threading.Thread(target=publish)
    reader.start()
    writer.start()
    try:
        time.sleep(0.5)
        done = _cli(stack, "rebuild")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "switched to generation 2" in done.stdout
        writer.join(timeout=120)
        worker.wait_for(
            lambda: (
                worker.metric("lineage_events_consumed_total", topic=stack.input_topic)
                == len(events)
            ),
            timeout=120,
        )
        time.sleep(1.0)
    finally:
        stop.set()
        writer.join(timeout=120)
        reader.join(timeout=30)
    assert worker.metric("lineage_generation") == 2
    # Everything the live worker saw before, during and after the switch.
    assert _hash(worker) == _expected([v for _, v in events], deletes)
    assert statuses
    assert set(statuses) == {200}, sorted(set(statuses))
