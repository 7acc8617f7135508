"""The wire payload of one fold call: a batch's dedup marks and its joined lineage.

``encode_batch`` writes the input of ``adapters/lua/fold.lua``; ``decode_batch``
reads it back into a ``Graph``, which is how the in-memory store
(``adapters.memory``) folds exactly what Redis would be sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import orjson

from processor.core.column_payload import ColumnEvent, decode_columns, encode_columns
from processor.core.fold import EdgeState, Graph, NodeState
from processor.core.identity import edge_id, event_mark, job_field
from processor.core.pipeline import RANK_HASH_CHARS, FoldEvent

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
    in order) and its accepted events joined per node and per edge.

    The join is ``fold.Graph.apply``'s, written on the lists that are sent (a
    ``Graph`` of dataclasses cost a helper a fifth of an event's CPU);
    ``decode_batch`` reads it back into a ``Graph``, and the tests hold the two
    equal."""
    # node id -> [namespace, name, internal, type, type's rank]
    nodes: dict[str, list[object]] = {}
    # (source, target) -> [source, target, first, last, run rank, run id, marks, jobs]
    edges: dict[tuple[str, str], list[Any]] = {}
    columns = []
    for fold in folds:
        rank = fold.event_time + fold.content_hash[:RANK_HASH_CHARS]
        for upd in fold.nodes:
            node = nodes.get(upd.node_id)
            if node is None:
                node = nodes[upd.node_id] = [upd.namespace, upd.name, int(upd.internal), None, ""]
            if upd.type is not None and rank > node[4]:  # type: ignore[operator]
                node[3], node[4] = upd.type, rank
        if fold.edges:
            time, run_id = fold.event_time, fold.run_id
            member = _mark_member(event_mark(fold.content_hash))
            job = job_field(*fold.job)
            for pair in fold.edges:
                edge = edges.get(pair)
                if edge is None:
                    edges[pair] = [*pair, time, time, rank, run_id, {member}, {job}]
                    continue
                edge[6].add(member)
                edge[7].add(job)
                if time < edge[2]:
                    edge[2] = time
                if time > edge[3]:
                    edge[3] = time
                if rank > edge[4]:
                    edge[4], edge[5] = rank, run_id
        if fold.columns:
            # encoded from the events, not joined here (core.column_payload)
            columns.append(
                ColumnEvent(fold.columns, fold.column_datasets, fold.job, fold.event_time)
            )
    for node in nodes.values():
        node[4] = node[4] or None
    for edge in edges.values():
        edge[6], edge[7] = list(edge[6]), list(edge[7])
    body: dict[str, object] = {"marks": marks, "nodes": nodes, "edges": list(edges.values())}
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
