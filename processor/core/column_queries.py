"""Column lineage queries (docs/design.md section 5a): upstream and downstream
of one column, or of every column of a dataset, by depth.

Pure functions over a small read port, :class:`ColumnReader`. A walk is a
breadth-first search that asks the reader for the visible column edges of a
whole level at once, so a query of depth ``D`` costs at most ``D + 1`` reader
calls. A column is ``(namespace, name, field)``; ``field`` None is the target
of a whole-dataset dependency (the facet's ``dataset`` list).

Conventions (those of ``core.queries``): ``1 <= depth <= DEPTH_CAP``; an
unknown start raises ``NodeNotFound``; at most ``max_nodes`` columns, taken
level by level in column order, the answer then marked ``truncated``; an edge
is kept when both its ends are; output sorted (columns by distance then
column, edges by source then target).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from processor.core.api_bounds import DEFAULT_MAX_NODES
from processor.core.column_snapshot import ColumnEdgeRecord, column_edge_dict
from processor.core.graph_reader import Direction
from processor.core.queries import check_depth
from processor.errors import NodeNotFound

Column = tuple[str, str, str | None]  # (namespace, name, field | None)


def column_order(c: Column) -> tuple[str, str, bool, str]:
    """Columns by dataset, the whole dataset (None) first, then by field."""
    return (c[0], c[1], c[2] is not None, c[2] or "")


class ColumnReader(Protocol):
    """What the column queries need from a store. Visibility (deletes,
    retention) is the reader's."""

    async def dataset_fields(self, namespace: str, name: str) -> Sequence[str | None]:
        """The fields of a dataset that have column edges (None: the whole
        dataset, as a target), empty when it has none."""
        ...

    async def column_edges(
        self, columns: Sequence[Column], direction: Direction
    ) -> Sequence[ColumnEdgeRecord]:
        """The visible column edges into (upstream) or out of (downstream) each
        of ``columns``, in one batched read."""
        ...


@dataclass(frozen=True, slots=True)
class ColumnLineage:
    """A column query's answer."""

    roots: tuple[Column, ...]
    direction: Direction
    depth: int
    columns: tuple[tuple[Column, int], ...]  # (column, distance)
    edges: tuple[ColumnEdgeRecord, ...]
    truncated: bool

    def as_json(self) -> dict[str, Any]:
        """The HTTP and CLI JSON shape."""
        return {
            "roots": [_column_json(c) for c in self.roots],
            "direction": self.direction,
            "depth": self.depth,
            "columns": [{**_column_json(c), "distance": d} for c, d in self.columns],
            "edges": [column_edge_dict(e) for e in self.edges],
            "truncated": self.truncated,
        }


def _column_json(c: Column) -> dict[str, Any]:
    return {"namespace": c[0], "name": c[1], "field": c[2]}


async def start_columns(
    reader: ColumnReader, namespace: str, name: str, field: str | None
) -> tuple[Column, ...]:
    """The roots of a query: one column, or every column of the dataset
    (``field`` None); ``NodeNotFound`` when none has column lineage."""
    fields = await reader.dataset_fields(namespace, name)
    if field is not None:
        if field not in fields:
            raise NodeNotFound(namespace, f"{name} {field}", "column")
        return ((namespace, name, field),)
    if not fields:
        raise NodeNotFound(namespace, name, "dataset with column lineage")
    return tuple(sorted(((namespace, name, f) for f in fields), key=column_order))


async def column_lineage(
    reader: ColumnReader,
    namespace: str,
    name: str,
    field: str | None,
    direction: Direction,
    depth: int,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> ColumnLineage:
    """Upstream or downstream of a column (or of every column of a dataset)."""
    check_depth(depth)
    roots = await start_columns(reader, namespace, name, field)
    return await walk(reader, roots, direction, depth, max_nodes)


async def walk(
    reader: ColumnReader,
    roots: Sequence[Column],
    direction: Direction,
    depth: int,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> ColumnLineage:
    """The breadth-first walk from ``roots`` (distance 0)."""
    distance: dict[Column, int] = {}
    for c in roots:
        distance.setdefault(c, 0)
    edges: dict[tuple[Column, Column], ColumnEdgeRecord] = {}
    frontier = list(distance)
    truncated = False
    upstream = direction == "upstream"
    for level in range(1, depth + 1):
        if not frontier or truncated:
            break
        found = await reader.column_edges(frontier, direction)
        new: dict[Column, list[ColumnEdgeRecord]] = {}
        for e in found:
            other: Column = e.source if upstream else e.target
            if other in distance:
                edges[(e.source, e.target)] = e
            else:
                new.setdefault(other, []).append(e)
        frontier = []
        for other in sorted(new, key=column_order):
            if len(distance) >= max_nodes:
                truncated = True
                break
            distance[other] = level
            frontier.append(other)
            for e in new[other]:
                edges[(e.source, e.target)] = e
    columns = tuple(sorted(distance.items(), key=lambda item: (item[1], column_order(item[0]))))
    ordered = tuple(
        e for _, e in sorted(edges.items(), key=lambda kv: (kv[0][0], column_order(kv[0][1])))
    )
    return ColumnLineage(tuple(roots), direction, depth, columns, ordered, truncated)
