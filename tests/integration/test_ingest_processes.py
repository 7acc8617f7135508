"""Several gateway processes on one port (LINEAGE_INGEST_PROCESSES, docs/ingest.md
"Processes and replicas"), on the real broker."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import psutil
from aiokafka.partitioner import murmur2

from processor.adapters.kafka_admin import create_topics
from processor.devstack.services import RunningService
from tests.events import raw_dict, raw_event
from tests.integration.ingest_harness import GatewayProcess, pause_broker
from tests.integration.kafka_utils import read_topic

EVENT = "/api/v1/lineage"


def _gateway(broker: RunningService, topic: str, log: Path, **extra: str) -> GatewayProcess:
    asyncio.run(create_topics(broker.address, [topic], 2))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    env.update(
        LINEAGE_KAFKA_BOOTSTRAP=broker.address,
        LINEAGE_INPUT_TOPICS=topic,
        LINEAGE_INGEST_PROCESSES="2",
        **extra,
    )
    return GatewayProcess(env, log)


def _servers(gateway: GatewayProcess) -> list[psutil.Process]:
    """The gateway's serving processes: its children listening on the port."""
    assert gateway.pid is not None
    found = []
    for child in psutil.Process(gateway.pid).children():
        try:
            ports = {c.laddr.port for c in child.net_connections("tcp") if c.status == "LISTEN"}
        except psutil.Error:
            continue
        if gateway.web_port in ports:
            found.append(child)
    return found


def _ready(gateway: GatewayProcess) -> list[psutil.Process]:
    """Wait until both processes listen (the first answers /readyz already)."""
    gateway.wait_ready(timeout=60)

    def both() -> list[psutil.Process] | None:
        servers = _servers(gateway)
        return servers if len(servers) == 2 else None

    found = gateway.wait_for(both, timeout=30)
    assert found is not None
    return found


def _processes_answering(gateway: GatewayProcess, tries: int = 200) -> set[int]:
    """The pids /healthz names over new connections (the kernel spreads those)."""
    seen: set[int] = set()
    for _ in range(tries):
        status, body = gateway.http_get("/healthz")
        assert status == 200
        seen.add(orjson.loads(body)["process"])
        if len(seen) == 2:
            break
    return seen


def test_two_processes_share_the_port_and_sum_their_metrics(
    broker_factory: Callable[..., RunningService], tmp_path: Any
) -> None:
    broker = broker_factory()
    gateway = _gateway(broker, "procs.events", tmp_path / "gateway.log")
    gateway.start()
    try:
        servers = _ready(gateway)
        assert _processes_answering(gateway) == {s.pid for s in servers}

        names = [f"job-{i}" for i in range(60)]

        def send(name: str) -> int:
            body = raw_event(job={"namespace": "procs", "name": name})
            return gateway.request("POST", EVENT, body)[0]

        with ThreadPoolExecutor(6) as pool:  # urllib: a new connection per request
            assert set(pool.map(send, names)) == {201}
        records = read_topic(broker.address, "procs.events", expect=60, timeout=30)
        assert sorted(orjson.loads(r.value or b"")["job"]["name"] for r in records) == sorted(names)
        # Whichever process a scrape reaches counts the events both published.
        for _ in range(6):
            published = gateway.metric("lineage_ingest_events_published_total", route=EVENT)
            assert published == 60
        assert gateway.metric("lineage_ingest_requests_total", route=EVENT, status="201") == 60

        assert gateway.terminate(timeout=30) == 0
        for server in servers:
            assert not server.is_running() or server.status() == psutil.STATUS_ZOMBIE
    finally:
        gateway.kill()


