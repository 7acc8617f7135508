"""Column lineage extraction (docs/design.md section 5a): an accepted event's
column edges, read from the ``columnLineage`` facets of its outputs.

Facets are never validated: a piece of another shape is skipped, counted, and
the event is still accepted. A facet whose every piece is usable (nearly all
of them) is read in bulk, by C-level passes over the whole facet
(``column_bulk``); any other goes element by element here, with the same
result.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Any, NamedTuple, overload

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
# A column pair as its dataset pair's hash field: source field NUL target field
# ("" for the whole dataset); no field holds a NUL, so it splits back exactly.
FIELD_SEPARATOR = "\x00"
# (source id, target id) -> {column field: transformations}
PairColumns = dict[tuple[str, str], dict[str, frozenset[Transformation]]]


class ColumnFact(NamedTuple):
    """What one accepted event says about one column edge."""

    source_id: str
    source_field: str
    target_id: str
    target_field: str | None  # None: a dependency of the whole target dataset
    transformations: frozenset[Transformation]


_new_fact = tuple.__new__  # ColumnFact(...) without the NamedTuple's Python __new__


class ColumnEdges(Sequence[ColumnFact]):
    """An event's kept column edges, grouped as the fold payload sends them.

    ``pairs`` maps each dataset pair to its column fields and their
    transformations, so that the payload is written with C-level passes
    (``core.column_payload``); iterated, it gives ``ColumnFact``s (the
    reference fold, tests)."""

    __slots__ = ("pairs", "size")

    def __init__(self, pairs: PairColumns, size: int) -> None:
        self.pairs = pairs
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[ColumnFact]:
        for (sid, tid), cols in self.pairs.items():
            for text, trans in cols.items():
                sf, _, tf = text.partition(FIELD_SEPARATOR)
                yield _new_fact(ColumnFact, (sid, sf, tid, tf or None, trans))

    @overload
    def __getitem__(self, i: int) -> ColumnFact: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[ColumnFact]: ...
    def __getitem__(self, i: int | slice) -> ColumnFact | Sequence[ColumnFact]:
        return tuple(self)[i]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ColumnEdges | tuple):
            return NotImplemented
        return len(self) == len(other) and set(self) == set(other)

    def __hash__(self) -> int:
        return hash(frozenset(self))

    def __repr__(self) -> str:
        return f"ColumnEdges({tuple(self)!r})"


class ColumnExtract(NamedTuple):
    """An event's column edges, the datasets they name, and what was dropped."""

    facts: Sequence[ColumnFact]  # ColumnEdges, or () when none is kept
    datasets: tuple[tuple[str, str, str], ...]  # (node id, namespace, name)
    dropped: tuple[tuple[str, int], ...]


NO_COLUMNS = ColumnExtract((), (), ())
ID_CHARS = len(node_id("", ""))
NO_LIMIT = 1 << 62
# An element's (namespace, name) in one C call; KeyError when one is missing.
_dataset_of = itemgetter("namespace", "name")


def transformations_of(listed: Any, legacy: str | None) -> frozenset[Transformation]:
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
                return single(*found)
            return frozenset(found)
    if legacy is not None:
        return single((legacy, "", legacy == "MASKED"))
    return NONE


@lru_cache(maxsize=4096)
def single(t: Transformation) -> frozenset[Transformation]:
    """One transformation as a set, shared: most column edges carry exactly one
    of a handful, and a shared set makes the joins' subset tests cheap."""
    return frozenset((t,))


NONE: frozenset[Transformation] = frozenset()


def verdict(
    ns: Any, name: Any, out_ns: str, out_name: str, limit: int, out_side: bool,
    side: dict[str, bool], is_internal: Any,
) -> str:  # fmt: skip
    """Why an input dataset's column edges into the output are dropped, "" if
    they are not (the element's field aside). ``is_internal`` None: not mixed."""
    if not (good(ns, NO_LIMIT) and good(name, limit)):
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


