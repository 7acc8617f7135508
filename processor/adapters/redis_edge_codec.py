"""The packed edge record of the adjacency hashes, read back as an ``EdgeRecord``.

``lua/fold_graph.lua`` writes an edge as the value of the field ``<target id>``
of ``out:<source id>`` (docs/redis.md):
``firstSeen runRank LF runId LF events LF mark LF job LF job ...``, where
firstSeen and the rank's leading eventTime (the edge's lastSeen) are
normalised times of one fixed width, and each job is its JSON field
(``core.identity.job_field``).
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from processor.core.snapshot import EdgeRecord

# Width of a normalised time (core.timefmt): firstSeen, then lastSeen as the
# start of the run rank.
_TIME = 27
_ID = 32  # characters of a node id (core.identity.node_id)


def decode_edge(
    source: str,
    target: str,
    packed: bytes,
    deleted_until: str = "",
    *,
    jobs: dict[bytes, tuple[str, str]] | None = None,
) -> EdgeRecord:
    """The record of the edge ``source -> target`` from its packed value;
    ``jobs`` caches parsed job fields across calls (many edges share a job)."""
    head, run_id, events, _mark, *fields = packed.split(b"\n")
    cache = {} if jobs is None else jobs
    parsed = []
    for field in fields:
        job = cache.get(field)
        if job is None:
            ns, name = orjson.loads(field)
            job = cache[field] = (ns, name)
        parsed.append(job)
    return EdgeRecord(
        source=source,
        target=target,
        jobs=frozenset(parsed),
        first_seen=head[:_TIME].decode(),
        last_seen=head[_TIME : 2 * _TIME].decode(),
        last_run_id=run_id.decode() or None,
        events=int(events),
        deleted_until=deleted_until,
    )


def decode_edges(sources: str, targets: str, packed: Sequence[bytes]) -> list[EdgeRecord]:
    """The records of many edges in one pass: ``sources`` and ``targets`` are
    their end ids concatenated (32 characters each), ``packed`` their packed
    values in the same order. Every distinct job field is parsed once, all of
    them in one ``orjson`` call."""
    rows = [p.split(b"\n") for p in packed]
    fields = list({f: None for row in rows for f in row[4:]})
    parsed = orjson.loads(b"[" + b",".join(fields) + b"]")
    jobs = {f: (ns, name) for f, (ns, name) in zip(fields, parsed, strict=True)}
    return [
        EdgeRecord(
            sources[i : i + _ID],
            targets[i : i + _ID],
            frozenset([jobs[f] for f in row[4:]]),
            row[0][:_TIME].decode(),
            row[0][_TIME : 2 * _TIME].decode(),
            row[1].decode() or None,
            int(row[2]),
        )
        for i, row in zip(range(0, len(sources), _ID), rows, strict=True)
    ]
