"""The column part of the fold call's payload (``core.fold_payload``).

``"columns"``: ``[[column edge id, source id, source field, target id, target
field | null, firstSeen, lastSeen, [job field, ...], [transformation field,
...]], ...]`` and ``"cds"``: ``{node id: job-style JSON [namespace, name]}``,
the names of the datasets the column edges touch. ``lua/fold.lua`` folds them
in the same call as the batch's marks and dataset edges.
"""

from __future__ import annotations

from typing import Any

import orjson

from processor.core.columns import ColumnEdgeState, ColumnGraph, Transformation, column_edge_id
from processor.core.identity import job_field

# A transformation as a field of the column edge's hash: this prefix and the
# JSON [type, subtype, masking]. Jobs are fields starting with "[".
TRANSFORMATION_PREFIX = "x"


def transformation_field(t: Transformation) -> str:
    """A transformation as an injective string."""
    return TRANSFORMATION_PREFIX + orjson.dumps([t[0], t[1], t[2]]).decode()


def parse_transformation(text: str) -> Transformation:
    """The inverse of ``transformation_field``."""
    kind, subtype, masking = orjson.loads(text[len(TRANSFORMATION_PREFIX) :])
    return (kind, subtype, bool(masking))


def encode_columns(columns: ColumnGraph) -> tuple[list[list[Any]], dict[str, str]]:
    """The batch's joined column edges and the names of their datasets."""
    rows = [
        [
            cid,
            e.source_id,
            e.source_field,
            e.target_id,
            e.target_field,
            e.first_seen,
            e.last_seen,
            [job_field(*job) for job in e.jobs],
            [transformation_field(t) for t in e.transformations],
        ]
        for cid, e in columns.edges.items()
    ]
    names: dict[str, str] = {}
    for e in columns.edges.values():
        for nid in (e.source_id, e.target_id):
            if nid not in names:
                names[nid] = job_field(*columns.datasets[nid])
    return rows, names


def decode_columns(rows: list[list[Any]], names: dict[str, str], into: ColumnGraph) -> None:
    """The inverse of ``encode_columns``, joined into ``into``."""
    for nid, text in names.items():
        ns, name = orjson.loads(text)
        into.datasets.setdefault(nid, (ns, name))
    for _cid, sid, sf, tid, tf, first, last, jobs, trans in rows:
        edge = ColumnEdgeState(sid, sf, tid, tf, first, last)
        edge.jobs = {(ns, name) for ns, name in map(orjson.loads, jobs)}
        edge.transformations = {parse_transformation(t) for t in trans}
        into.join_edge(column_edge_id(edge), edge)
