"""``lineage-processor``: the command line.

This package parses the command line and hands each command the settings
(``settings_loader``, the only reader of the environment); one module per
group of commands.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from typing import Any, get_args

from processor import __version__
from processor.cli import columns, dev, dlq, graph, publish, rebuild, worker
from processor.cli.settings_loader import load_settings
from processor.cli.walk_options import add_walk_options
from processor.core.api_bounds import DEFAULT_PAGE
from processor.core.graph_reader import Direction
from processor.errors import ConfigurationError, DependencyUnavailable, LineageError

__all__ = ["build_parser", "main"]


def _configure_logging(level: str, fmt: str = "text") -> None:
    from processor import logs

    logs.configure(level, fmt)


def _with_settings(command: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        return int(command(args, load_settings()))

    return run


def _ingest(args: argparse.Namespace, settings: Any) -> int:
    from processor.ingest.main import command

    return command(settings, args.port)


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
    p.set_defaults(func=dev.cmd_dev)

    p = sub.add_parser("worker", help="run the worker against the configured Kafka and Redis")
    p.set_defaults(func=worker.cmd_worker)

    p = sub.add_parser(
        "ingest", help="serve the HTTP ingest gateway: OpenLineage HTTP transport to Kafka"
    )
    p.add_argument("--port", type=int, default=None, help="HTTP port (default 5000)")
    p.set_defaults(func=_with_settings(_ingest))

    p = sub.add_parser("publish", help="publish JSON or JSONL events to the input topic")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--topic", default=None, help="topic (default: the first input topic)")
    p.set_defaults(func=publish.cmd_publish)

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
    p.set_defaults(func=_with_settings(graph.delete))

    p = sub.add_parser(
        "lineage",
        help="upstream, downstream or impact of a dataset; "
        "'lineage columns upstream|downstream NAMESPACE NAME [FIELD]' for column lineage",
    )
    p.add_argument("direction", choices=[*get_args(Direction), "impact"])
    p.add_argument("namespace")
    p.add_argument("name")
    add_walk_options(
        p, "datasets", "a readable tree (default), JSON, or Graphviz dot (upstream/downstream)"
    )
    p.add_argument(
        "--types",
        default=None,
        metavar="T1,T2",
        help="list only datasets of these types (e.g. MODEL,FEATURE_VIEW); the walk is unchanged",
    )
    p.set_defaults(func=_with_settings(graph.lineage))

    p = sub.add_parser("datasets", help="find datasets")
    dsub = p.add_subparsers(dest="datasets_command", required=True)
    ds = dsub.add_parser("search", help="datasets whose namespace or name contains TEXT")
    ds.add_argument("text", nargs="?", default="")
    ds.add_argument("--offset", type=int, default=0)
    ds.add_argument("--limit", type=int, default=DEFAULT_PAGE)
    ds.add_argument("--types", default=None, metavar="T1,T2", help="only datasets of these types")
    ds.set_defaults(func=_with_settings(graph.datasets_search))

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
    p.add_argument(
        "--allow-truncated-log",
        action="store_true",
        help="switch even if retention deleted the beginning of the log the graph was "
        "built from (the rebuilt graph is smaller)",
    )
    p.set_defaults(func=_with_settings(rebuild.rebuild))

    p = sub.add_parser("snapshot", help="print the canonical snapshot of the graph")
    p.add_argument("--hash", action="store_true", help="print only its sha256")
    p.add_argument(
        "--columns", action="store_true", help="the column snapshot (column lineage) instead"
    )
    p.add_argument(
        "--as-of",
        metavar="TIME",
        help="RFC 3339 time the retention window counts back from (default now)",
    )
    p.set_defaults(func=_with_settings(graph.snapshot))

    p = sub.add_parser("dlq", help="read, count and redrive dead letters")
    dlq_sub = p.add_subparsers(dest="dlq_command", required=True)
    when = "RFC 3339 time: only dead letters written at or after it"
    reasons = "a reason code (lineage.reason), e.g. mix_rule_external_only"
    ds = dlq_sub.add_parser("show", help="the newest dead letters, one block each, newest last")
    ds.add_argument("--reason", metavar="REASON", help=f"only this reason: {reasons}")
    ds.add_argument("--since", metavar="TIME", help=when)
    ds.add_argument("--limit", type=int, default=20, help="most shown (default 20)")
    ds.set_defaults(func=_with_settings(dlq.show))
    ds = dlq_sub.add_parser("stats", help="dead letters by reason and source topic")
    ds.set_defaults(func=_with_settings(dlq.stats))
    ds = dlq_sub.add_parser(
        "redrive",
        help="publish dead letters again to the topic they came from (each one once)",
    )
    ds.add_argument("--reason", metavar="REASON", help=f"only this reason: {reasons}")
    ds.add_argument("--since", metavar="TIME", help=when)
    ds.set_defaults(func=_with_settings(dlq.redrive))

    p = sub.add_parser("topics", help="manage the processor's topics")
    tsub = p.add_subparsers(dest="topics_command", required=True)
    tc = tsub.add_parser("create", help="create the input, DLQ and control topics")
    tc.add_argument("--partitions", type=int, default=6)
    tc.add_argument("--replication", type=int, default=1)
    tc.set_defaults(func=publish.cmd_topics_create)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:2] == ["lineage", "columns"]:
        # Its own parser: "lineage" takes a direction then a dataset, and
        # "columns" takes a direction, a dataset and a field.
        args = columns.build_parser().parse_args(words[2:])
        args.func = _with_settings(columns.columns)
    else:
        args = build_parser().parse_args(words)
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
