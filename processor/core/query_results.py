"""The answers of the lineage queries (``core.queries``) and their JSON shapes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from processor.core.graph_reader import Dataset


@dataclass(frozen=True, slots=True)
class QueryNode:
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


@dataclass(frozen=True, slots=True)
class QueryEdge:
    """An edge with its folded attributes (docs/design.md section 5)."""

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
