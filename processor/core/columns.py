"""Column lineage (docs/design.md section 5a): extraction from the
``columnLineage`` facet, and the reference column fold.

Facets are never validated: a piece of another shape is skipped, counted, and
the event is still accepted. Every attribute of a column edge is a lattice join
(set union, min, max), so folding an event twice, or in any order, changes
nothing, and no per-event memory is kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

from processor.core.identity import node_id

# Why a column edge (or a piece of the facet) was not folded: the label of
# ``lineage_column_lineage_dropped_total``.
DROP_TOO_MANY = "too_many"
DROP_MALFORMED = "malformed"
DROP_SAME_SIDE = "same_side"
DROP_SAME_DATASET = "same_dataset"
COLUMN_DROP_REASONS = (DROP_TOO_MANY, DROP_MALFORMED, DROP_SAME_SIDE, DROP_SAME_DATASET)

COLUMN_ID_CHARS = 32

Transformation = tuple[str, str, bool]  # (type, subtype, masking)


class ColumnFact(NamedTuple):
    """What one accepted event says about one column edge."""

    source_id: str
    source_field: str
    target_id: str
    target_field: str | None  # None: a dependency of the whole target dataset
    transformations: frozenset[Transformation]


class ColumnExtract(NamedTuple):
    """An event's column edges, the datasets they name, and what was dropped."""

    facts: tuple[ColumnFact, ...]
    datasets: tuple[tuple[str, str, str], ...]  # (node id, namespace, name)
    dropped: tuple[tuple[str, int], ...]


NO_COLUMNS = ColumnExtract((), (), ())


@lru_cache(maxsize=65536)
def column_id(dataset_id: str, field: str | None) -> str:
    """Fixed-width identity of a column (``None``: the dataset as a whole).

    A field is never empty (empty fields are skipped), so "" stands for None.
    The dataset id is fixed width, so the concatenation is injective.
    """
    data = (dataset_id + (field or "")).encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()[:COLUMN_ID_CHARS]


def column_edge_id(fact: ColumnFact | ColumnEdgeState) -> str:
    """Source column id + target column id: fixed width, injective."""
    return column_id(fact.source_id, fact.source_field) + column_id(
        fact.target_id, fact.target_field
    )


def _text(value: Any, limit: int | None) -> str | None:
    """A usable string of the facet: non-empty, no NUL, within ``limit`` code points."""
    if not isinstance(value, str) or not value or "\x00" in value:
        return None
    if limit is not None and len(value) > limit:
        return None
    return value


def _transformations(element: dict[str, Any], legacy: str | None) -> frozenset[Transformation]:
    found: set[Transformation] = set()
    listed = element.get("transformations")
    if isinstance(listed, list):
        for t in listed:
            if not isinstance(t, dict):
                continue
            kind = _text(t.get("type"), None)
            if kind is None:
                continue
            subtype = t.get("subtype")
            if not isinstance(subtype, str) or "\x00" in subtype:
                subtype = ""
            found.add((kind, subtype, t.get("masking") is True))
    if not found and legacy is not None:
        found.add((legacy, "", legacy == "MASKED"))
    return frozenset(found)


class _Collector:
    """Joins the pieces of one event per column edge, counting what it skips."""

    def __init__(self, is_internal: Any, mixed: bool, limit: int) -> None:
        self.is_internal = is_internal
        self.mixed = mixed
        self.limit = limit
        self.edges: dict[tuple[str, str, str, str, str, str | None], set[Transformation]] = {}
        self.dropped: dict[str, int] = {}

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + n

    def add(self, element: Any, out_ns: str, out_name: str, out_field: str | None,
            legacy: str | None) -> None:  # fmt: skip
        if not isinstance(element, dict):
            self.drop(DROP_MALFORMED)
            return
        ns = _text(element.get("namespace"), None)
        name = _text(element.get("name"), self.limit)
        fld = _text(element.get("field"), self.limit)
        if ns is None or name is None or fld is None:
            self.drop(DROP_MALFORMED)
            return
        if ns == out_ns and name == out_name:
            self.drop(DROP_SAME_DATASET)
            return
        if self.mixed and self.is_internal(ns) == self.is_internal(out_ns):
            self.drop(DROP_SAME_SIDE)
            return
        key = (ns, name, fld, out_ns, out_name, out_field)
        found = self.edges.get(key)
        if found is None:
            found = self.edges[key] = set()
        found |= _transformations(element, legacy)


