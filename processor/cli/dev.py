"""``lineage-processor dev``: an embedded broker and Redis (``processor.devstack``),
the topics, the worker and, with ``--demo``, demo traffic, in one command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from processor.cli.settings_loader import load_settings
from processor.cli.worker import run_worker
from processor.core.redact import redact_url
from processor.errors import DependencyUnavailable

log = logging.getLogger("processor.cli")


def cmd_dev(args: argparse.Namespace) -> int:
    """Embedded broker and Redis, topics, the worker, optionally demo traffic."""
    from processor.adapters.kafka_admin import create_topics
    from processor.devstack import services

    base = load_settings()
    workdir = (
        Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="lineage-dev-"))
    )
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"starting a local broker and Redis in {workdir} ...", flush=True)
    broker = services.start_broker(workdir / "broker", backend="local")
    redis = services.start_redis(workdir / "redis", backend="local")
    try:
        settings = base.model_copy(
            update={
                "kafka_bootstrap": broker.address,
                "redis_url": redis.address,
                "web_port": args.web_port or base.web_port,
                "log_level": args.log_level,
                # One worker on a local broker: a short session makes joins quick.
                "kafka_session_timeout_ms": 1000,
                "kafka_heartbeat_interval_ms": 100,
                # The embedded services have no TLS and no users: credentials
                # meant for real ones would only make them refuse.
                **dict.fromkeys(_REAL_SERVICE_SECURITY),
                "kafka_security_protocol": "PLAINTEXT",
                "redis_tls_verify": True,
                **_demo_internal(base, args.demo),
            }
        )
        topics = [*settings.input_topics, settings.dlq_topic, settings.control_topic]
        asyncio.run(create_topics(settings.kafka_bootstrap, topics, args.partitions))
        print(
            f"broker {broker.address}  redis {redact_url(redis.address)}  "
            f"topics {', '.join(topics)}"
        )
        tasks = [_demo_task(args.demo_rate)] if args.demo else []
        tasks.append(_status_task())
        tasks.append(_ingest_task(args.ingest_port))
        return run_worker(settings, extra_tasks=tasks, show_edges=True)
    finally:
        redis.stop()
        broker.stop()
        print("stopped the local broker and Redis", flush=True)


def _demo_internal(base: Any, demo: bool) -> dict[str, list[str]]:
    """The demo's ML registries are internal too (``samples.ml_demo``), unless
    LINEAGE_INTERNAL_NAMESPACES says otherwise."""
    if not demo or "internal_namespaces" in base.model_fields_set:
        return {}
    from processor.samples.ml_demo import DEMO_INTERNAL_NAMESPACES

    return {"internal_namespaces": [*base.internal_namespaces, *DEMO_INTERNAL_NAMESPACES]}


_REAL_SERVICE_SECURITY = (
    "redis_username",
    "redis_password",
    "redis_tls_ca_file",
    "redis_tls_cert_file",
    "redis_tls_key_file",
    "kafka_sasl_username",
    "kafka_sasl_password",
    "kafka_ssl_ca_file",
    "kafka_ssl_cert_file",
    "kafka_ssl_key_file",
)


def _demo_task(rate: float) -> Any:
    def factory(worker: Any) -> Any:
        async def publish_demo() -> None:
            from processor.adapters.connections import kafka_options
            from processor.adapters.dlq_publisher import KafkaPublisher, OutRecord
            from processor.samples import demo_events

            settings = worker.settings
            publisher = KafkaPublisher(settings.kafka_bootstrap, **kafka_options(settings))
            topic = worker.settings.input_topics[0]
            try:
                for key, value in demo_events(seed=int(time.time())):
                    try:
                        await publisher.publish([OutRecord(topic, key, value)])
                    except DependencyUnavailable as exc:
                        log.warning("demo publisher: %s", exc)
                    await asyncio.sleep(1 / rate)
            finally:
                await publisher.close()

        return publish_demo

    return factory


def _ingest_task(port: int | None) -> Any:
    def factory(worker: Any) -> Any:
        from processor.ingest.main import dev_task

        return dev_task(worker.settings, port)

    return factory


def _status_task() -> Any:
    def factory(worker: Any) -> Any:
        async def status() -> None:
            registry = worker.metrics.registry
            names = {
                "consumed": "lineage_events_consumed_total",
                "accepted": "lineage_events_accepted_total",
                "rejected": "lineage_events_rejected_total",
                "nodes": "lineage_graph_nodes",
                "edges": "lineage_graph_edges",
            }
            while True:
                await asyncio.sleep(5)
                totals = dict.fromkeys(names, 0.0)
                for family in registry.collect():
                    for sample in family.samples:
                        for label, name in names.items():
                            if sample.name == name:
                                totals[label] += sample.value
                print(
                    "[lineage] " + " ".join(f"{k}={v:.0f}" for k, v in totals.items()),
                    flush=True,
                )

        return status

    return factory
