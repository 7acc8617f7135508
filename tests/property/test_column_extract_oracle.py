"""Column edge extraction agrees with docs/design.md section 5a read directly:
an independent, element-by-element oracle over facets that mix usable pieces
with malformed ones, several outputs (the same one twice too), both mix modes,
the name bound and the cap."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processor.core.columns import extract_columns
from processor.core.identity import node_id
from processor.core.models import Dataset

LIMIT = 6  # the name bound, small so that generated names cross it
DATASETS = [("pg://db", "a"), ("pg://db", "b"), ("snowflake://x", "T"), ("snowflake://x", "U")]
FIELDS = ["id", "amount", "é", "toolong7", "", "a\x00b"]


def internal(ns: str) -> bool:
    return ns.startswith("snowflake://")


_JUNK = st.none() | st.booleans() | st.integers(-2, 2) | st.sampled_from(["", "x", "a\x00"])


def _mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` four times in five: usable pieces must make edges often."""
    return st.integers(0, 4).flatmap(lambda i: good if i else bad)


_TRANSFORMATION = _mostly(
    st.fixed_dictionaries(
        {"type": _mostly(st.sampled_from(["DIRECT", "INDIRECT"]), st.sampled_from(["", "A\x00"]))},
        optional={
            "subtype": _mostly(st.sampled_from(["IDENTITY", "JOIN", ""]), _JUNK),
            "masking": _mostly(st.booleans(), st.sampled_from([1, 1.0, "true", None])),
        },
    ),
    _JUNK,
)
_ELEMENT = _mostly(
    st.builds(
        lambda ds, f, t, drop: {
            k: v
            for k, v in {
                "namespace": ds[0],
                "name": ds[1],
                "field": f,
                "transformations": t,
            }.items()
            if k not in drop
        },
        _mostly(st.sampled_from(DATASETS), st.tuples(_JUNK, st.sampled_from(["a", "longname"]))),
        _mostly(st.sampled_from(FIELDS[:3]), st.sampled_from(FIELDS[3:]) | _JUNK),
        _mostly(st.lists(_TRANSFORMATION, min_size=1, max_size=3), _JUNK),
        _mostly(st.just(set()), st.sets(st.sampled_from(["namespace", "field"]), max_size=1)),
    ),
    _JUNK,
)
_ENTRY = _mostly(
    st.fixed_dictionaries(
        {"inputFields": _mostly(st.lists(_ELEMENT, max_size=4), _JUNK)},
        optional={"transformationType": st.sampled_from(["IDENTITY", "MASKED", ""]) | _JUNK},
    ),
    _JUNK,
)
_FACET = _mostly(
    st.fixed_dictionaries(
        {},
        optional={
            "fields": _mostly(
                st.dictionaries(
                    _mostly(st.sampled_from(FIELDS[:3]), st.sampled_from(FIELDS[3:])),
                    _ENTRY,
                    max_size=4,
                ),
                _JUNK,
            ),
            "dataset": _mostly(st.lists(_ELEMENT, max_size=3), _JUNK),
        },
    ),
    _JUNK,
)


def _usable(value: Any, limit: int | None) -> bool:
    return (
        isinstance(value, str)
        and value != ""
        and "\x00" not in value
        and (limit is None or len(value) <= limit)
    )


def _transformations(element: dict[str, Any], legacy: Any) -> set[tuple[str, str, bool]]:
    found = set()
    listed = element.get("transformations")
    if isinstance(listed, list):
        for t in listed:
            if isinstance(t, dict) and _usable(t.get("type"), None):
                subtype = t.get("subtype")
                subtype = subtype if isinstance(subtype, str) and "\x00" not in subtype else ""
                found.add((t["type"], subtype, t.get("masking") is True))
    if not found and _usable(legacy, None):
        found.add((legacy, "", legacy == "MASKED"))
    return found


def oracle(
    outputs: list[tuple[str, str, Any]], mixed: bool, cap: int
) -> tuple[dict[tuple[Any, ...], set[Any]], Counter[str]]:
    """Section 5a, one piece at a time."""
    edges: dict[tuple[Any, ...], set[Any]] = {}
    dropped: Counter[str] = Counter()
    for out_ns, out_name, facet in outputs:
        if facet is None:  # no facet
            continue
        if not isinstance(facet, dict):
            dropped["malformed"] += 1
            continue
        groups: list[tuple[Any, str | None, Any]] = []
        fields = facet.get("fields")
        if fields is not None and not isinstance(fields, dict):
            dropped["malformed"] += 1
        elif fields:
            for name, entry in fields.items():
                inputs = entry.get("inputFields") if isinstance(entry, dict) else None
                if not _usable(name, LIMIT) or not isinstance(inputs, list):
                    dropped["malformed"] += 1
                    continue
                groups.append((inputs, name, entry.get("transformationType")))
        whole = facet.get("dataset")
        if whole is not None and not isinstance(whole, list):
            dropped["malformed"] += 1
        elif whole:
            groups.append((whole, None, None))
        for inputs, target, legacy in groups:
            for el in inputs:
                if not isinstance(el, dict) or not _usable(el.get("field"), LIMIT):
                    dropped["malformed"] += 1
                    continue
                ns, name = el.get("namespace"), el.get("name")
                if not (_usable(ns, None) and _usable(name, LIMIT)):
                    dropped["malformed"] += 1
                elif (ns, name) == (out_ns, out_name):
                    dropped["same_dataset"] += 1
                elif mixed and internal(ns) == internal(out_ns):
                    dropped["same_side"] += 1
                else:
                    key = (node_id(ns, name), el["field"], node_id(out_ns, out_name), target)
                    edges.setdefault(key, set()).update(_transformations(el, legacy))
    if len(edges) > cap:
        dropped["too_many"] += len(edges)
        edges = {}
    return edges, dropped


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    outputs=st.lists(st.tuples(st.sampled_from(DATASETS), _FACET), min_size=1, max_size=3),
    mixed=st.booleans(),
    cap=st.sampled_from([0, 3, 10_000]),
)
def test_extraction_equals_section_5a_read_piece_by_piece(
    outputs: list[tuple[tuple[str, str], Any]], mixed: bool, cap: int
) -> None:
    datasets = [
        Dataset(namespace=ns, name=name, facets={"columnLineage": facet})
        for (ns, name), facet in outputs
    ]
    got = extract_columns(datasets, internal, mixed, LIMIT, cap)
    want, dropped = oracle([(ns, name, facet) for (ns, name), facet in outputs], mixed, cap)
    assert len(got.facts) == len(want)
    assert {f[:4]: set(f[4]) for f in got.facts} == want
    assert dict(got.dropped) == dict(dropped)
    named = {nid for f in got.facts for nid in (f[0], f[2])}
    assert {d[0] for d in got.datasets} == named
    assert all(node_id(ns, name) == nid for nid, ns, name in got.datasets)
