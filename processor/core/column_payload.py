"""The column part of the fold call's payload (``core.fold_payload``), and the
packed form ``lua/fold_columns.lua`` stores a column edge in.

Payload keys (only when the batch has column edges):

- ``"cv"``: the batch's vocabulary, the job fields (JSON ``[namespace, name]``)
  and transformation fields (``x`` + JSON ``[type, subtype, masking]``) its
  column edges name;
- ``"cc"``: the attribute sets the batch's column edges carry, each a list of
  indexes (from 0) into ``"cv"``: a batch repeats a handful of them on
  thousands of column edges;
- ``"ct"``: the batch's times, compact (20 digits);
- ``"cw"``: the attribute values the batch's column edges carry, flat, three
  indexes each: firstSeen and lastSeen (into ``"ct"``) and the attribute set
  (into ``"cc"``); most column edges of an event share one, so the Lua fold
  builds each stored value once a batch, not once a column edge;
- ``"columns"``: one flat list per dataset pair, ``[source id, target id, then
  blocks: a value (index into ``"cw"``), a count m, then m column pairs as their
  hash fields (source field NUL target field, "" for the whole dataset)]``: an
  event's column pairs of one value are one block; a column pair named by
  several events of the batch comes once for each (the fold joins them);
- ``"cr"``: the rows (from 1) that may name a column pair more than once
  (blocks of several events); in the others each comes once, so the fold
  writes a new pair's fields without looking for earlier ones;
- ``"cds"``: ``{node id: JSON [namespace, name]}``, the names of the datasets.

Stored (docs/redis.md): the pair's hash has one field per column pair,
``source field NUL target field`` (a field never holds NUL), whose value is
``firstSeen lastSeen`` compact (20 digits each) then the comma-separated,
ascending global indexes of its jobs and transformations (the ``cdict`` table).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import compress
from typing import Any, NamedTuple

import orjson

from processor.core.column_extract import ColumnEdges
from processor.core.columns import ColumnFact, ColumnGraph, Transformation
from processor.core.identity import job_field

# A transformation as a vocabulary entry: this prefix and the JSON [type,
# subtype, masking]. Jobs are entries starting with "[".
TRANSFORMATION_PREFIX = "x"
TIME_DIGITS = 20
FIELD_SEPARATOR = "\x00"


def transformation_field(t: Transformation) -> str:
    """A transformation as an injective string."""
    return TRANSFORMATION_PREFIX + orjson.dumps([t[0], t[1], t[2]]).decode()


def parse_transformation(text: str) -> Transformation:
    """The inverse of ``transformation_field``."""
    kind, subtype, masking = orjson.loads(text[len(TRANSFORMATION_PREFIX) :])
    return (kind, subtype, bool(masking))


def compact_time(t: str) -> str:
    """A normalised time (``YYYY-MM-DDTHH:MM:SS.ffffffZ``) as its 20 digits:
    fixed width, so string order is still time order."""
    return t[0:4] + t[5:7] + t[8:10] + t[11:13] + t[14:16] + t[17:19] + t[20:26]


def expand_time(d: str) -> str:
    """The inverse of ``compact_time``."""
    return f"{d[0:4]}-{d[4:6]}-{d[6:8]}T{d[8:10]}:{d[10:12]}:{d[12:14]}.{d[14:20]}Z"


def column_field(source_field: str, target_field: str | None) -> str:
    """A column pair as a field of its dataset pair's hash."""
    return source_field + FIELD_SEPARATOR + (target_field or "")


def split_column_field(text: str) -> tuple[str, str | None]:
    """The inverse of ``column_field``."""
    sf, _, tf = text.partition(FIELD_SEPARATOR)
    return sf, tf or None


def vocabulary_entry(text: str) -> tuple[str, Any]:
    """("job", (namespace, name)) or ("transformation", (type, subtype, masking))."""
    if text.startswith(TRANSFORMATION_PREFIX):
        return "transformation", parse_transformation(text)
    ns, name = orjson.loads(text)
    return "job", (ns, name)


class ColumnEvent(NamedTuple):
    """What the payload needs of one accepted event with column edges."""

    facts: Sequence[ColumnFact]
    datasets: Iterable[tuple[str, str, str]]  # (node id, namespace, name)
    job: tuple[str, str]
    event_time: str


