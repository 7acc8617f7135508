"""The wire payload of one fold call: a batch's dedup marks and its joined lineage.

``encode_batch`` writes the input of ``adapters/lua/fold.lua``; ``decode_batch``
reads it back into a ``Graph``, which is how the in-memory store
(``adapters.memory``) folds exactly what Redis would be sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import orjson

from processor.core.column_payload import ColumnEvent, decode_columns, encode_columns
from processor.core.fold import EdgeState, Graph, NodeState
from processor.core.identity import edge_id, job_field
from processor.core.pipeline import FoldEvent

# The outcome a dedup mark records (docs/design.md section 3, steps 5 to 8).
OUTCOME_ACCEPTED = "a"
OUTCOME_IGNORED = "i"
OUTCOME_REJECTED = "r"

_MARK_OFFSET = 1 << 63


class FoldPayload(NamedTuple):
    """A decoded payload: the marks (hash, outcome) in order, and the joined graph."""

    marks: list[tuple[str, str]]
    graph: Graph


def encode_batch(marks: Sequence[tuple[str, str]], folds: Iterable[FoldEvent]) -> bytes:
    """The input of ``lua/fold.lua``: the batch's dedup marks ((hash, outcome)
    in order) and its accepted events joined per node and per edge."""
    joined = Graph()
    columns = []
    for fold in folds:
        if fold.columns:
            # encoded from the events, not joined here (core.column_payload)
            columns.append(
                ColumnEvent(fold.columns, fold.column_datasets, fold.job, fold.event_time)
            )
            fold = fold._replace(columns=())
        joined.apply(fold)
    nodes = {
        nid: [n.namespace, n.name, int(n.internal), n.type, n.type_rank or None]
        for nid, n in joined.nodes.items()
    }
    edges = [
        [
            e.source,
            e.target,
            e.first_seen,
            e.last_seen,
            e.run_rank,
            e.last_run_id,
            [_mark_member(m) for m in e.marks],
            [job_field(*job) for job in e.jobs],
        ]
        for e in joined.edges.values()
    ]
    body: dict[str, object] = {"marks": marks, "nodes": nodes, "edges": edges}
    if columns:
        body.update(encode_columns(columns))
    return orjson.dumps(body)


def decode_batch(payload: bytes) -> FoldPayload:
    """The inverse of ``encode_batch``: the join it carries, as a ``Graph``."""
    data = orjson.loads(payload)
    graph = Graph()
    for nid, (namespace, name, internal, type_, rank) in data["nodes"].items():
        graph.nodes[nid] = NodeState(namespace, name, bool(internal), type_, rank or "")
    for source, target, first, last, rank, run_id, members, jobs in data["edges"]:
        edge = EdgeState(source, target, first, last, rank, run_id)
        edge.marks = {f"{int(m) + _MARK_OFFSET:016x}" for m in members}
        edge.jobs = {(ns, name) for ns, name in map(orjson.loads, jobs)}
        graph.edges[edge_id(source, target)] = edge
    if "columns" in data:
        decode_columns(data, graph.columns)
    return FoldPayload([(h, outcome) for h, outcome in data["marks"]], graph)


def _mark_member(mark: str) -> str:
    # 64 bits of the content hash as a signed integer, so that Redis keeps the
    # set as an intset (8 bytes a member). Sent as a string: the Lua JSON
    # decoder reads numbers as doubles, which would keep only 53 of the bits.
    return str(int(mark, 16) - _MARK_OFFSET)
