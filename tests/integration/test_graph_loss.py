"""When Redis loses the graph (docs/operations.md, "When Redis loses data"):
the worker detects it within seconds, says it (``lineage_graph_lost``,
``lineage_graph_losses_total``, ``/readyz`` 503 with the reason, an ERROR
line), and heals it from the log while it keeps consuming, or halts until an
operator's rebuild. Each scenario ends with the accounting check and the pure
fold's snapshot hash. Redis's eviction policy is checked at start-up, and a
rebuild refuses a log whose beginning retention deleted (simulated: the test
broker can not delete records).

Every scenario disturbs a private Redis from ``redis_factory``. The rebuild
lock is held by the test (``P:rebuild:lock``, set in the same transaction as
the ``FLUSHALL``) where the outage must last long enough to be observed: a
worker that finds the graph lost waits for the lock like a second worker
would, and heals once the test lets go of it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
import redis
import redis.asyncio as aioredis

from processor.adapters.log_reader import LogReader
from processor.adapters.redis_generations import Generations
from processor.adapters.redis_graph_marker import GraphMarker
from processor.cli import main as cli_main
from processor.devstack.services import RunningService
from tests.integration.accounting import Sent, check_accounting, expect
from tests.integration.conftest import Stack
from tests.integration.faults import WAIT, Feeder, consumed, poll_until, spawn_worker
from tests.integration.harness import WorkerProcess
from tests.integration.kafka_utils import produce
from tests.integration.streams import mixed_stream

pytestmark = [pytest.mark.integration, pytest.mark.redis]

DETECT_S = 10.0  # "within seconds": the check runs every second


def _env(service: RunningService, **extra: str) -> dict[str, str]:
    return {
        "LINEAGE_REDIS_URL": service.address,
        "LINEAGE_REDIS_TIMEOUT_SECONDS": "1",
        "LINEAGE_RETRY_MAX_BACKOFF_SECONDS": "1",
        "LINEAGE_BATCH_SIZE": "50",
        **extra,
    }


def _lost(worker: WorkerProcess) -> float:
    return worker.metric("lineage_graph_lost")


def _losses(worker: WorkerProcess) -> float:
    return worker.metric("lineage_graph_losses_total")


def _client(service: RunningService) -> redis.Redis:
    return redis.Redis.from_url(service.address)


def _flush_holding_the_lock(service: RunningService, stack: Stack) -> None:
    """FLUSHALL, and hold the rebuild lock from that very moment on."""
    client = _client(service)
    try:
        pipe = client.pipeline(transaction=True)
        pipe.flushall()
        pipe.set(f"{stack.prefix}:rebuild:lock", "held-by-the-test", px=120_000)
        pipe.execute()
    finally:
        client.close()


def _release_lock(service: RunningService, stack: Stack) -> None:
    client = _client(service)
    try:
        client.delete(f"{stack.prefix}:rebuild:lock")
    finally:
        client.close()


def _observe_outage(workers: list[WorkerProcess]) -> dict[str, object]:
    """Wait until every worker says the graph is lost; what ``/readyz`` says."""
    started = time.monotonic()
    for worker in workers:
        poll_until(lambda w=worker: _lost(w) == 1, DETECT_S, "lineage_graph_lost = 1", workers)
    seconds = time.monotonic() - started
    assert seconds < DETECT_S
    status, body = workers[0].http_get("/readyz")
    assert status == 503
    answer = json.loads(body)
    assert answer["checks"]["graph"] is False
    assert answer["checks"]["redis"] is True
    assert "the graph is lost" in answer["reasons"]["graph"]
    for worker in workers:
        assert _losses(worker) == 1
        # a loss, not an outage: the batches go through
        poll_until(
            lambda w=worker: w.metric("lineage_dependency_down", dependency="redis") == 0,
            30,
            "dependency_down{redis} = 0",
            workers,
        )
    return dict(answer)


def _healed(workers: list[WorkerProcess], timeout: float = WAIT) -> None:
    for worker in workers:
        poll_until(lambda w=worker: _lost(w) == 0, timeout, "lineage_graph_lost = 0", workers)
        poll_until(lambda w=worker: w.http_get("/readyz")[0] == 200, 30, "/readyz 200", workers)


def _error_lines(worker: WorkerProcess) -> list[str]:
    text = worker.log_path.read_text(encoding="utf-8", errors="replace")
    return [line for line in text.splitlines() if "Redis lost the graph" in line]


def _cli(stack: Stack, service: RunningService, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "processor", *args],
        env=stack.env(**_env(service)),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_flushall_mid_stream_is_detected_said_and_healed_while_consuming(
    stack: Stack, redis_factory: Callable[..., RunningService]
) -> None:
    service = redis_factory()
    stream = mixed_stream(31, 1600)
    worker = stack.start_worker(**_env(service))
    control = Sent.of(
        stack.control_topic,
        stream.deletes,
        produce(stack.bootstrap, stack.control_topic, [(None, v) for v in stream.deletes]),
    )
    produced = produce(stack.bootstrap, stack.input_topic, stream.events[:800])
    worker.wait_for(lambda: consumed(worker, stack.input_topic) >= 800, timeout=WAIT)

    _flush_holding_the_lock(service, stack)
    _observe_outage([worker])
    # the stream goes on; the worker keeps consuming into the partial graph
    produced += produce(stack.bootstrap, stack.input_topic, stream.events[800:])
    worker.wait_for(lambda: consumed(worker, stack.input_topic) >= 1600, timeout=WAIT)
    assert _lost(worker) == 1
    assert worker.http_get("/readyz")[0] == 503
    _release_lock(service, stack)

    events = Sent.of(stack.input_topic, [v for _, v in stream.events], produced)
    _healed([worker])
    # Redis lost the dedup marks too: copies after the loss count again, and
    # rule-rejected ones are dead-lettered again; the graph is the pure fold's.
    check_accounting(
        [worker],
        events,
        control=control,
        bootstrap=stack.bootstrap,
        dlq_topic=stack.dlq_topic,
        exactly_once=False,
    )
    lines = _error_lines(worker)
    assert len(lines) == 1
    assert "ERROR" in lines[0]
    assert "marker is gone" in lines[0]
    assert _losses(worker) == 1


def test_redis_restarted_without_persistence_is_healed(
    stack: Stack, redis_factory: Callable[..., RunningService]
) -> None:
    service = redis_factory()  # no AOF, no RDB: a restart comes back empty
    stream = mixed_stream(32, 1200)
    worker = stack.start_worker(**_env(service))
    feeder = Feeder(stack.bootstrap, stack.input_topic, stream.events, chunk=100, pause=0.3)
    feeder.start()
    worker.wait_for(lambda: consumed(worker, stack.input_topic) >= 300, timeout=WAIT)

    # The worker is stopped across the restart so that the test takes the
    # rebuild lock before the worker's first check can start a rebuild.
    assert worker.pid is not None
    os.kill(worker.pid, signal.SIGSTOP)
    try:
        service.restart()
        client = _client(service)
        try:
            assert client.dbsize() == 0  # the restart lost everything
            assert client.set(f"{stack.prefix}:rebuild:lock", "held-by-the-test", px=120_000)
        finally:
            client.close()
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    _observe_outage([worker])
    events = feeder.sent()
    _release_lock(service, stack)
    _healed([worker])
    check_accounting(
        [worker],
        events,
        bootstrap=stack.bootstrap,
        dlq_topic=stack.dlq_topic,
        exactly_once=False,
    )


def test_a_worker_started_against_an_emptied_redis_heals_before_it_is_ready(
    stack: Stack, redis_factory: Callable[..., RunningService]
) -> None:
    service = redis_factory()
    stream = mixed_stream(33, 600)
    first = stack.start_worker(**_env(service))
    produced = produce(stack.bootstrap, stack.input_topic, stream.events)
    events = Sent.of(stack.input_topic, [v for _, v in stream.events], produced)
    check_accounting([first], events, bootstrap=stack.bootstrap, dlq_topic=stack.dlq_topic)
    assert first.terminate() == 0  # commits on the way out

    _flush_holding_the_lock(service, stack)
    second = spawn_worker(stack, **_env(service))
    _observe_outage([second])
    assert any("durable up to" in line for line in _error_lines(second))
    _release_lock(service, stack)
    _healed([second])
    # nothing redelivered: the group had committed everything; the rebuild
    # brought the graph back
    got = second.get_json("/api/v1/graph/snapshot?hash=1")["sha256"]
    assert got == expect(events).snapshot_hash
    assert consumed(second, stack.input_topic) == 0
    # the rebuild met the stream's broken messages but wrote (and said) no dead letter
    assert "dead-lettered" not in second.log_path.read_text(encoding="utf-8")
    assert "dead-lettered" in first.log_path.read_text(encoding="utf-8")


def test_halt_folds_nothing_until_an_operators_rebuild(
    stack: Stack, redis_factory: Callable[..., RunningService]
) -> None:
    service = redis_factory()
    stream = mixed_stream(34, 900)
    worker = stack.start_worker(**_env(service, LINEAGE_ON_GRAPH_LOSS="halt"))
    first = produce(stack.bootstrap, stack.input_topic, stream.events[:400])
    worker.wait_for(lambda: consumed(worker, stack.input_topic) >= 400, timeout=WAIT)

    client = _client(service)
    try:
        client.flushall()
    finally:
        client.close()
    answer = _observe_outage([worker])
    assert "halted until an operator rebuilds it" in str(answer["reasons"])
    rest = produce(stack.bootstrap, stack.input_topic, stream.events[400:])
    halted_at = consumed(worker, stack.input_topic)
    time.sleep(3)  # batches of the rest wait instead of folding
    assert consumed(worker, stack.input_topic) == halted_at
    assert halted_at < len(stream.events)
    assert _lost(worker) == 1

    done = _cli(stack, service, "rebuild")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "switched to generation" in done.stdout
    _healed([worker])
    events = Sent.of(stack.input_topic, [v for _, v in stream.events], first + rest)
    check_accounting(
        [worker], events, bootstrap=stack.bootstrap, dlq_topic=stack.dlq_topic, exactly_once=False
    )


def test_two_workers_one_heals_the_other_waits(
    stack: Stack, redis_factory: Callable[..., RunningService]
) -> None:
    service = redis_factory()
    stream = mixed_stream(35, 1000)
    workers = [stack.start_worker(**_env(service)) for _ in range(2)]
    feeder = Feeder(stack.bootstrap, stack.input_topic, stream.events, chunk=100, pause=0.3)
    feeder.start()
    poll_until(
        lambda: sum(consumed(w, stack.input_topic) for w in workers) >= 300, WAIT, "300", workers
    )
    _flush_holding_the_lock(service, stack)
    _observe_outage(workers)
    _release_lock(service, stack)
    events = feeder.sent()
    _healed(workers)
    check_accounting(
        workers, events, bootstrap=stack.bootstrap, dlq_topic=stack.dlq_topic, exactly_once=False
    )
    logs = [w.log_path.read_text(encoding="utf-8", errors="replace") for w in workers]
    # one rebuild switched (logged at the switch); the other worker waited for it
    assert sorted(text.count("switched to generation") for text in logs) == [0, 1]
    assert all("healing waits: another rebuild is running" in text for text in logs)


def test_a_redis_that_may_evict_is_refused_unless_allowed(
    stack: Stack, redis_factory: Callable[..., RunningService]
) -> None:
    service = redis_factory()
    client = _client(service)
    try:
        client.config_set("maxmemory-policy", "allkeys-lru")
    finally:
        client.close()
    refused = subprocess.run(
        [sys.executable, "-m", "processor", "worker"],
        env=stack.env(**_env(service)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert "maxmemory-policy is allkeys-lru" in lines[0]
    assert "LINEAGE_ALLOW_REDIS_EVICTION" in lines[0]

    worker = stack.start_worker(**_env(service, LINEAGE_ALLOW_REDIS_EVICTION="true"))
    assert "running anyway" in worker.log_path.read_text(encoding="utf-8")


def _log_starting_at(monkeypatch: pytest.MonkeyPatch, topic: str, start: int) -> None:
    """Make every ``LogReader`` of this process find ``topic`` beginning at
    ``start``, as after retention deleted the offsets below it: the test broker
    (Tansu 0.6, memory storage) can not delete records (its DeleteRecords
    panics, "not yet implemented") and applies no retention. The reader still
    reads the real broker from there on."""
    real_start = LogReader.start

    async def start_at(self: LogReader) -> None:
        await real_start(self)
        for tp in self.partitions:
            if tp.topic == topic:
                self._consumer.seek(tp, start)
                self.beginnings[tp] = self.positions[tp] = start

    monkeypatch.setattr(LogReader, "start", start_at)


def _run_cli(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    *args: str,
) -> tuple[int, str, str]:
    """``lineage-processor ARGS`` in this process (so that the reader above is
    the one it uses): exit code, stdout, stderr."""
    for name in [k for k in os.environ if k.startswith("LINEAGE_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        if name.startswith("LINEAGE_"):
            monkeypatch.setenv(name, value)
    capsys.readouterr()
    code = cli_main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_truncated_log_is_refused_then_allowed(
    stack: Stack,
    redis_factory: Callable[..., RunningService],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    service = redis_factory()
    stream = mixed_stream(36, 400)
    worker = stack.start_worker(**_env(service))
    produced = produce(stack.bootstrap, stack.input_topic, stream.events)
    events = Sent.of(stack.input_topic, [v for _, v in stream.events], produced)
    check_accounting([worker], events, bootstrap=stack.bootstrap, dlq_topic=stack.dlq_topic)
    live = worker.get_json("/api/v1/graph/snapshot?hash=1")["sha256"]
    env = stack.env(**_env(service))

    _log_starting_at(monkeypatch, stack.input_topic, 120)
    code, out, err = _run_cli(monkeypatch, capsys, env, "rebuild")
    assert code == 1, out + err
    assert "120 messages are gone" in err
    assert f"{stack.input_topic}/0: 120" in err
    assert "--allow-truncated-log" in err
    assert worker.get_json("/api/v1/graph/snapshot?hash=1")["sha256"] == live

    code, out, err = _run_cli(monkeypatch, capsys, env, "rebuild", "--verify")
    assert "truncated log:" in out
    assert "120 messages are gone" in out
    assert code == 1  # a smaller graph: the hashes differ

    code, out, err = _run_cli(monkeypatch, capsys, env, "rebuild", "--allow-truncated-log")
    assert code == 0, out + err
    assert "switched to generation" in out
    rest = Sent(events.topic, events.values[120:], events.positions[120:])
    want = expect(rest).snapshot_hash
    assert want != live
    poll_until(
        lambda: worker.get_json("/api/v1/graph/snapshot?hash=1")["sha256"] == want,
        30,
        "the smaller graph served",
        [worker],
    )
    client = _client(service)
    try:
        origin = client.hgetall(f"{stack.prefix}:graph:origin")
    finally:
        client.close()
    assert origin[f"{stack.input_topic}/0".encode()] == b"120"
    # the smaller graph is the whole graph now: nothing lost, nothing to refuse
    assert _lost(worker) == 0
    code, out, err = _run_cli(monkeypatch, capsys, env, "rebuild", "--verify")
    assert code == 0, out + err
    assert "truncated log:" not in out


def test_the_switch_rewrites_the_marker_and_refuses_a_rebuild_older_than_the_loss(
    redis_factory: Callable[..., RunningService], key_prefix: str
) -> None:
    """``lua/switch.lua`` on a real Redis: a rebuild that began before the
    graph was found lost (its generation was wiped with the rest) may not
    switch; one that began knowing it may, and the switch writes the marker
    with the rebuild's first offsets and deletes the lost flag, atomically."""
    service = redis_factory()

    async def run() -> None:
        client = aioredis.Redis.from_url(service.address)
        generations = Generations(client, key_prefix)
        marker = GraphMarker(client, key_prefix)
        try:
            await client.set(f"{key_prefix}:generation", "1")
            await client.hset("{" + key_prefix + ":g1}:folded", "t/0", "99")
            await marker.flag_lost("the graph's marker is gone")
            positions, beginnings = {"t/0": 100, "c/0": 0}, {"t/0": 7, "c/0": 0}

            done, why = await generations.switch("1", "2", positions, beginnings)
            assert (done, why) == (False, "the graph was lost while this rebuild ran")
            assert await client.get(f"{key_prefix}:generation") == b"1"

            done, why = await generations.switch("1", "2", {"t/0": 99}, lost_known=True)
            assert (done, why) == (False, "t/0 is folded up to 99")  # not covered yet

            done, why = await generations.switch("1", "2", positions, beginnings, lost_known=True)
            assert (done, why) == (True, "")
            assert await client.get(f"{key_prefix}:generation") == b"2"
            state = await marker.state()
            assert state.lost is None
            assert state.origin == {"generation": "2", "t/0": "7", "c/0": "0"}
        finally:
            await client.aclose()

    asyncio.run(run())
