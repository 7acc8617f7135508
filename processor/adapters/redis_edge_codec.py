"""The packed edge record of the adjacency hashes, read back as an ``EdgeRecord``.

``lua/fold_graph.lua`` writes an edge as the value of the field ``<target id>``
of ``out:<source id>`` (docs/redis.md):
``firstSeen runRank LF runId LF events LF mark LF job LF job ...``, where
firstSeen and the rank's leading eventTime (the edge's lastSeen) are
normalised times of one fixed width.
"""

from __future__ import annotations

import orjson

from processor.core.snapshot import EdgeRecord

# Width of a normalised time (core.timefmt): firstSeen, then lastSeen as the
# start of the run rank.
_TIME = 27


def last_seen_of(packed: bytes | str) -> str:
    """The lastSeen of a packed record."""
    raw = packed.decode() if isinstance(packed, bytes) else packed
    return raw[_TIME : 2 * _TIME]


def decode_edge(
    source: str, target: str, packed: bytes | str, deleted_until: str = ""
) -> EdgeRecord:
    """The record of the edge ``source -> target`` from its packed value."""
    raw = packed.decode() if isinstance(packed, bytes) else packed
    head, run_id, events, _mark, *jobs = raw.split("\n")
    return EdgeRecord(
        source=source,
        target=target,
        jobs=frozenset((ns, name) for ns, name in map(orjson.loads, jobs)),
        first_seen=head[:_TIME],
        last_seen=head[_TIME : 2 * _TIME],
        last_run_id=run_id or None,
        events=int(events),
        deleted_until=deleted_until,
    )
