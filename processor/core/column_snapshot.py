"""The canonical column snapshot and its sha256 (docs/design.md section 5a).

Both stores hand their column edges here as records, so the hashed bytes come
from one function (hashed as the dataset snapshot, ``core.snapshot``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from processor.core.columns import ColumnGraph, Transformation
from processor.core.snapshot import QualifiedName


@dataclass(frozen=True, slots=True)
class ColumnEdgeRecord:
    """A column edge as stored, with the names of its two datasets."""

    source: tuple[str, str, str]  # (namespace, name, field)
    target: tuple[str, str, str | None]
    transformations: frozenset[Transformation]
    jobs: frozenset[tuple[str, str]]
    first_seen: str
    last_seen: str
    # The latest delete covering the dataset pair (its edge tombstone, the
    # source's outgoing or the target's incoming one); "" when none.
    deleted_until: str = ""

    def shown(self, floor: str = "") -> bool:
        """Not hidden by a delete nor, under retention, older than ``floor``."""
        return self.last_seen > self.deleted_until and self.last_seen > floor


def transformation_dicts(trans: Iterable[Transformation]) -> list[dict[str, Any]]:
    """Sorted by (type, subtype, masking false first), as the snapshot wants them."""
    return [{"type": t, "subtype": s, "masking": m} for t, s, m in sorted(trans)]


def column_edge_dict(e: ColumnEdgeRecord) -> dict[str, Any]:
    """One column edge in the snapshot's shape."""
    return {
        "source": {"namespace": e.source[0], "name": e.source[1], "field": e.source[2]},
        "target": {"namespace": e.target[0], "name": e.target[1], "field": e.target[2]},
        "transformations": transformation_dicts(e.transformations),
        "jobs": [{"namespace": ns, "name": nm} for ns, nm in sorted(e.jobs)],
        "firstSeen": e.first_seen,
        "lastSeen": e.last_seen,
    }


def _order(e: ColumnEdgeRecord) -> tuple[Any, ...]:
    tns, tname, tfield = e.target
    # null first among the target fields
    return (e.source, tns, tname, tfield is not None, tfield or "")


def build_column_snapshot(edges: Iterable[ColumnEdgeRecord], floor: str = "") -> dict[str, Any]:
    """Visible column edges in canonical order (docs/design.md section 5a)."""
    shown = sorted((e for e in edges if e.shown(floor)), key=_order)
    return {"columnEdges": [column_edge_dict(e) for e in shown]}


def column_records(columns: ColumnGraph, deleted_until: Any = None) -> list[ColumnEdgeRecord]:
    """The column edges of the reference fold as records; ``deleted_until``
    (source id, target id) -> the latest delete covering that pair."""
    out = []
    for (sid, sf, tid, tf), (first, last, jobs, trans) in columns.state.items():
        sns, sname = columns.datasets[sid]
        tns, tname = columns.datasets[tid]
        out.append(
            ColumnEdgeRecord(
                (sns, sname, sf),
                (tns, tname, tf),
                frozenset(trans),
                frozenset(jobs),
                first,
                last,
                deleted_until(sid, tid) if deleted_until else "",
            )
        )
    return out


def column_counts(snapshot: dict[str, Any]) -> dict[str, int]:
    """What ``?hash=1`` reports beside the hash."""
    return {"columnEdges": len(snapshot["columnEdges"])}


class ColumnRef(QualifiedName):
    """A column; ``field`` null on a target: the dataset as a whole."""

    field: str | None


class ColumnTransformation(BaseModel):
    """One transformation of a column edge."""

    model_config = ConfigDict(extra="forbid")
    type: str
    subtype: str
    masking: bool


class ColumnJob(QualifiedName):
    """A job that produced the column edge."""


class ColumnSnapshotEdge(BaseModel):
    """A visible column edge with its folded attributes."""

    model_config = ConfigDict(extra="forbid")
    source: ColumnRef
    target: ColumnRef
    transformations: list[ColumnTransformation]
    jobs: list[ColumnJob]
    firstSeen: str
    lastSeen: str


class ColumnSnapshot(BaseModel):
    """``GET /api/v1/graph/column-snapshot`` and ``lineage-processor snapshot --columns``."""

    model_config = ConfigDict(extra="forbid", title="Column lineage canonical snapshot")
    columnEdges: list[ColumnSnapshotEdge]
