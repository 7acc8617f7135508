"""The answers of the lineage queries (``core.queries``) and their JSON shapes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from processor.core.snapshot import (
    EXTERNAL_DEFAULT_TYPE,
    INTERNAL_DEFAULT_TYPE,
    EdgeRecord,
    NodeRecord,
    node_type,
)

Dataset = tuple[str, str]  # (namespace, name)


# Named tuples, not dataclasses: an answer holds thousands of them, and a tuple
# is made several times faster.
class QueryNode(NamedTuple):
    """A dataset in a query result, ``distance`` hops from the root."""

    id: str
    namespace: str
    name: str
    type: str
    internal: bool
    distance: int

    def as_json(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "type": self.type,
            "internal": self.internal,
            "distance": self.distance,
        }


class QueryEdge(NamedTuple):
    """An edge with its folded attributes (docs/design.md section 5). Edges of
    one answer differ in (source, target): their tuple order is that order."""

    source: Dataset
    target: Dataset
    jobs: tuple[Dataset, ...]  # sorted
    first_seen: str
    last_seen: str
    last_run_id: str | None
    events: int

    def as_json(self) -> dict[str, Any]:
        """The snapshot's edge shape (camelCase attributes)."""
        return {
            "source": {"namespace": self.source[0], "name": self.source[1]},
            "target": {"namespace": self.target[0], "name": self.target[1]},
            "jobs": [{"namespace": ns, "name": nm} for ns, nm in self.jobs],
            "firstSeen": self.first_seen,
            "lastSeen": self.last_seen,
            "lastRunId": self.last_run_id,
            "events": self.events,
        }


def query_node(nid: str, rec: NodeRecord, distance: int) -> QueryNode:
    """The answer's node ``nid`` at ``distance`` hops."""
    return QueryNode(nid, rec.namespace, rec.name, node_type(rec), rec.internal, distance)


def stored_node(
    nid: str, namespace: str, name: str, internal: bool, type_: str | None, distance: int
) -> QueryNode:
    """:func:`query_node` of a record's fields, without the record."""
    if type_ is None:
        type_ = INTERNAL_DEFAULT_TYPE if internal else EXTERNAL_DEFAULT_TYPE
    return QueryNode(nid, namespace, name, type_, internal, distance)


def query_edge(edge: EdgeRecord, records: Mapping[str, NodeRecord]) -> QueryEdge:
    """The answer's edge of a stored one, its ends named by ``records``."""
    src, dst = records[edge.source], records[edge.target]
    return QueryEdge(
        source=(src.namespace, src.name),
        target=(dst.namespace, dst.name),
        jobs=tuple(sorted(edge.jobs)),
        first_seen=edge.first_seen,
        last_seen=edge.last_seen,
        last_run_id=edge.last_run_id,
        events=edge.events,
    )


@dataclass(frozen=True, slots=True)
class LineageResult:
    """Upstream or downstream of ``root``; ``nodes`` includes the root (distance 0)."""

    root: QueryNode
    nodes: tuple[QueryNode, ...]
    edges: tuple[QueryEdge, ...]
    depth: int
    truncated: bool


@dataclass(frozen=True, slots=True)
class ImpactResult:
    """Every dataset downstream of ``root`` (the root itself excluded)."""

    root: QueryNode
    datasets: tuple[QueryNode, ...]
    depth: int
    truncated: bool


@dataclass(frozen=True, slots=True)
class PathsResult:
    """The shortest paths from ``source`` to ``target``, each a list of edges.

    ``distance`` is None when no path was found within ``max_depth``;
    ``truncated`` when more shortest paths exist than were returned, or when the
    node cap stopped the search before it reached the target.
    """

    source: Dataset
    target: Dataset
    distance: int | None
    paths: tuple[tuple[QueryEdge, ...], ...]
    truncated: bool


@dataclass(frozen=True, slots=True)
class JobLineage:
    """The lineage around a job: ``own`` holds its inputs and outputs (distance
    0) and its edges; ``upstream`` walks from its inputs, ``downstream`` from
    its outputs."""

    job: Dataset
    own: LineageResult
    upstream: LineageResult
    downstream: LineageResult

    @property
    def truncated(self) -> bool:
        return self.upstream.truncated or self.downstream.truncated
