"""The processor stack of one integration test: its own topics, consumer group,
Redis key prefix and worker processes, on the session's broker and Redis."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from processor.core.fold import Graph
from processor.core.pipeline import Accepted, Classified, Limits, classify
from processor.core.rules import MixRule
from processor.core.snapshot import snapshot_hash
from tests.integration.harness import WorkerProcess, free_port

_HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this directory ``integration``, so that
    ``-m "not integration"`` (``make test-fast``) leaves out all that needs services.

    The hook sees the whole session's items, hence the check on the path;
    ``tryfirst`` puts the marker on before ``-m`` deselects.
    """
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.integration)


@dataclass
class Stack:
    bootstrap: str
    redis_url: str
    redis: Any
    prefix: str
    input_topic: str
    dlq_topic: str
    control_topic: str
    group: str
    log_dir: Path
    workers: list[WorkerProcess] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
        env.update(
            LINEAGE_KAFKA_BOOTSTRAP=self.bootstrap,
            LINEAGE_REDIS_URL=self.redis_url,
            LINEAGE_INPUT_TOPICS=self.input_topic,
            LINEAGE_DLQ_TOPIC=self.dlq_topic,
            LINEAGE_CONTROL_TOPIC=self.control_topic,
            LINEAGE_GROUP_ID=self.group,
            LINEAGE_REDIS_PREFIX=self.prefix,
            LINEAGE_INTERNAL_NAMESPACES="snowflake://*",
            LINEAGE_KAFKA_SESSION_TIMEOUT_MS="1000",
            LINEAGE_KAFKA_HEARTBEAT_INTERVAL_MS="100",
            LINEAGE_BATCH_TIMEOUT_MS="50",
        )
        env.update(extra)
        return env

    def start_worker(self, **extra: str) -> WorkerProcess:
        port = free_port()
        log_path = self.log_dir / f"worker-{len(self.workers)}.log"
        worker = WorkerProcess(self.env(LINEAGE_WEB_PORT=str(port), **extra), port, log_path)
        self.workers.append(worker)
        worker.start()
        worker.wait_ready(timeout=60)
        return worker


def expected_graph(
    values: Sequence[bytes | None], rule: MixRule | None = None, limits: Limits | None = None
) -> Graph:
    """The graph the pure fold builds from these message values."""
    rule = rule or MixRule("mixed", ["snowflake://*"])
    limits = limits or Limits()
    graph = Graph()
    for value in values:
        c = classify(value, rule, limits)
        if isinstance(c, Classified) and isinstance(c.outcome, Accepted):
            graph.apply(c.outcome.fold)
    return graph


def expected_hash(values: Sequence[bytes | None]) -> str:
    return snapshot_hash(expected_graph(values).snapshot())


@pytest.fixture
def stack(
    broker: str, redis_service: Any, key_prefix: str, make_topics: Any, tmp_path: Path
) -> Iterator[Stack]:
    input_topic, dlq_topic, control_topic = make_topics("events", "dlq", "control", partitions=1)
    s = Stack(
        bootstrap=broker,
        redis_url=redis_service.address,
        redis=redis_service,
        prefix=key_prefix,
        input_topic=input_topic,
        dlq_topic=dlq_topic,
        control_topic=control_topic,
        group=f"group-{key_prefix}",
        log_dir=tmp_path,
    )
    yield s
    for w in s.workers:
        w.kill()
