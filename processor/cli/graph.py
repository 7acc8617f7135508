"""The commands that read or change the graph: snapshot, lineage, datasets, delete.

``processor.cli`` parses the command line, reads the settings and hands them
here; nothing in this module reads the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson

from processor.adapters.connections import graph_store, kafka_options
from processor.adapters.redis_store import RedisGraphStore
from processor.errors import ConfigurationError
from processor.settings import Settings


def delete_message(
    source: Sequence[str] | None, target: Sequence[str] | None, requested_at: str
) -> dict[str, Any]:
    """The control-topic delete request of ``lineage-processor delete``."""
    message: dict[str, Any] = {"op": "delete", "requestedAt": requested_at}
    if source:
        message["source"] = {"namespace": source[0], "name": source[1]}
    if target:
        message["target"] = {"namespace": target[0], "name": target[1]}
    return message


def delete(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime

    from processor.adapters.dlq_publisher import KafkaPublisher, OutRecord
    from processor.core.control import parse_control
    from processor.core.pipeline import Rejected

    if not args.source and not args.target:
        raise ConfigurationError("delete needs --source, --target, or both")
    requested_at = args.requested_at or datetime.now(UTC).isoformat().replace("+00:00", "Z")
    value = orjson.dumps(delete_message(args.source, args.target, requested_at))
    parsed = parse_control(value)
    if isinstance(parsed, Rejected):
        raise ConfigurationError(f"not a valid delete: {parsed.error}")

    async def run() -> None:
        publisher = KafkaPublisher(settings.kafka_bootstrap, **kafka_options(settings))
        try:
            await publisher.publish([OutRecord(settings.control_topic, None, value)])
        finally:
            await publisher.close()

    asyncio.run(run())
    print(f"published to {settings.control_topic}: {value.decode()}")
    return 0


@contextlib.asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[RedisGraphStore]:
    """The graph store of the current generation, closed afterwards."""

    store = graph_store(settings, prefix=settings.redis_prefix)
    try:
        await store.load_generation()
        yield store
    finally:
        await store.close()


def floor(settings: Settings, as_of: str | None = None) -> str:
    """The retention cutoff for reading the graph as of ``as_of`` (now when
    None); a ``ConfigurationError`` for a time that is not RFC 3339."""
    from datetime import UTC, datetime

    from processor.core.timefmt import format_time, normalize_time, retention_floor

    try:
        moment = normalize_time(as_of) if as_of else format_time(datetime.now(UTC))
    except ValueError as exc:
        raise ConfigurationError(f"--as-of: {exc}") from None
    return retention_floor(moment, settings.retention_days)


def _types(raw: str | None) -> frozenset[str] | None:
    """The ``--types`` filter; a ``ConfigurationError`` for an empty one."""
    from processor.core.type_filter import parse_types

    if raw is None:
        return None
    try:
        return parse_types(raw)
    except ValueError as exc:
        raise ConfigurationError(f"--types: {exc}") from None


def lineage(args: argparse.Namespace, settings: Settings) -> int:
    from processor import render
    from processor.adapters.redis_reader import RedisGraphReader
    from processor.core import queries
    from processor.core.graph_reader import Direction

    types = _types(args.types)

    async def run() -> str:
        async with open_store(settings) as store:
            reader = RedisGraphReader(store, floor=floor(settings))
            if args.direction == "impact":
                found = await queries.impact(
                    reader, args.namespace, args.name, args.depth, args.limit, types=types
                )
                if args.format == "json":
                    return json.dumps(render.impact_json(found), indent=2, ensure_ascii=False)
                return render.impact_table(found)
            direction: Direction = args.direction
            result = await queries.lineage(
                direction, reader, args.namespace, args.name, args.depth, args.limit, types=types
            )
            if args.format == "json":
                return json.dumps(
                    render.lineage_json(result, direction), indent=2, ensure_ascii=False
                )
            if args.format == "dot":
                return render.lineage_dot(result)
            return render.lineage_tree(result, direction)

    try:
        print(asyncio.run(run()))
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    return 0


def datasets_search(args: argparse.Namespace, settings: Settings) -> int:
    from processor.adapters.redis_search import search_datasets
    from processor.core.snapshot import node_type

    types = _types(args.types)

    async def run() -> Any:
        async with open_store(settings) as store:
            return await search_datasets(
                store, args.text, offset=args.offset, limit=args.limit, types=types
            )

    page = asyncio.run(run())
    for ds in page.datasets:
        side = "internal" if ds.internal else "external"
        print(f"{ds.namespace}/{ds.name}  ({node_type(ds)}, {side})")
    shown = f"{page.offset + 1}-{page.offset + len(page.datasets)}" if page.datasets else "none"
    of_types = f" of type {','.join(sorted(types))}" if types else ""
    print(f"({shown} of {page.total} matching {args.text!r}{of_types})")
    return 0


def snapshot(args: argparse.Namespace, settings: Settings) -> int:
    from processor.core.snapshot import canonical_bytes, snapshot_hash

    cutoff = floor(settings, args.as_of)

    async def run() -> dict[str, Any]:
        async with open_store(settings) as store:
            if getattr(args, "columns", False):
                from processor.adapters.redis_columns import column_snapshot

                return await column_snapshot(store, cutoff)
            return await store.snapshot(cutoff)

    snapshot = asyncio.run(run())
    if args.hash:
        print(snapshot_hash(snapshot))
    else:
        sys.stdout.buffer.write(canonical_bytes(snapshot) + b"\n")
    return 0