def encode_columns(events: Iterable[ColumnEvent]) -> dict[str, Any]:
    """The payload keys of a batch's column edges (module doc).

    Straight from the events, not joined first: the fold joins a column pair
    that comes twice (``lua/fold_columns.lua``), and every attribute is a
    join, so the result is the same, while a join here would cost a dict
    operation a column edge more. An event's column edges share one value
    per transformation set, and a pair's edges of one value go as one block."""
    vocab: dict[str, int] = {}
    combos: dict[tuple[tuple[str, str], frozenset[Transformation]], int] = {}
    combo_lists: list[list[int]] = []
    names: dict[str, str] = {}
    times: dict[str, int] = {}
    value_list: list[int] = []
    pairs: dict[tuple[str, str], list[Any]] = {}
    repeats: set[tuple[str, str]] = set()  # rows whose fields may come twice

    # vocabulary indexes of each job and each transformation set, once a batch
    job_ixs: dict[tuple[str, str], int] = {}
    trans_ixs: dict[frozenset[Transformation], list[int]] = {}

    def value_of(trans: frozenset[Transformation], at: int, job: tuple[str, str]) -> int:
        combo = combos.get((job, trans))
        if combo is None:
            combo = combos[(job, trans)] = len(combo_lists)
            j = job_ixs.get(job)
            if j is None:
                j = job_ixs[job] = vocab.setdefault(job_field(*job), len(vocab))
            ts = trans_ixs.get(trans)
            if ts is None:
                texts = [transformation_field(t) for t in trans]
                ts = trans_ixs[trans] = [vocab.setdefault(x, len(vocab)) for x in texts]
            combo_lists.append([j, *ts])
        value_list.extend((at, at, combo))
        return len(value_list) // 3 - 1

    for facts, datasets, job, event_time in events:
        for nid, ns, name in datasets:
            if nid not in names:
                names[nid] = job_field(ns, name)
        at = times.setdefault(event_time, len(times))
        values: dict[frozenset[Transformation], int] = {}  # this event's
        grouped = facts.pairs if type(facts) is ColumnEdges else _grouped(facts, repeats)
        for pair, cols in grouped.items():
            row = pairs.get(pair)
            if row is None:
                row = pairs[pair] = [*pair]
            else:
                repeats.add(pair)
            distinct = set(cols.values())
            for trans in distinct:
                if trans not in values:
                    values[trans] = value_of(trans, at, job)
            if len(distinct) == 1:  # the usual case: the block in C-level calls
                row += (values[next(iter(distinct))], len(cols))
                row += cols
                continue
            # several sets: each one's block by C-level passes over the pair
            fields, at_value = list(cols), list(map(values.__getitem__, cols.values()))
            for value in {values[t] for t in distinct}:
                row += (value, at_value.count(value))
                row += compress(fields, map(value.__eq__, at_value))
    return {
        "cv": list(vocab),
        "cc": combo_lists,
        "ct": [compact_time(t) for t in times],
        "cw": value_list,
        "columns": list(pairs.values()),
        "cr": [i for i, pair in enumerate(pairs, 1) if pair in repeats],
        "cds": names,
    }


def _grouped(
    facts: Iterable[ColumnFact], repeats: set[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, frozenset[Transformation]]]:
    """Plain column facts grouped by pair, joined per column pair; their pairs
    go in ``repeats``, as nothing says they came once."""
    grouped: dict[tuple[str, str], dict[str, frozenset[Transformation]]] = {}
    for sid, sf, tid, tf, trans in facts:
        cols = grouped.setdefault((sid, tid), {})
        text = column_field(sf, tf)
        cols[text] = cols[text] | trans if text in cols else trans
    repeats.update(grouped)
    return grouped


def decode_columns(data: dict[str, Any], into: ColumnGraph) -> None:
    """The inverse of ``encode_columns``, joined into ``into``."""
    for nid, text in data["cds"].items():
        ns, name = orjson.loads(text)
        into.datasets.setdefault(nid, (ns, name))
    vocab = [vocabulary_entry(v) for v in data["cv"]]
    times = [expand_time(t) for t in data["ct"]]
    combos = [
        (
            frozenset(v for kind, v in (vocab[i] for i in ixs) if kind == "job"),
            frozenset(v for kind, v in (vocab[i] for i in ixs) if kind == "transformation"),
        )
        for ixs in data["cc"]
    ]
    cw = data["cw"]
    values = [(times[cw[i]], times[cw[i + 1]], *combos[cw[i + 2]]) for i in range(0, len(cw), 3)]
    for row in data["columns"]:
        sid, tid = row[0], row[1]
        b = 2
        while b < len(row):
            first, last, jobs, trans = values[row[b]]
            end = b + 2 + row[b + 1]
            for text in row[b + 2 : end]:
                sf, tf = split_column_field(text)
                into.join_edge((sid, sf, tid, tf), first, last, jobs, trans)
            b = end
