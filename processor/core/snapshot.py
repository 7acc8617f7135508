"""The canonical snapshot of the graph and its sha256 (docs/design.md section 5).

Both graph stores (Redis, and the in-memory reference fold) hand their state
here as records, so the bytes that are hashed are produced by one function.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

INTERNAL_DEFAULT_TYPE = "TABLE"
EXTERNAL_DEFAULT_TYPE = "External Node"


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """A dataset as stored: its type is ``None`` until an event names one."""

    namespace: str
    name: str
    internal: bool
    type: str | None


@dataclass(frozen=True, slots=True)
class EdgeRecord:
    """An edge as stored, endpoints by node id."""

    source: str
    target: str
    jobs: frozenset[tuple[str, str]]
    first_seen: str
    last_seen: str
    last_run_id: str | None
    events: int
    # The latest delete covering this edge (of the edge itself, of every edge
    # out of its source or into its target); "" when none. The edge is hidden
    # while its lastSeen is not after it.
    deleted_until: str = ""

    @property
    def visible(self) -> bool:
        """Not hidden by a delete: seen again after the latest one covering it."""
        return self.last_seen > self.deleted_until

    def shown(self, floor: str = "") -> bool:
        """Visible and, under retention, seen after the cutoff ``floor``."""
        return self.last_seen > self.deleted_until and self.last_seen > floor


def node_type(node: NodeRecord) -> str:
    """The snapshot ``type``: the newest datasetType, else the side's default."""
    if node.type is not None:
        return node.type
    return INTERNAL_DEFAULT_TYPE if node.internal else EXTERNAL_DEFAULT_TYPE


def build_snapshot(
    nodes: Mapping[str, NodeRecord], edges: Iterable[EdgeRecord], floor: str = ""
) -> dict[str, Any]:
    """Visible nodes and edges in canonical order: nodes by (namespace, name),
    edges by (source, target), jobs by (namespace, name). ``floor``: the
    retention cutoff (``EdgeRecord.shown``); "" keeps every visible edge."""
    edge_list: list[tuple[tuple[str, str, str, str], dict[str, Any]]] = []
    touched: set[str] = set()
    for e in edges:
        if not e.shown(floor):
            continue
        src, dst = nodes[e.source], nodes[e.target]
        touched.add(e.source)
        touched.add(e.target)
        edge_list.append(
            (
                (src.namespace, src.name, dst.namespace, dst.name),
                {
                    "source": {"namespace": src.namespace, "name": src.name},
                    "target": {"namespace": dst.namespace, "name": dst.name},
                    "jobs": [{"namespace": ns, "name": nm} for ns, nm in sorted(e.jobs)],
                    "firstSeen": e.first_seen,
                    "lastSeen": e.last_seen,
                    "lastRunId": e.last_run_id,
                    "events": e.events,
                },
            )
        )
    edge_list.sort(key=lambda item: item[0])
    node_list = sorted(
        (
            {
                "namespace": n.namespace,
                "name": n.name,
                "type": node_type(n),
                "internal": n.internal,
            }
            for nid, n in nodes.items()
            if nid in touched
        ),
        key=lambda d: (d["namespace"], d["name"]),
    )
    return {"nodes": node_list, "edges": [item[1] for item in edge_list]}


def canonical_bytes(snapshot: Mapping[str, Any]) -> bytes:
    """Sorted keys, separators ``,`` ``:``, UTF-8, no ASCII escaping."""
    return json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def snapshot_hash(snapshot: Mapping[str, Any]) -> str:
    """Hex sha256 of the canonical bytes."""
    return hashlib.sha256(canonical_bytes(snapshot)).hexdigest()


class QualifiedName(BaseModel):
    """A namespace and a name: what names a dataset or a job."""

    model_config = ConfigDict(extra="forbid")
    namespace: str
    name: str


class SnapshotDataset(QualifiedName):
    """A dataset reference inside an edge."""


class SnapshotNode(BaseModel):
    """A visible dataset."""

    model_config = ConfigDict(extra="forbid")
    namespace: str
    name: str
    type: str
    internal: bool


class SnapshotEdge(BaseModel):
    """A visible edge with its folded attributes."""

    model_config = ConfigDict(extra="forbid")
    source: SnapshotDataset
    target: SnapshotDataset
    jobs: list[SnapshotDataset]
    firstSeen: str
    lastSeen: str
    lastRunId: str | None
    events: int


class Snapshot(BaseModel):
    """``GET /api/v1/graph/snapshot`` and ``lineage-processor snapshot``."""

    model_config = ConfigDict(extra="forbid", title="Lineage graph canonical snapshot")
    nodes: list[SnapshotNode]
    edges: list[SnapshotEdge]
