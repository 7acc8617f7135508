"""The packed edge record of the adjacency hashes, read back as an ``EdgeRecord``.

``lua/fold_graph.lua`` writes an edge as the value of the field ``<target id>``
of ``out:<source id>`` (docs/redis.md):
``firstSeen runRank LF runId LF events LF mark LF job LF job ...``, where
firstSeen and the rank's leading eventTime (the edge's lastSeen) are
normalised times of one fixed width, and each job is its JSON field
(``core.identity.job_field``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import orjson

from processor.core.query_results import Dataset, QueryEdge
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


def decode_query_edges(
    sources: str, targets: str, packed: Sequence[bytes], names: Mapping[str, Dataset]
) -> list[QueryEdge]:
    """Many edges' packed values, straight into an answer's edges: ``sources``
    and ``targets`` are their end ids concatenated (32 characters each),
    ``packed`` their values in the same order, ``names`` the ends' (namespace,
    name). Edges share their jobs: each distinct job list is parsed and sorted
    once, all of them in one ``orjson`` call."""
    if not packed:
        return []
    rows = [p.split(b"\n", 4) for p in packed]
    for row in rows:
        if len(row) == 4:  # an edge without a job (none is written so)
            row.append(b"")
    # The job fields are JSON arrays without a raw LF: the list's LFs become
    # commas and each list a JSON array of them.
    lists = list({row[4]: None for row in rows})
    parsed = orjson.loads(b"[[" + b"],[".join(lists).replace(b"\n", b",") + b"]]")
    jobs: dict[bytes, tuple[Dataset, ...]] = {}
    for raw, found in zip(lists, parsed, strict=True):
        if len(found) == 1:  # most edges carry one job: nothing to sort
            ns, name = found[0]
            jobs[raw] = ((ns, name),)
        else:
            jobs[raw] = tuple(sorted((ns, name) for ns, name in found))
    edges = []
    for at, (head, run_id, events, _mark, job_list) in zip(
        range(0, len(sources), _ID), rows, strict=True
    ):
        times = head.decode()
        edges.append(
            QueryEdge(
                names[sources[at : at + _ID]],
                names[targets[at : at + _ID]],
                jobs[job_list],
                times[:_TIME],
                times[_TIME : 2 * _TIME],
                run_id.decode() or None,
                int(events),
            )
        )
    return edges
