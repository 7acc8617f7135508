"""Redis outages are outages, never bad input: Redis paused (SIGSTOP), restarted
with its data in the AOF (cleanly, and SIGKILLed), and full at ``maxmemory``,
each while a stream is being consumed. The worker retries with backoff, says so
(``lineage_dependency_down{dependency="redis"}``, ``lineage_redis_errors_total``,
``/readyz``), dead-letters nothing for it and commits nothing past it; once Redis
is back, the books balance exactly (``check_accounting``: no worker restarted,
so nothing is redelivered) and the snapshot is the pure fold's.

Every scenario disturbs a private Redis from ``redis_factory``, never the
session's; the worker's ``LINEAGE_REDIS_URL`` points at it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from processor.adapters.redis_store import RedisGraphStore
from processor.devstack.services import RunningService
from processor.errors import RedisUnavailable
from processor.samples import realistic_mix
from tests.integration.accounting import Sent, check_accounting
from tests.integration.conftest import Stack
from tests.integration.faults import WAIT, Feeder, consumed, poll_until, wait_committed
from tests.integration.harness import WorkerProcess
from tests.integration.kafka_utils import committed_offsets, produce, read_topic
from tests.integration.streams import mixed_stream

pytestmark = [pytest.mark.integration, pytest.mark.redis]

ALERTS = Path(__file__).parents[2] / "deploy" / "prometheus" / "alerts.yml"
BATCH = 50


def _start(stack: Stack, service: RunningService) -> WorkerProcess:
    # Short Redis timeout and backoff cap, so that an outage is seen, and its
    # end noticed, within seconds on a busy machine.
    return stack.start_worker(
        LINEAGE_REDIS_URL=service.address,
        LINEAGE_REDIS_TIMEOUT_SECONDS="1",
        LINEAGE_RETRY_MAX_BACKOFF_SECONDS="1",
        LINEAGE_BATCH_SIZE=str(BATCH),
    )


def _redis_down(worker: WorkerProcess) -> float:
    return worker.metric("lineage_dependency_down", dependency="redis")


def _batch_errors(worker: WorkerProcess) -> float:
    return sum(
        worker.metric("lineage_redis_errors_total", operation=op)
        for op in ("seen", "fold", "deletes")
    )


def test_redis_paused_mid_stream_loses_nothing_and_dead_letters_nothing(
    stack: Stack, redis_factory: Callable[..., RunningService]
) -> None:
    service = redis_factory()
    messages = realistic_mix(2000, seed=11)
    worker = _start(stack, service)
    produced = produce(stack.bootstrap, stack.input_topic, messages[:1000], partition=0)
    worker.wait_for(lambda: consumed(worker, stack.input_topic) >= 1000, timeout=WAIT)

    service.pause()
    try:
        produced += produce(stack.bootstrap, stack.input_topic, messages[1000:], partition=0)
        poll_until(lambda: _redis_down(worker) == 1, 30, "dependency_down{redis} = 1", [worker])
        stalled = consumed(worker, stack.input_topic)
        assert stalled < len(messages)
        status, body = worker.http_get("/readyz")
        assert status == 503
        assert json.loads(body)["checks"]["redis"] is False
        time.sleep(2)
        # stopped at the failing batch: nothing past it counted as processed
        assert consumed(worker, stack.input_topic) == stalled
        assert _redis_down(worker) == 1
    finally:
        service.resume()

    events = Sent.of(stack.input_topic, [v for _, v in messages], produced)
    # Exactly once: the outage added no dead letter and no outcome.
    check_accounting([worker], events, bootstrap=stack.bootstrap, dlq_topic=stack.dlq_topic)
    assert _redis_down(worker) == 0
    assert worker.http_get("/readyz")[0] == 200
    assert _batch_errors(worker) >= 1  # it did retry, counted by the failing operation


def test_redis_restarted_and_sigkilled_mid_stream_keeps_every_edge_with_aof(
    stack: Stack, redis_factory: Callable[..., RunningService]
) -> None:
    """A Redis with ``appendfsync always`` (what ``start_redis`` sets for tests
    that crash it, and what the compose stack runs) has every acknowledged write
    on disk: a clean restart (SIGTERM) and a crash (SIGKILL, then start) in the
    middle of the stream both come back with every edge and dedup mark the
    worker was told about. With ``everysec`` a crash could lose the last second
    of folds whose offsets were already committed: edges lost for good."""
    service = redis_factory(appendonly=True, appendfsync="always")
    stream = mixed_stream(21, 2400)
    worker = _start(stack, service)
    control = Sent.of(
        stack.control_topic,
        stream.deletes,
        produce(stack.bootstrap, stack.control_topic, [(None, v) for v in stream.deletes]),
    )
    feeder = Feeder(stack.bootstrap, stack.input_topic, stream.events, chunk=100, pause=0.5)
    feeder.start()

    worker.wait_for(lambda: consumed(worker, stack.input_topic) >= 400, timeout=WAIT)
    service.restart()  # SIGTERM: Redis writes its AOF and stops; same port, same data
    after_restart = consumed(worker, stack.input_topic)
    worker.wait_for(
        lambda: consumed(worker, stack.input_topic) >= after_restart + 300, timeout=WAIT
    )

    service.kill()  # a crash, mid-stream
    poll_until(lambda: _redis_down(worker) == 1, 30, "dependency_down{redis} = 1", [worker])
    time.sleep(1)
    service.restart()  # reaps the killed process, starts it on the same port and dir
    events = feeder.sent()

    wait_committed(stack, [events, control], [worker])
    check_accounting(
        [worker], events, control=control, bootstrap=stack.bootstrap, dlq_topic=stack.dlq_topic
    )
    assert worker.running  # the worker rode out both, with no restart of its own
    assert _redis_down(worker) == 0
    assert _batch_errors(worker) >= 1


def test_redis_store_maps_out_of_memory_to_an_outage(
    redis_factory: Callable[..., RunningService],
) -> None:
    """What redis-py raises at ``maxmemory`` (noeviction): ``OutOfMemoryError``
    for a plain write; for the fold and delete scripts, a ``ResponseError``
    "Error running script ... -OOM command not allowed ..." from Redis 6.2 and
    an ``OutOfMemoryError`` "command not allowed ..." (its code stripped) from
    Redis 7. All must become ``RedisUnavailable`` (retried), never a reason to
    dead-letter, and read the same: "OOM command not allowed when used memory";
    reads keep working."""
    service = redis_factory()
    client = redis.Redis.from_url(service.address)
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory", used // 2)
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        client.set("k", "v")
    client.close()

    async def run() -> None:
        store = RedisGraphStore.from_url(service.address, timeout=5)
        try:
            payload = b'{"marks": [["ab", "a"]], "nodes": {}, "edges": []}'
            refused = "OOM command not allowed when used memory"
            with pytest.raises(RedisUnavailable, match=refused):
                await store.mark_and_fold(payload, "token")
            with pytest.raises(RedisUnavailable, match=refused):
                await store.apply_deletes([], {"t/0": 1})
            assert await store.seen(["ab"]) == [False]
        finally:
            await store.close()

    asyncio.run(run())


def test_redis_at_maxmemory_is_retried_alerted_and_recovered_without_dead_letters(
    stack: Stack, redis_factory: Callable[..., RunningService]
) -> None:
    service = redis_factory()  # noeviction: writes fail when full, nothing is evicted
    client = redis.Redis.from_url(service.address)
    messages = realistic_mix(2000, seed=5)
    worker = _start(stack, service)
    produced = produce(stack.bootstrap, stack.input_topic, messages[:800], partition=0)
    worker.wait_for(lambda: consumed(worker, stack.input_topic) == 800, timeout=WAIT)

    # Room for a little more: the rest of the stream (1,200 more dedup marks
    # alone) fills it.
    limit = int(client.info("memory")["used_memory"]) + 64 * 1024
    client.config_set("maxmemory", limit)
    errors_before = _batch_errors(worker)
    produced += produce(stack.bootstrap, stack.input_topic, messages[800:], partition=0)

    rules = _alert_rules()
    threshold = _threshold(rules["LineageRedisErrors"])
    poll_until(
        lambda: _redis_down(worker) == 1 and _batch_errors(worker) - errors_before > threshold,
        60,
        f"dependency_down{{redis}} = 1 and more than {threshold} Redis errors",
        [worker],
    )
    # Redis itself refused writes for memory (used memory hovers around the
    # limit: a refused batch's request no longer counts once it is dropped). A
    # plain write refused is an OOM in Redis's errorstats; a write refused
    # inside the fold script is counted there as the script's ERR, and its
    # "-OOM" text reaches the worker's log with the retry.
    refused = client.info("errorstats").get("errorstat_OOM", {}).get("count", 0)
    logged = "OOM command not allowed" in worker.log_path.read_text(errors="replace")
    assert refused > 0 or logged, client.info("errorstats")
    stalled = consumed(worker, stack.input_topic)
    assert stalled < len(messages)
    time.sleep(2)
    assert consumed(worker, stack.input_topic) == stalled
    assert worker.metric("lineage_redis_errors_total", operation="fold") > 0
    # Not committed past the failing batch (the one starting at offset ``stalled``),
    # and nothing dead-lettered from beyond the batch after it (whose letters
    # go out while the failing one folds: docs/architecture.md, the hot path).
    assert committed_offsets(stack.bootstrap, stack.group, stack.input_topic).get(0, 0) <= stalled
    dead = read_topic(stack.bootstrap, stack.dlq_topic)
    assert all(int(r.headers["lineage.source.offset"]) < stalled + 2 * BATCH for r in dead)
    # The alerts that page for this are driven by metrics that did move.
    assert "lineage_redis_errors_total" in rules["LineageRedisErrors"]["expr"]
    assert "lineage_dependency_down" in rules["LineageDependencyDown"]["expr"]
    status, _ = worker.http_get("/readyz")
    print(f"\nat maxmemory: stalled at {stalled}, /readyz {status}, OOM {refused}, logged {logged}")

    client.config_set("maxmemory", 0)  # memory freed (or added)
    events = Sent.of(stack.input_topic, [v for _, v in messages], produced)
    check_accounting([worker], events, bootstrap=stack.bootstrap, dlq_topic=stack.dlq_topic)
    assert _redis_down(worker) == 0
    client.close()


def _alert_rules() -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load(ALERTS.read_text())
    return {r["alert"]: r for group in doc["groups"] for r in group["rules"] if "alert" in r}


def _threshold(rule: dict[str, Any]) -> float:
    """The number a rule's expression compares against last (``... > 5``)."""
    found = re.findall(r">\s*([0-9.]+)", rule["expr"])
    assert found, rule["expr"]
    return float(found[-1])
