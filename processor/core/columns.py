"""Column lineage (docs/design.md section 5a): extraction from the
``columnLineage`` facet, and the reference column fold.

Facets are never validated: a piece of another shape is skipped, counted, and
the event is still accepted. Every attribute of a column edge is a lattice join
(set union, min, max), so folding an event twice, or in any order, changes
nothing, and no per-event memory is kept.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter
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
_ID_CHARS = len(node_id("", ""))
# An element's (namespace, name) in one C call; KeyError when one is missing.
_dataset_of = itemgetter("namespace", "name")
# ColumnFact(...) without the Python-level __new__ of a NamedTuple: one a column edge
_new_fact = tuple.__new__


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
            if len(found) == 1:
                return _single(*found)
            return frozenset(found)
    if legacy is not None:
        return _single((legacy, "", legacy == "MASKED"))
    return _NONE


@lru_cache(maxsize=4096)
def _single(t: Transformation) -> frozenset[Transformation]:
    """One transformation as a set, shared: most column edges carry exactly one
    of a handful, and a shared set makes the batch join's subset tests cheap."""
    return frozenset((t,))


_NONE: frozenset[Transformation] = frozenset()


def _verdict(
    ns: Any, name: Any, out_ns: str, out_name: str, limit: int, out_side: bool,
    side: dict[str, bool], is_internal: Any,
) -> str:  # fmt: skip
    """Why an input dataset's column edges into the output are dropped, "" if
    they are not (the element's field aside). ``is_internal`` None: not mixed."""
    if not (_good(ns, 1 << 62) and _good(name, limit)):
        return DROP_MALFORMED
    if name == out_name and ns == out_ns:
        return DROP_SAME_DATASET
    if is_internal is not None:
        in_side = side.get(ns)
        if in_side is None:
            in_side = side[ns] = bool(is_internal(ns))
        if in_side == out_side:
            return DROP_SAME_SIDE
    return ""


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
    # ColumnKey -> transformations
    edges: dict[tuple[Any, ...], frozenset[Transformation]] = {}
    dropped: dict[str, int] = {}
    side: dict[str, bool] = {}  # namespace -> internal, asked once an event
    seen_trans: dict[tuple[Any, ...], frozenset[Transformation]] = {}
    names: dict[str, tuple[str, str]] = {}  # node id -> (namespace, name)
    setdefault = edges.setdefault
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
        out_side = False
        if mixed:
            known = side.get(out_ns)
            out_side = side[out_ns] = bool(is_internal(out_ns)) if known is None else known
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
        if not groups:
            continue
        tid = node_id(out_ns, out_name)
        # per input dataset of this output: its node id when kept, else the
        # drop reason (a node id is 32 hex digits, a reason is shorter)
        verdicts: dict[tuple[Any, Any], str] = {}
        for inputs, target, legacy in groups:
            legacy_set = _NONE if legacy is None else _single((legacy, "", legacy == "MASKED"))
            for el in inputs:
                if type(el) is not dict:
                    dropped[DROP_MALFORMED] = dropped.get(DROP_MALFORMED, 0) + 1
                    continue
                fld = el.get("field")
                if type(fld) is not str or not 0 < len(fld) <= limit or "\x00" in fld:
                    dropped[DROP_MALFORMED] = dropped.get(DROP_MALFORMED, 0) + 1
                    continue
                try:
                    sid = verdicts[_dataset_of(el)]
                except (KeyError, TypeError):  # TypeError: not hashable, so not a string
                    ns: Any = el.get("namespace")
                    name: Any = el.get("name")
                    sid = _verdict(ns, name, out_ns, out_name, limit, mixed and out_side, side,
                                   is_internal if mixed else None)  # fmt: skip
                    if not sid:
                        sid = node_id(ns, name)
                        names[sid] = (ns, name)
                    if type(ns) is str and type(name) is str:
                        verdicts[(ns, name)] = sid
                if len(sid) != _ID_CHARS:  # a drop reason
                    dropped[sid] = dropped.get(sid, 0) + 1
                    continue
                listed = el.get("transformations")
                if listed is None:
                    trans = legacy_set
                elif type(listed) is list and len(listed) == 1 and type(listed[0]) is dict:
                    # the usual shape: one transformation, of a handful per event
                    t = listed[0]
                    # masking as `is True`: 1 == True would share a set with true
                    raw = (t.get("type"), t.get("subtype"), t.get("masking") is True, legacy)
                    try:
                        trans = seen_trans[raw]
                    except (KeyError, TypeError):  # TypeError: a value is not hashable
                        trans = _transformations(listed, legacy)
                        with contextlib.suppress(TypeError):
                            seen_trans[raw] = trans
                else:
                    trans = _transformations(listed, legacy)
                key = (sid, fld, tid, target)
                found = setdefault(key, trans)
                if found is not trans:
                    edges[key] = found | trans
        names[tid] = (out_ns, out_name)
    if not edges:
        return ColumnExtract((), (), tuple(sorted(dropped.items())))
    if len(edges) > max_edges:
        dropped[DROP_TOO_MANY] = dropped.get(DROP_TOO_MANY, 0) + len(edges)
        return ColumnExtract((), (), tuple(sorted(dropped.items())))
    used = {k[0] for k in edges}
    used.update(k[2] for k in edges)
    return ColumnExtract(
        tuple([_new_fact(ColumnFact, (*k, t)) for k, t in edges.items()]),
        tuple((nid, *names[nid]) for nid in used),
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


class _EdgeView(Mapping[ColumnKey, ColumnEdgeState]):
    """``ColumnGraph.state`` seen as ``ColumnEdgeState``s, each made when asked for."""

    def __init__(self, state: dict[ColumnKey, list[Any]]) -> None:
        self.state = state

    def __getitem__(self, k: ColumnKey) -> ColumnEdgeState:
        v = self.state[k]
        return ColumnEdgeState(k[0], k[1], k[2], k[3], v[0], v[1], set(v[2]), set(v[3]))

    def __iter__(self) -> Iterator[ColumnKey]:
        return iter(self.state)

    def __len__(self) -> int:
        return len(self.state)


class ColumnGraph:
    """The column edges of a graph and the names of the datasets they touch.

    ``state`` holds each column edge as ``[firstSeen, lastSeen, jobs,
    transformations]`` (the sets frozen, shared between the edges of an event
    or a batch): the batch join runs on every column edge of every event, so
    it allocates as little as it can. ``edges`` gives them as records."""

    def __init__(self) -> None:
        self.state: dict[ColumnKey, list[Any]] = {}
        self.datasets: dict[str, tuple[str, str]] = {}  # node id -> (namespace, name)

    @property
    def edges(self) -> Mapping[ColumnKey, ColumnEdgeState]:
        """The column edges as states (built on access, for readers and tests)."""
        return _EdgeView(self.state)

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
        state = self.state
        jobs = frozenset((job,))
        t = event_time
        for f in facts:
            key = f[:4]  # column_key(f), without the call
            cur = state.get(key)
            if cur is None:
                state[key] = [t, t, jobs, f[4]]
                continue
            if t < cur[0]:
                cur[0] = t
            if t > cur[1]:
                cur[1] = t
            if job not in cur[2]:
                cur[2] = cur[2] | jobs
            if not f[4] <= cur[3]:
                cur[3] = cur[3] | f[4]

    def join(self, other: ColumnGraph) -> None:
        """Fold ``other`` in: every attribute is a join."""
        for nid, names in other.datasets.items():
            self.datasets.setdefault(nid, names)
        for key, (first, last, jobs, trans) in other.state.items():
            self.join_edge(key, first, last, jobs, trans)

    def join_edge(
        self,
        key: ColumnKey,
        first: str,
        last: str,
        jobs: frozenset[tuple[str, str]],
        trans: frozenset[Transformation],
    ) -> None:
        """Fold one column edge's attributes in."""
        cur = self.state.get(key)
        if cur is None:
            self.state[key] = [first, last, jobs, trans]
            return
        cur[0] = min(cur[0], first)
        cur[1] = max(cur[1], last)
        if not jobs <= cur[2]:
            cur[2] = cur[2] | jobs
        if not trans <= cur[3]:
            cur[3] = cur[3] | trans
