"""The column part of the fold call's payload (``core.fold_payload``).

``"columns"``: ``[[column edge id, source id, source field, target id, target
field | null, firstSeen, lastSeen, [job index, ...], [transformation index,
...]], ...]``, the indexes (from 0) into ``"cj"`` (the batch's job fields) and
``"ct"`` (its transformation fields), which a batch repeats on thousands of
column edges; and ``"cds"``: ``{node id: job-style JSON [namespace, name]}``,
the names of the datasets the column edges touch. ``lua/fold.lua`` folds them
in the same call as the batch's marks and dataset edges.
"""

from __future__ import annotations

from typing import Any, TypeVar

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


K = TypeVar("K")


def _index(table: dict[K, int], item: K) -> int:
    """``item``'s place in ``table``, given the next one when it is new."""
    return table.setdefault(item, len(table))


def encode_columns(columns: ColumnGraph) -> dict[str, Any]:
    """The payload keys of the batch's joined column edges (module doc)."""
    jobs: dict[tuple[str, str], int] = {}
    trans: dict[Transformation, int] = {}
    names: dict[str, str] = {}
    rows = []
    for cid, e in columns.edges.items():
        job_ix = [_index(jobs, job) for job in e.jobs]
        trans_ix = [_index(trans, t) for t in e.transformations]
        for nid in (e.source_id, e.target_id):
            if nid not in names:
                names[nid] = job_field(*columns.datasets[nid])
        rows.append(
            [
                cid,
                e.source_id,
                e.source_field,
                e.target_id,
                e.target_field,
                e.first_seen,
                e.last_seen,
                job_ix,
                trans_ix,
            ]
        )
    return {
        "columns": rows,
        "cj": [job_field(*job) for job in jobs],
        "ct": [transformation_field(t) for t in trans],
        "cds": names,
    }


def decode_columns(data: dict[str, Any], into: ColumnGraph) -> None:
    """The inverse of ``encode_columns``, joined into ``into``."""
    for nid, text in data["cds"].items():
        ns, name = orjson.loads(text)
        into.datasets.setdefault(nid, (ns, name))
    jobs = [(ns, name) for ns, name in map(orjson.loads, data["cj"])]
    trans = [parse_transformation(t) for t in data["ct"]]
    for _cid, sid, sf, tid, tf, first, last, job_ix, trans_ix in data["columns"]:
        edge = ColumnEdgeState(sid, sf, tid, tf, first, last)
        edge.jobs = {jobs[i] for i in job_ix}
        edge.transformations = {trans[i] for i in trans_ix}
        into.join_edge(column_edge_id(edge), edge)