def test_a_broker_outage_gives_no_2xx_from_either_process(
    broker_factory: Callable[..., RunningService], tmp_path: Any
) -> None:
    broker = broker_factory()
    topic = "procs-down.events"
    gateway = _gateway(
        broker, topic, tmp_path / "gateway.log", LINEAGE_INGEST_PUBLISH_TIMEOUT_SECONDS="1"
    )
    gateway.start()
    answers: dict[str, int] = {}

    def send(name: str) -> int:
        body = raw_event(job={"namespace": "down", "name": name})
        answers[name] = gateway.request("POST", EVENT, body, timeout=30)[0]
        return answers[name]

    try:
        _ready(gateway)
        with ThreadPoolExecutor(4) as pool:
            assert set(pool.map(send, [f"before-{i}" for i in range(20)])) == {201}
            pause_broker(broker)
            try:
                # 16 new connections: both processes take some (checked below).
                assert set(pool.map(send, [f"paused-{i}" for i in range(16)])) == {503}
            finally:
                broker.resume()
            gateway.wait_for(lambda: send(f"after-{len(answers)}") == 201, timeout=60)
            assert set(pool.map(send, [f"again-{i}" for i in range(20)])) == {201}
        acknowledged = {name for name, status in answers.items() if 200 <= status < 300}
        records = read_topic(broker.address, topic, expect=len(acknowledged), timeout=30)
        on_topic = {orjson.loads(r.value or b"")["job"]["name"] for r in records}
        assert acknowledged <= on_topic
        assert gateway.metric("lineage_ingest_events_published_total") == len(acknowledged)
        assert gateway.metric("lineage_ingest_publish_errors_total", kind="events") >= 16
        assert len(_processes_answering(gateway)) == 2
    finally:
        gateway.kill()


def test_a_dead_process_stops_the_gateway_and_orphans_stop_themselves(
    broker_factory: Callable[..., RunningService], tmp_path: Any
) -> None:
    broker = broker_factory()
    gateway = _gateway(broker, "procs-dead.events", tmp_path / "gateway.log")
    gateway.start()
    try:
        first, second = _ready(gateway)
        first.send_signal(signal.SIGKILL)
        # The parent does not run short-handed: it stops the other one and exits 1,
        # for its supervisor to restart the whole gateway.
        gateway.wait_for(lambda: gateway.returncode is not None, timeout=40)
        assert gateway.returncode == 1
        second.wait(timeout=40)

        gateway.start()
        servers = _ready(gateway)
        gateway.kill()  # SIGKILL: the parent can stop nobody
        deadline = time.monotonic() + 20
        for server in servers:
            server.wait(timeout=max(0.1, deadline - time.monotonic()))
    finally:
        gateway.kill()


def test_children_of_a_parent_killed_while_they_start_stop_themselves(
    broker_factory: Callable[..., RunningService], tmp_path: Any
) -> None:
    """A parent SIGKILLed before its children finished starting: by then they
    belong to init, so each must know its parent's pid from the parent, not
    from ``getppid`` once it runs."""
    broker = broker_factory()
    gateway = _gateway(broker, "procs-early.events", tmp_path / "gateway.log")
    gateway.start()
    try:
        assert gateway.pid is not None
        parent = psutil.Process(gateway.pid)

        def spawned() -> list[psutil.Process] | None:
            # the two servers and multiprocessing's resource tracker
            kids = parent.children()
            return kids if len(kids) >= 3 else None

        children = gateway.wait_for(spawned, timeout=30)
        assert children is not None
        assert not _servers(gateway)  # still starting: nobody listens yet
        gateway.kill()
        _, alive = psutil.wait_procs(children, timeout=30)
        assert alive == []
    finally:
        gateway.kill()


def test_a_batch_places_each_key_where_the_producer_would(
    broker_factory: Callable[..., RunningService], tmp_path: Any
) -> None:
    """The records of a batch go as one record batch per partition, each placed
    by the key as the producer's partitioner places a single send: the Java
    client's murmur2, positive, modulo the partitions (2 here)."""
    broker = broker_factory()
    topic = "procs-keys.events"
    gateway = _gateway(broker, topic, tmp_path / "gateway.log")
    gateway.start()
    try:
        _ready(gateway)
        jobs = [f"job-{i}" for i in range(12)]
        batch = [raw_dict(job={"namespace": "keys", "name": job}) for job in jobs for _ in range(5)]
        status, answer = gateway.call("POST", "/api/v1/lineage/batch", orjson.dumps(batch))
        assert (status, answer["summary"]["successful"]) == (200, 60)
        status, _ = gateway.call("POST", EVENT, raw_event(job={"namespace": "keys", "name": "x"}))
        assert status == 201
        records = read_topic(broker.address, topic, expect=61, timeout=30)
        assert len(records) == 61
        for record in records:
            assert record.key is not None
            assert (
                record.key
                == f"run:keys/{orjson.loads(record.value or b'')['job']['name']}".encode()
            )
            assert record.partition == (murmur2(record.key) & 0x7FFFFFFF) % 2
        assert {r.partition for r in records} == {0, 1}
    finally:
        gateway.kill()
