"""A 2xx from the gateway means the broker acknowledged the record: with the
broker stopped mid-stream every request gets a 503 with Retry-After, and every
event ever answered 2xx is on the topic."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from processor.adapters.kafka_admin import create_topics
from processor.devstack.services import RunningService
from tests.events import raw_event
from tests.integration.ingest_harness import GatewayProcess, pause_broker
from tests.integration.kafka_utils import read_topic

EVENT = "/api/v1/lineage"


def test_stopped_broker_gives_503s_and_every_2xx_is_on_the_topic(
    broker_factory: Callable[..., RunningService], tmp_path: Any
) -> None:
    broker = broker_factory()
    topic = "ingest-down.events"
    asyncio.run(create_topics(broker.address, [topic], 2))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    env.update(
        LINEAGE_KAFKA_BOOTSTRAP=broker.address,
        LINEAGE_INPUT_TOPICS=topic,
        LINEAGE_INGEST_PUBLISH_TIMEOUT_SECONDS="1",
    )
    gateway = GatewayProcess(env, tmp_path / "gateway.log")
    gateway.start()
    answers: dict[str, int] = {}  # job name -> status
    retry_after: set[str | None] = set()

    def send(name: str) -> int:
        body = raw_event(job={"namespace": "down", "name": name})
        status, headers, _ = gateway.request("POST", EVENT, body, timeout=30)
        answers[name] = status
        if status == 503:
            retry_after.add(headers.get("Retry-After"))
        return status

    try:
        gateway.wait_ready(timeout=60)
        with ThreadPoolExecutor(4) as pool:
            assert set(pool.map(send, [f"before-{i}" for i in range(40)])) == {201}
            pause_broker(broker)  # stopped mid-stream: connections open, nothing answers
            try:
                stopped = list(pool.map(send, [f"paused-{i}" for i in range(12)]))
                assert set(stopped) == {503}
                assert retry_after == {"5"}
                assert gateway.http_get("/readyz")[0] == 503
            finally:
                broker.resume()

            def recovered() -> bool:
                return send(f"after-{len(answers)}") == 201

            gateway.wait_for(recovered, timeout=60, interval=0.2)
            assert set(pool.map(send, [f"again-{i}" for i in range(40)])) == {201}

        acknowledged = {name for name, status in answers.items() if 200 <= status < 300}
        records = read_topic(broker.address, topic, expect=len(acknowledged), timeout=30)
        on_topic = {orjson.loads(r.value or b"")["job"]["name"] for r in records}
        assert acknowledged <= on_topic
        assert len(acknowledged) >= 81
        published = gateway.metric("lineage_ingest_events_published_total")
        assert published == len(acknowledged)
        assert gateway.metric("lineage_ingest_publish_errors_total", kind="events") >= 12

        broker.kill()  # gone: refused connections, still never a 2xx
        with ThreadPoolExecutor(4) as pool:
            assert set(pool.map(send, [f"killed-{i}" for i in range(8)])) == {503}
    finally:
        gateway.kill()
