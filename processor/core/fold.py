"""The graph fold of docs/design.md section 5, in memory.

This is the reference the Redis store (``adapters/lua/fold.lua``) must agree
with: the property tests prove it commutative and idempotent, and the
integration tests compare Redis snapshots with it. Every attribute is a
join-semilattice (set union, min, max, max-by-rank, set of event marks), which
is what makes any order and any redelivery fold to the same graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from processor.core.column_snapshot import build_column_snapshot, column_records
from processor.core.columns import ColumnGraph
from processor.core.control import DeleteRequest
from processor.core.identity import edge_id, event_mark
from processor.core.pipeline import FoldEvent
from processor.core.snapshot import EdgeRecord, NodeRecord, build_snapshot


@dataclass(slots=True)
class NodeState:
    """A dataset as folded so far; ``type_rank`` is the rank of the event that set ``type``."""

    namespace: str
    name: str
    internal: bool
    type: str | None = None
    type_rank: str = ""


@dataclass(slots=True)
class EdgeState:
    """An edge as folded so far; ``marks`` holds one mark per distinct event."""

    source: str
    target: str
    first_seen: str
    last_seen: str
    run_rank: str = ""
    last_run_id: str | None = None
    jobs: set[tuple[str, str]] = field(default_factory=set)
    marks: set[str] = field(default_factory=set)


class Graph:
    """An in-memory lineage graph with the fold's semantics.

    Also the join of one batch before it goes to Redis: because the fold is
    idempotent, a batch can be joined per node and edge first and the join
    folded in once (``core.fold_payload.encode_batch``).
    """

    def __init__(self) -> None:
        self.nodes: dict[str, NodeState] = {}
        self.edges: dict[str, EdgeState] = {}
        # Tombstones, each the latest requestedAt of the deletes of its kind:
        # per edge, per node for its outgoing and for its incoming edges. They
        # are joins too (max), so deletes and events fold in any order.
        self.edge_deletes: dict[str, str] = {}
        self.out_deletes: dict[str, str] = {}
        self.in_deletes: dict[str, str] = {}
        self.columns = ColumnGraph()  # column lineage (docs/design.md section 5a)

    def delete(self, request: DeleteRequest) -> None:
        """Fold one delete in (docs/design.md section 5); again changes nothing."""
        at = request.requested_at
        if request.source_id is not None and request.target_id is not None:
            table, key = self.edge_deletes, edge_id(request.source_id, request.target_id)
        elif request.source_id is not None:
            table, key = self.out_deletes, request.source_id
        else:
            assert request.target_id is not None
            table, key = self.in_deletes, request.target_id
        if at > table.get(key, ""):
            table[key] = at

    def deleted_until(self, source: str, target: str) -> str:
        """The latest delete covering the edge ``source -> target``; "" if none."""
        return max(
            self.edge_deletes.get(edge_id(source, target), ""),
            self.out_deletes.get(source, ""),
            self.in_deletes.get(target, ""),
        )

    def apply(self, event: FoldEvent) -> None:
        """Fold one accepted event in; applying it again changes nothing."""
        rank = event.rank
        for upd in event.nodes:
            node = self.nodes.get(upd.node_id)
            if node is None:
                node = self.nodes[upd.node_id] = NodeState(upd.namespace, upd.name, upd.internal)
            if upd.type is not None and rank > node.type_rank:
                node.type, node.type_rank = upd.type, rank
        mark = event_mark(event.content_hash)
        for src, dst in event.edges:
            eid = edge_id(src, dst)
            edge = self.edges.get(eid)
            if edge is None:
                edge = self.edges[eid] = EdgeState(src, dst, event.event_time, event.event_time)
            edge.marks.add(mark)
            edge.jobs.add(event.job)
            edge.first_seen = min(edge.first_seen, event.event_time)
            edge.last_seen = max(edge.last_seen, event.event_time)
            if rank > edge.run_rank:
                edge.run_rank, edge.last_run_id = rank, event.run_id
        if event.columns:
            self.columns.apply(event.columns, event.column_datasets, event.job, event.event_time)

    def join(self, other: Graph) -> None:
        """Fold ``other`` in: the result is the fold of both graphs' events,
        every attribute being a join (what ``lua/fold.lua`` does with a batch)."""
        for nid, n in other.nodes.items():
            node = self.nodes.get(nid)
            if node is None:
                node = self.nodes[nid] = NodeState(n.namespace, n.name, n.internal)
            if n.type is not None and n.type_rank > node.type_rank:
                node.type, node.type_rank = n.type, n.type_rank
        for eid, e in other.edges.items():
            edge = self.edges.get(eid)
            if edge is None:
                edge = self.edges[eid] = EdgeState(e.source, e.target, e.first_seen, e.last_seen)
            edge.marks |= e.marks
            edge.jobs |= e.jobs
            edge.first_seen = min(edge.first_seen, e.first_seen)
            edge.last_seen = max(edge.last_seen, e.last_seen)
            if e.run_rank > edge.run_rank:
                edge.run_rank, edge.last_run_id = e.run_rank, e.last_run_id
        for mine, theirs in (
            (self.edge_deletes, other.edge_deletes),
            (self.out_deletes, other.out_deletes),
            (self.in_deletes, other.in_deletes),
        ):
            for key, at in theirs.items():
                if at > mine.get(key, ""):
                    mine[key] = at
        self.columns.join(other.columns)

    def node_records(self) -> dict[str, NodeRecord]:
        """Nodes as the snapshot wants them."""
        return {
            nid: NodeRecord(n.namespace, n.name, n.internal, n.type)
            for nid, n in self.nodes.items()
        }

    def edge_records(self) -> list[EdgeRecord]:
        """Edges as the snapshot wants them."""
        return [
            EdgeRecord(
                e.source,
                e.target,
                frozenset(e.jobs),
                e.first_seen,
                e.last_seen,
                e.last_run_id,
                len(e.marks),
                self.deleted_until(e.source, e.target),
            )
            for e in self.edges.values()
        ]

    def snapshot(self, floor: str = "") -> dict[str, Any]:
        """The canonical snapshot of this graph (``floor``: retention cutoff)."""
        return build_snapshot(self.node_records(), self.edge_records(), floor)

    def column_snapshot(self, floor: str = "") -> dict[str, Any]:
        """The canonical column snapshot (docs/design.md section 5a)."""
        records = column_records(self.columns, self.deleted_until)
        return build_column_snapshot(records, floor)
