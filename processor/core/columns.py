"""Column lineage (docs/design.md section 5a): an event's column edges
(``extract_columns``), and the reference column fold.

Facets are never validated: a piece of another shape is skipped, counted, and
the event is still accepted (``core.column_extract``). Every attribute of a
column edge is a lattice join (set union, min, max), so folding an event twice,
or in any order, changes nothing, and no per-event memory is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from processor.core.column_extract import (
    COLUMN_DROP_REASONS,
    DROP_MALFORMED,
    DROP_SAME_DATASET,
    DROP_SAME_SIDE,
    DROP_TOO_MANY,
    NO_COLUMNS,
    ColumnEdges,
    ColumnExtract,
    ColumnFact,
    ColumnKey,
    PairColumns,
    Transformation,
    read_elements,
)
from processor.core.identity import node_id

__all__ = [
    "COLUMN_DROP_REASONS",
    "DROP_MALFORMED",
    "DROP_SAME_DATASET",
    "DROP_SAME_SIDE",
    "DROP_TOO_MANY",
    "NO_COLUMNS",
    "ColumnEdgeState",
    "ColumnEdges",
    "ColumnExtract",
    "ColumnFact",
    "ColumnGraph",
    "ColumnKey",
    "Transformation",
    "column_key",
    "extract_columns",
]


def column_key(fact: ColumnFact | ColumnEdgeState) -> ColumnKey:
    """A column edge's identity in the reference fold: its two columns."""
    return (fact.source_id, fact.source_field, fact.target_id, fact.target_field)


def extract_columns(
    outputs: Sequence[Any], is_internal: Any, mixed: bool, limit: int, max_edges: int
) -> ColumnExtract:
    """The column edges of an accepted event's outputs (``core.models.Dataset``).

    ``is_internal``: the mix rule's namespace test; ``mixed``: whether the rule
    is ``mixed``; ``limit``: the name length bound; ``max_edges``: the cap on
    distinct kept column edges, past which none is kept (``too_many``).

    The edges come grouped by dataset pair (``ColumnEdges``), the form the
    fold payload is written from.
    """
    pairs: PairColumns = {}
    dropped: dict[str, int] = {}
    side: dict[str, bool] = {}  # namespace -> internal, asked once an event
    names: dict[str, tuple[str, str]] = {}  # node id -> (namespace, name)
    for out in outputs:
        facets = out.facets
        if not facets:
            continue
        facet = facets.get("columnLineage")
        if facet is None:
            continue
        if type(facet) is not dict:
            dropped[DROP_MALFORMED] = dropped.get(DROP_MALFORMED, 0) + 1
            continue
        out_ns, out_name = out.namespace, out.name
        out_side = False
        if mixed:
            known = side.get(out_ns)
            out_side = side[out_ns] = bool(is_internal(out_ns)) if known is None else known
        tid = node_id(out_ns, out_name)
        names[tid] = (out_ns, out_name)
        read_elements(facet, (tid, out_ns, out_name), limit, mixed, out_side, side,
                      is_internal, pairs, names, dropped)  # fmt: skip
    count = sum(map(len, pairs.values()))
    if not count:
        return ColumnExtract((), (), tuple(sorted(dropped.items())))
    if count > max_edges:
        dropped[DROP_TOO_MANY] = dropped.get(DROP_TOO_MANY, 0) + count
        return ColumnExtract((), (), tuple(sorted(dropped.items())))
    used = {sid for sid, _ in pairs}
    used.update(tid for _, tid in pairs)
    return ColumnExtract(
        ColumnEdges(pairs, count),
        tuple((nid, *names[nid]) for nid in used),
        tuple(sorted(dropped.items())),
    )


@dataclass(slots=True)
class ColumnEdgeState:
    """A column edge as folded so far."""

    source_id: str
    source_field: str
    target_id: str
    target_field: str | None
    first_seen: str
    last_seen: str
    jobs: set[tuple[str, str]] = field(default_factory=set)
    transformations: set[Transformation] = field(default_factory=set)


class _EdgeView(Mapping[ColumnKey, ColumnEdgeState]):
    """``ColumnGraph.state`` seen as ``ColumnEdgeState``s, each made when asked for."""

    def __init__(self, state: dict[ColumnKey, list[Any]]) -> None:
        self.state = state

    def __getitem__(self, k: ColumnKey) -> ColumnEdgeState:
        v = self.state[k]
        return ColumnEdgeState(k[0], k[1], k[2], k[3], v[0], v[1], set(v[2]), set(v[3]))

    def __iter__(self) -> Iterator[ColumnKey]:
        return iter(self.state)

    def __len__(self) -> int:
        return len(self.state)


class ColumnGraph:
    """The column edges of a graph and the names of the datasets they touch.

    ``state`` holds each column edge as ``[firstSeen, lastSeen, jobs,
    transformations]`` (the sets frozen, shared between the edges of an event
    or a batch): the batch join runs on every column edge of every event, so
    it allocates as little as it can. ``edges`` gives them as records."""

    def __init__(self) -> None:
        self.state: dict[ColumnKey, list[Any]] = {}
        self.datasets: dict[str, tuple[str, str]] = {}  # node id -> (namespace, name)

    @property
    def edges(self) -> Mapping[ColumnKey, ColumnEdgeState]:
        """The column edges as states (built on access, for readers and tests)."""
        return _EdgeView(self.state)

    def apply(
        self,
        facts: Iterable[ColumnFact],
        datasets: Iterable[tuple[str, str, str]],
        job: tuple[str, str],
        event_time: str,
    ) -> None:
        """Fold one event's column edges in; again changes nothing."""
        for nid, ns, name in datasets:
            self.datasets.setdefault(nid, (ns, name))
        state = self.state
        jobs = frozenset((job,))
        t = event_time
        for f in facts:
            key = f[:4]  # column_key(f), without the call
            cur = state.get(key)
            if cur is None:
                state[key] = [t, t, jobs, f[4]]
                continue
            if t < cur[0]:
                cur[0] = t
            if t > cur[1]:
                cur[1] = t
            if job not in cur[2]:
                cur[2] = cur[2] | jobs
            if not f[4] <= cur[3]:
                cur[3] = cur[3] | f[4]

    def join(self, other: ColumnGraph) -> None:
        """Fold ``other`` in: every attribute is a join."""
        for nid, names in other.datasets.items():
            self.datasets.setdefault(nid, names)
        for key, (first, last, jobs, trans) in other.state.items():
            self.join_edge(key, first, last, jobs, trans)

    def join_edge(
        self,
        key: ColumnKey,
        first: str,
        last: str,
        jobs: frozenset[tuple[str, str]],
        trans: frozenset[Transformation],
    ) -> None:
        """Fold one column edge's attributes in."""
        cur = self.state.get(key)
        if cur is None:
            self.state[key] = [first, last, jobs, trans]
            return
        cur[0] = min(cur[0], first)
        cur[1] = max(cur[1], last)
        if not jobs <= cur[2]:
            cur[2] = cur[2] | jobs
        if not trans <= cur[3]:
            cur[3] = cur[3] | trans