def extract_columns(
    outputs: Sequence[Any], is_internal: Any, mixed: bool, limit: int, max_edges: int
) -> ColumnExtract:
    """The column edges of an accepted event's outputs (``core.models.Dataset``).

    ``is_internal``: the mix rule's namespace test; ``mixed``: whether the rule
    is ``mixed``; ``limit``: the name length bound; ``max_edges``: the cap on
    distinct kept column edges, past which none is kept (``too_many``).
    """
    # Most events carry no column lineage: answer them without the collector.
    if not any(out.facets and "columnLineage" in out.facets for out in outputs):
        return NO_COLUMNS
    c = _Collector(is_internal, mixed, limit)
    for out in outputs:
        facets = out.facets
        if not facets:
            continue
        facet = facets.get("columnLineage")
        if facet is None:
            continue
        if not isinstance(facet, dict):
            c.drop(DROP_MALFORMED)
            continue
        fields = facet.get("fields")
        if fields is not None and not isinstance(fields, dict):
            c.drop(DROP_MALFORMED)
        elif fields:
            for fname, entry in fields.items():
                target = _text(fname, limit)
                inputs = entry.get("inputFields") if isinstance(entry, dict) else None
                if target is None or not isinstance(inputs, list):
                    c.drop(DROP_MALFORMED)
                    continue
                legacy = _text(entry.get("transformationType"), None)
                for element in inputs:
                    c.add(element, out.namespace, out.name, target, legacy)
        whole = facet.get("dataset")
        if whole is not None and not isinstance(whole, list):
            c.drop(DROP_MALFORMED)
        elif whole:
            for element in whole:
                c.add(element, out.namespace, out.name, None, None)
    if not c.edges:
        return ColumnExtract((), (), tuple(sorted(c.dropped.items())))
    if len(c.edges) > max_edges:
        c.drop(DROP_TOO_MANY, len(c.edges))
        return ColumnExtract((), (), tuple(sorted(c.dropped.items())))
    datasets: dict[tuple[str, str], str] = {}
    facts = []
    for (sns, sname, sf, tns, tname, tf), trans in c.edges.items():
        sid = datasets.get((sns, sname))
        if sid is None:
            sid = datasets[(sns, sname)] = node_id(sns, sname)
        tid = datasets.get((tns, tname))
        if tid is None:
            tid = datasets[(tns, tname)] = node_id(tns, tname)
        facts.append(ColumnFact(sid, sf, tid, tf, frozenset(trans)))
    return ColumnExtract(
        tuple(facts),
        tuple((nid, ns, nm) for (ns, nm), nid in datasets.items()),
        tuple(sorted(c.dropped.items())),
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


class ColumnGraph:
    """The column edges of a graph and the names of the datasets they touch."""

    def __init__(self) -> None:
        self.edges: dict[str, ColumnEdgeState] = {}
        self.datasets: dict[str, tuple[str, str]] = {}  # node id -> (namespace, name)

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
        for f in facts:
            cid = column_edge_id(f)
            edge = self.edges.get(cid)
            if edge is None:
                edge = self.edges[cid] = ColumnEdgeState(
                    f.source_id, f.source_field, f.target_id, f.target_field, event_time, event_time
                )
            else:
                edge.first_seen = min(edge.first_seen, event_time)
                edge.last_seen = max(edge.last_seen, event_time)
            edge.jobs.add(job)
            edge.transformations |= f.transformations

    def join(self, other: ColumnGraph) -> None:
        """Fold ``other`` in: every attribute is a join."""
        for nid, names in other.datasets.items():
            self.datasets.setdefault(nid, names)
        for cid, e in other.edges.items():
            self.join_edge(cid, e)

    def join_edge(self, cid: str, e: ColumnEdgeState) -> None:
        """Fold one column edge state in (``e`` is not kept)."""
        edge = self.edges.get(cid)
        if edge is None:
            edge = self.edges[cid] = ColumnEdgeState(
                e.source_id, e.source_field, e.target_id, e.target_field,
                e.first_seen, e.last_seen,
            )  # fmt: skip
        else:
            edge.first_seen = min(edge.first_seen, e.first_seen)
            edge.last_seen = max(edge.last_seen, e.last_seen)
        edge.jobs |= e.jobs
        edge.transformations |= e.transformations