def good(value: Any, limit: int) -> bool:
    """A usable string of the facet: non-empty, no NUL, within ``limit`` code points."""
    return type(value) is str and 0 < len(value) <= limit and "\x00" not in value


def join_into(cols: dict[str, frozenset[Transformation]], text: str, trans: Any) -> None:
    """Fold one column field's transformations into ``cols`` (a set union)."""
    cur = cols.get(text)
    if cur is None:
        cols[text] = trans
    elif cur is not trans and not trans <= cur:
        cols[text] = cur | trans


def read_elements(
    facet: dict[str, Any], out: tuple[str, str, str], limit: int, mixed: bool, out_side: bool,
    side: dict[str, bool], is_internal: Any, pairs: PairColumns,
    names: dict[str, tuple[str, str]], dropped: dict[str, int],
) -> None:  # fmt: skip
    """One output's facet, element by element: any shape, every skip counted.

    ``out`` is the output's (node id, namespace, name); its column edges go
    into ``pairs``, the datasets they name into ``names``."""
    tid, out_ns, out_name = out
    groups: list[tuple[Any, str, str | None]] = []
    fields = facet.get("fields")
    if fields is not None and type(fields) is not dict:
        dropped[DROP_MALFORMED] = dropped.get(DROP_MALFORMED, 0) + 1
    elif fields:
        for fname, entry in fields.items():
            inputs = entry.get("inputFields") if type(entry) is dict else None
            if (
                type(inputs) is not list
                or type(fname) is not str
                or not 0 < len(fname) <= limit
                or "\x00" in fname
            ):
                dropped[DROP_MALFORMED] = dropped.get(DROP_MALFORMED, 0) + 1
                continue
            legacy = entry.get("transformationType")
            if legacy is not None and not good(legacy, NO_LIMIT):
                legacy = None
            groups.append((inputs, FIELD_SEPARATOR + fname, legacy))
    whole = facet.get("dataset")
    if whole is not None and type(whole) is not list:
        dropped[DROP_MALFORMED] = dropped.get(DROP_MALFORMED, 0) + 1
    elif whole:
        groups.append((whole, FIELD_SEPARATOR, None))
    seen_trans: dict[tuple[Any, ...], frozenset[Transformation]] = {}
    # per input dataset: its node id when kept, else the drop reason (a node id
    # is 32 hex digits, a reason is shorter)
    verdicts: dict[tuple[Any, Any], str] = {}
    last = ""
    cols: dict[str, frozenset[Transformation]] = {}
    for inputs, suffix, legacy in groups:
        legacy_set = NONE if legacy is None else single((legacy, "", legacy == "MASKED"))
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
                sid = verdict(ns, name, out_ns, out_name, limit, mixed and out_side, side,
                              is_internal if mixed else None)  # fmt: skip
                if not sid:
                    sid = node_id(ns, name)
                    names[sid] = (ns, name)
                if type(ns) is str and type(name) is str:
                    verdicts[(ns, name)] = sid
            if len(sid) != ID_CHARS:  # a drop reason
                dropped[sid] = dropped.get(sid, 0) + 1
                continue
            listed = el.get("transformations")
            if listed is None:
                trans = legacy_set
            elif type(listed) is list and len(listed) == 1 and type(listed[0]) is dict:
                t = listed[0]
                # masking as `is True`: 1 == True would share a set with true
                raw = (t.get("type"), t.get("subtype"), t.get("masking") is True, legacy)
                try:
                    trans = seen_trans[raw]
                except (KeyError, TypeError):  # TypeError: a value is not hashable
                    trans = transformations_of(listed, legacy)
                    with contextlib.suppress(TypeError):
                        seen_trans[raw] = trans
            else:
                trans = transformations_of(listed, legacy)
            if sid is not last:  # consecutive elements mostly name one dataset
                last = sid
                got = pairs.get((sid, tid))
                if got is None:
                    got = pairs[(sid, tid)] = {}
                cols = got
            text = fld + suffix
            found = cols.setdefault(text, trans)
            if found is not trans:
                cols[text] = found | trans
