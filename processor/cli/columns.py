"""``lineage-processor lineage columns upstream|downstream NAMESPACE NAME [FIELD]``:
column lineage (docs/querying.md), as a tree, JSON or Graphviz dot."""

from __future__ import annotations

import argparse
import asyncio
import json

from processor.cli.walk_options import add_walk_options
from processor.errors import ConfigurationError
from processor.settings import Settings


def build_parser() -> argparse.ArgumentParser:
    """The parser of the words after ``lineage-processor lineage columns``."""
    p = argparse.ArgumentParser(
        prog="lineage-processor lineage columns",
        description="upstream or downstream of a column, or of every column of a dataset "
        "(no FIELD), with each edge's transformations",
    )
    p.add_argument("direction", choices=["upstream", "downstream"])
    p.add_argument("namespace")
    p.add_argument("name")
    p.add_argument("field", nargs="?", default=None, help="a column (default: every column)")
    add_walk_options(p, "columns", "a readable tree (default), JSON, or Graphviz dot")
    return p


def columns(args: argparse.Namespace, settings: Settings) -> int:
    from processor.adapters.redis_columns import RedisColumnReader
    from processor.cli.graph import floor, open_store
    from processor.column_render import column_dot, column_tree
    from processor.core.column_queries import column_lineage

    async def run() -> str:
        async with open_store(settings) as store:
            reader = RedisColumnReader(store, floor=floor(settings))
            result = await column_lineage(
                reader, args.namespace, args.name, args.field, args.direction, args.depth,
                args.limit,
            )  # fmt: skip
        if args.format == "json":
            return json.dumps(result.as_json(), indent=2, ensure_ascii=False)
        if args.format == "dot":
            return column_dot(result)
        return column_tree(result)

    try:
        print(asyncio.run(run()))
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    return 0
