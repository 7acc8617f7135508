"""``lineage-processor``: the command line, and the only reader of settings."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from processor import __version__, cli_dlq, cli_graph, cli_rebuild
from processor.core.redact import redact_url
from processor.errors import ConfigurationError, DependencyUnavailable, LineageError
from processor.settings import Settings

log = logging.getLogger("processor.cli")


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with ``overrides``; one-line errors."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        # Only the message: pydantic's full text would echo the value, a secret maybe.
        first = exc.errors(include_url=False)[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        if not first["loc"]:  # a combination of settings; the message names them
            raise ConfigurationError(message) from None
        name = "LINEAGE_" + "_".join(str(p) for p in first["loc"]).upper()
        raise ConfigurationError(f"{name}: {message}") from None
    settings.rule()  # validates the globs
    from processor.adapters.connections import check_tls_files

    check_tls_files(settings)
    return settings


def _configure_logging(level: str, fmt: str = "text") -> None:
    from processor import logs

    logs.configure(level, fmt)


async def _preflight(settings: Settings, wait_seconds: float) -> None:
    """Fail fast, in one line, when Kafka or Redis cannot be reached at start-up."""
    from processor.adapters.connections import graph_store, kafka_options
    from processor.adapters.kafka_admin import wait_for_broker

    await wait_for_broker(settings.kafka_bootstrap, wait_seconds, security=kafka_options(settings))
    from redis.exceptions import AuthenticationError, RedisError

    store = graph_store(settings, timeout=wait_seconds)
    shown = redact_url(settings.redis_url)
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                await store.client.ping()
                return
            except AuthenticationError as exc:  # waiting would not fix it
                raise ConfigurationError(
                    f"Redis at {shown} refused the credentials (LINEAGE_REDIS_PASSWORD, "
                    f"LINEAGE_REDIS_USERNAME or the URL's): {exc}"
                ) from None
            except RedisError as exc:
                if time.monotonic() > deadline:
                    raise DependencyUnavailable(f"cannot reach Redis at {shown}: {exc}") from None
            await asyncio.sleep(0.5)
    finally:
        await store.close()


def run_worker(
    settings: Settings, *, extra_tasks: Sequence[Any] = (), show_edges: bool = False
) -> int:
    """Run the worker until SIGINT/SIGTERM; faust finishes the batch and commits."""
    import faust

    from processor.app import LineageWorker

    asyncio.run(_preflight(settings, wait_seconds=30.0))
    worker = LineageWorker(settings)
    for task in extra_tasks:
        worker.app.task(task(worker))
    if show_edges:
        worker.listeners.append(_print_edges)
    print(
        f"lineage-processor {__version__}: consuming {','.join(settings.input_topics)} "
        f"from {settings.kafka_bootstrap}, graph in {redact_url(settings.redis_url)}\n"
        f"  page      http://127.0.0.1:{settings.web_port}/\n"
        f"  API       http://127.0.0.1:{settings.web_port}/api/v1/graph/snapshot\n"
        f"  metrics   http://127.0.0.1:{settings.web_port}/metrics\n"
        f"  health    http://127.0.0.1:{settings.web_port}/readyz",
        flush=True,
    )
    from processor import logs

    fw = faust.Worker(
        worker.app,
        loglevel=settings.log_level.upper(),
        quiet=True,
        redirect_stdouts=False,
        logging_config=logs.dict_config(settings.log_level, settings.log_format),
    )
    try:
        fw.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    return run_worker(load_settings())


def cmd_dev(args: argparse.Namespace) -> int:
    """Embedded broker and Redis, topics, the worker, optionally demo traffic."""
    from processor.adapters import services
    from processor.adapters.kafka_admin import create_topics

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


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from processor.ingest.main import command

    return command(settings, args.port)


def _print_edges(result: Any) -> None:
    """Show lineage arriving: each folded edge of a batch, a few per batch."""
    shown = 0
    for fold in result.folded:
        names = {n.node_id: f"{n.namespace}/{n.name}" for n in fold.nodes}
        for src, dst in fold.edges:
            if shown == 5:
                print("  ... and more edges in this batch", flush=True)
                return
            print(f"+ {names[src]} -> {names[dst]}  ({fold.job[0]}/{fold.job[1]})", flush=True)
            shown += 1


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


def _read_events(paths: Sequence[str]) -> Iterator[bytes]:
    """Each event of JSON files (an object or an array) and JSONL files, as bytes."""
    for path in paths:
        text = Path(path).read_bytes()
        stripped = text.lstrip()
        if stripped.startswith(b"[") or (stripped.startswith(b"{") and b"\n{" not in stripped):
            try:
                doc = orjson.loads(text)
            except orjson.JSONDecodeError:
                doc = None
            if isinstance(doc, list):
                yield from (orjson.dumps(item) for item in doc)
                continue
            if isinstance(doc, dict):
                yield text.strip()
                continue
        for line in text.splitlines():
            if line.strip():
                yield line


def cmd_publish(args: argparse.Namespace) -> int:
    from processor.adapters.connections import kafka_options
    from processor.adapters.dlq_publisher import KafkaPublisher, OutRecord
    from processor.core.keys import message_key

    settings = load_settings()
    topic = args.topic or settings.input_topics[0]

    async def run() -> int:
        publisher = KafkaPublisher(settings.kafka_bootstrap, **kafka_options(settings))
        sent = 0
        batch: list[OutRecord] = []
        try:
            for value in _read_events(args.files):
                try:
                    obj = orjson.loads(value)
                    key = message_key(obj) if isinstance(obj, dict) else None
                except orjson.JSONDecodeError:
                    key = None
                batch.append(OutRecord(topic, key, value))
                if len(batch) >= 500:
                    await publisher.publish(batch)
                    sent += len(batch)
                    batch.clear()
                    print(f"\rpublished {sent}", end="", file=sys.stderr, flush=True)
            await publisher.publish(batch)
            sent += len(batch)
        finally:
            await publisher.close()
        print(f"published {sent} events to {topic}")
        return 0

    return asyncio.run(run())


def cmd_topics_create(args: argparse.Namespace) -> int:
    from processor.adapters.connections import kafka_options
    from processor.adapters.kafka_admin import create_topics

    settings = load_settings()
    topics = [*settings.input_topics, settings.dlq_topic, settings.control_topic]
    created = asyncio.run(
        create_topics(
            settings.kafka_bootstrap,
            topics,
            args.partitions,
            args.replication,
            security=kafka_options(settings),
        )
    )
    for t in topics:
        print(f"{t}: {'created' if t in created else 'exists'}")
    return 0


def _with_settings(command: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        return int(command(args, load_settings()))

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lineage-processor",
        description="Kafka-native OpenLineage processor: a lineage graph in Redis. "
        "Settings come from LINEAGE_* environment variables.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("dev", help="run a local broker, Redis and the worker in one command")
    p.add_argument("--demo", action="store_true", help="publish demo lineage continuously")
    p.add_argument("--demo-rate", type=float, default=5.0, help="demo events per second")
    p.add_argument("--partitions", type=int, default=4, help="partitions of each topic")
    p.add_argument("--web-port", type=int, default=None, help="HTTP port (default 6066)")
    p.add_argument("--data-dir", default=None, help="where the services keep their files")
    p.add_argument(
        "--log-level",
        default="warning",
        help="worker log level (default: warning, so the lineage arriving stays readable)",
    )
    p.add_argument(
        "--ingest-port", type=int, default=None, help="HTTP ingest gateway port (default 5000)"
    )
    p.set_defaults(func=cmd_dev)

    p = sub.add_parser("worker", help="run the worker against the configured Kafka and Redis")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser(
        "ingest", help="serve the HTTP ingest gateway: OpenLineage HTTP transport to Kafka"
    )
    p.add_argument("--port", type=int, default=None, help="HTTP port (default 5000)")
    p.set_defaults(func=_with_settings(_ingest))

    p = sub.add_parser("publish", help="publish JSON or JSONL events to the input topic")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--topic", default=None, help="topic (default: the first input topic)")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser(
        "delete",
        help="hide an edge (--source and --target), every edge out of --source, "
        "or every edge into --target, until a newer event brings it back",
    )
    p.add_argument("--source", nargs=2, metavar=("NAMESPACE", "NAME"))
    p.add_argument("--target", nargs=2, metavar=("NAMESPACE", "NAME"))
    p.add_argument(
        "--requested-at", default=None, help="RFC 3339 time of the delete (default: now)"
    )
    p.set_defaults(func=_with_settings(cli_graph.delete))

    p = sub.add_parser("lineage", help="upstream, downstream or impact of a dataset")
    p.add_argument("direction", choices=["upstream", "downstream", "impact"])
    p.add_argument("namespace")
    p.add_argument("name")
    p.add_argument("--depth", type=int, default=20, help="levels to follow (1-20, default 20)")
    p.add_argument("--limit", type=int, default=1000, help="most datasets shown (default 1000)")
    p.add_argument(
        "--format",
        choices=["table", "json", "dot"],
        default="table",
        help="a readable tree (default), JSON, or Graphviz dot (upstream/downstream)",
    )
    p.set_defaults(func=_with_settings(cli_graph.lineage))

    p = sub.add_parser("datasets", help="find datasets")
    dsub = p.add_subparsers(dest="datasets_command", required=True)
    ds = dsub.add_parser("search", help="datasets whose namespace or name contains TEXT")
    ds.add_argument("text")
    ds.add_argument("--offset", type=int, default=0)
    ds.add_argument("--limit", type=int, default=50)
    ds.set_defaults(func=_with_settings(cli_graph.datasets_search))

    p = sub.add_parser(
        "rebuild",
        help="rebuild the graph from the log into a new generation and switch to it",
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="compare the rebuilt snapshot hash with the current one instead of switching",
    )
    p.add_argument(
        "--settings",
        metavar="FILE",
        help="LINEAGE_*=value lines that override the settings for this rebuild",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="with --verify: how long to wait for the live workers to stand still (s)",
    )
    p.set_defaults(func=_with_settings(cli_rebuild.rebuild))

    p = sub.add_parser("snapshot", help="print the canonical snapshot of the graph")
    p.add_argument("--hash", action="store_true", help="print only its sha256")
    p.add_argument(
        "--as-of",
        metavar="TIME",
        help="RFC 3339 time the retention window counts back from (default now)",
    )
    p.set_defaults(func=_with_settings(cli_graph.snapshot))

    p = sub.add_parser("dlq", help="read, count and redrive dead letters")
    dlq = p.add_subparsers(dest="dlq_command", required=True)
    when = "RFC 3339 time: only dead letters written at or after it"
    reasons = "a reason code (lineage.reason), e.g. mix_rule_external_only"
    ds = dlq.add_parser("show", help="the newest dead letters, one block each, newest last")
    ds.add_argument("--reason", metavar="REASON", help=f"only this reason: {reasons}")
    ds.add_argument("--since", metavar="TIME", help=when)
    ds.add_argument("--limit", type=int, default=20, help="most shown (default 20)")
    ds.set_defaults(func=_with_settings(cli_dlq.show))
    ds = dlq.add_parser("stats", help="dead letters by reason and source topic")
    ds.set_defaults(func=_with_settings(cli_dlq.stats))
    ds = dlq.add_parser(
        "redrive",
        help="publish dead letters again to the topic they came from (each one once)",
    )
    ds.add_argument("--reason", metavar="REASON", help=f"only this reason: {reasons}")
    ds.add_argument("--since", metavar="TIME", help=when)
    ds.set_defaults(func=_with_settings(cli_dlq.redrive))

    p = sub.add_parser("topics", help="manage the processor's topics")
    tsub = p.add_subparsers(dest="topics_command", required=True)
    tc = tsub.add_parser("create", help="create the input, DLQ and control topics")
    tc.add_argument("--partitions", type=int, default=6)
    tc.add_argument("--replication", type=int, default=1)
    tc.set_defaults(func=cmd_topics_create)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level, fmt = "warning", "text"
    with contextlib.suppress(ConfigurationError):
        settings = load_settings()
        level, fmt = settings.log_level, settings.log_format
    _configure_logging(level, fmt)
    try:
        return int(args.func(args))
    except ConfigurationError as exc:
        print(f"lineage-processor: configuration error: {exc}", file=sys.stderr)
        return 2
    except (DependencyUnavailable, LineageError) as exc:
        print(f"lineage-processor: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
