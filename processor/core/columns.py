"""Column lineage (docs/design.md section 5a): extraction from the
``columnLineage`` facet, and the reference column fold.

Facets are never validated: a piece of another shape is skipped, counted, and
the event is still accepted. Every attribute of a column edge is a lattice join
(set union, min, max), so folding an event twice, or in any order, changes
nothing, and no per-event memory is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from processor.core.identity import node_id

# Why a column edge (or a piece of the facet) was not folded: the label of
# ``lineage_column_lineage_dropped_total``.
DROP_TOO_MANY = "too_many"
DROP_MALFORMED = "malformed"
DROP_SAME_SIDE = "same_side"
DROP_SAME_DATASET = "same_dataset"
COLUMN_DROP_REASONS = (DROP_TOO_MANY, DROP_MALFORMED, DROP_SAME_SIDE, DROP_SAME_DATASET)

Transformation = tuple[str, str, bool]  # (type, subtype, masking)
# (source dataset id, source field, target dataset id, target field | None)
ColumnKey = tuple[str, str, str, str | None]


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


def column_key(fact: ColumnFact | ColumnEdgeState) -> ColumnKey:
    """A column edge's identity in the reference fold: its two columns."""
    return (fact.source_id, fact.source_field, fact.target_id, fact.target_field)


def _transformations(listed: Any, legacy: str | None) -> frozenset[Transformation]:
    """The element's transformations (docs/design.md section 5a), else the legacy one."""
    if type(listed) is list and listed:
        found: set[Transformation] = set()
        for t in listed:
            if type(t) is not dict:
                continue
            kind = t.get("type")
            if type(kind) is not str or not kind or "\x00" in kind:
                continue
            subtype = t.get("subtype")
            if type(subtype) is not str or "\x00" in subtype:
                subtype = ""
            found.add((kind, subtype, t.get("masking") is True))
        if found:
            return frozenset(found)
    if legacy is not None:
        return frozenset(((legacy, "", legacy == "MASKED"),))
    return _NONE


_NONE: frozenset[Transformation] = frozenset()


def _good(value: Any, limit: int) -> bool:
    """A usable string of the facet: non-empty, no NUL, within ``limit`` code points."""
    return type(value) is str and 0 < len(value) <= limit and "\x00" not in value


def extract_columns(
    outputs: Sequence[Any], is_internal: Any, mixed: bool, limit: int, max_edges: int
) -> ColumnExtract:
    """The column edges of an accepted event's outputs (``core.models.Dataset``).

    ``is_internal``: the mix rule's namespace test; ``mixed``: whether the rule
    is ``mixed``; ``limit``: the name length bound; ``max_edges``: the cap on
    distinct kept column edges, past which none is kept (``too_many``).

    One tight loop over the already-decoded facet: facets are never validated,
    only read, and this is the hot path of an event carrying them.
    """
    edges: dict[tuple[str, str, str, str, str, str | None], frozenset[Transformation]] = {}
    dropped: dict[str, int] = {}
    side: dict[str, bool] = {}  # namespace -> internal, asked once an event
    no_limit = 1 << 62
    for out in outputs:
        facets = out.facets
        if not facets:
            continue
        facet = facets.get("columnLineage")
        if facet is None:
            continue
        if type(facet) is not dict:
            dropped[DROP_MALFORMED] = dropped.get(DROP_MALFORMED, 0) + 1
            continue
        out_ns, out_name = out.namespace, out.name
        if mixed:
            out_side = side.get(out_ns)
            if out_side is None:
                out_side = side[out_ns] = bool(is_internal(out_ns))
        groups: list[tuple[Any, str | None, str | None]] = []
        fields = facet.get("fields")
        if fields is not None and type(fields) is not dict:
            dropped[DROP_MALFORMED] = dropped.get(DROP_MALFORMED, 0) + 1
        elif fields:
            for fname, entry in fields.items():
                inputs = entry.get("inputFields") if type(entry) is dict else None
                if not _good(fname, limit) or type(inputs) is not list:
                    dropped[DROP_MALFORMED] = dropped.get(DROP_MALFORMED, 0) + 1
                    continue
                legacy = entry.get("transformationType")
                if not _good(legacy, no_limit):
                    legacy = None
                groups.append((inputs, fname, legacy))
        whole = facet.get("dataset")
        if whole is not None and type(whole) is not list:
            dropped[DROP_MALFORMED] = dropped.get(DROP_MALFORMED, 0) + 1
        elif whole:
            groups.append((whole, None, None))
        for inputs, target, legacy in groups:
            for el in inputs:
                if type(el) is not dict:
                    dropped[DROP_MALFORMED] = dropped.get(DROP_MALFORMED, 0) + 1
                    continue
                ns, name, fld = el.get("namespace"), el.get("name"), el.get("field")
                if not (_good(ns, no_limit) and _good(name, limit) and _good(fld, limit)):
                    dropped[DROP_MALFORMED] = dropped.get(DROP_MALFORMED, 0) + 1
                    continue
                if name == out_name and ns == out_ns:
                    dropped[DROP_SAME_DATASET] = dropped.get(DROP_SAME_DATASET, 0) + 1
                    continue
                if mixed:
                    in_side = side.get(ns)
                    if in_side is None:
                        in_side = side[ns] = bool(is_internal(ns))
                    if in_side == out_side:
                        dropped[DROP_SAME_SIDE] = dropped.get(DROP_SAME_SIDE, 0) + 1
                        continue
                trans = _transformations(el.get("transformations"), legacy)
                key = (ns, name, fld, out_ns, out_name, target)
                found = edges.get(key)
                edges[key] = trans if found is None else found | trans
    if not edges:
        return ColumnExtract((), (), tuple(sorted(dropped.items())))
    if len(edges) > max_edges:
        dropped[DROP_TOO_MANY] = dropped.get(DROP_TOO_MANY, 0) + len(edges)
        return ColumnExtract((), (), tuple(sorted(dropped.items())))
    datasets: dict[tuple[str, str], str] = {}
    facts = []
    for (sns, sname, sf, tns, tname, tf), trans in edges.items():
        sid = datasets.get((sns, sname))
        if sid is None:
            sid = datasets[(sns, sname)] = node_id(sns, sname)
        tid = datasets.get((tns, tname))
        if tid is None:
            tid = datasets[(tns, tname)] = node_id(tns, tname)
        facts.append(ColumnFact(sid, sf, tid, tf, trans))
    return ColumnExtract(
        tuple(facts),
        tuple((nid, ns, nm) for (ns, nm), nid in datasets.items()),
        tuple(sorted(dropped.items())),
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
        self.edges: dict[ColumnKey, ColumnEdgeState] = {}
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
            cid = column_key(f)
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

    def join_edge(self, cid: ColumnKey, e: ColumnEdgeState) -> None:
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
