"""An in-memory ``ColumnReader`` over column edge records: the reference the
Redis reader (``adapters.redis_columns.RedisColumnReader``) is tested against,
and what the tests query a pure fold with."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from processor.core.column_queries import Column
from processor.core.column_snapshot import ColumnEdgeRecord
from processor.core.graph_reader import Direction


class ColumnIndex:
    """Column edges indexed by their ends; visible ones only (``floor``: the
    retention cutoff)."""

    def __init__(self, records: Iterable[ColumnEdgeRecord], floor: str = "") -> None:
        self.into: dict[Column, list[ColumnEdgeRecord]] = {}
        self.out_of: dict[Column, list[ColumnEdgeRecord]] = {}
        self.fields: dict[tuple[str, str], set[str | None]] = {}
        for e in records:
            # a dataset lists its fields whether or not their edges are hidden,
            # as the Redis index does
            self.fields.setdefault(e.source[:2], set()).add(e.source[2])
            self.fields.setdefault(e.target[:2], set()).add(e.target[2])
            if e.shown(floor):
                self.out_of.setdefault(e.source, []).append(e)
                self.into.setdefault(e.target, []).append(e)

    async def dataset_fields(self, namespace: str, name: str) -> Sequence[str | None]:
        return sorted(
            self.fields.get((namespace, name), ()), key=lambda f: (f is not None, f or "")
        )

    async def column_edges(
        self, columns: Sequence[Column], direction: Direction
    ) -> Sequence[ColumnEdgeRecord]:
        table = self.into if direction == "upstream" else self.out_of
        return [e for c in columns for e in table.get(c, ())]
