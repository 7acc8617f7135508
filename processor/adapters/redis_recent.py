"""The edges seen last, for the page's first screen (``redis_overview``).

No index orders edges by time, so this is a bounded scan like the counts by
type: ``SSCAN`` of the ``nodes`` set, ``RECENT_CHUNK`` datasets at a time, one
pipelined ``HGETALL in:<id>`` (source id -> lastSeen of each edge into the
dataset) per chunk, until at least ``RECENT_MAX_EDGES`` edges are read (in the
set's own order: past that bound the list is the newest of those read, and
the overview says ``complete: false``). The newest candidates are then checked
against their own and their endpoints' delete tombstones and read (one more
round trip), so that an edge a delete or the retention window hides is never listed
(``core.snapshot.EdgeRecord.shown``).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from redis.asyncio import Redis

from processor.adapters.redis_keys import Keyspace
from processor.core.identity import NODE_ID_BYTES
from processor.core.snapshot import NodeRecord

RECENT_CHUNK = 5000
RECENT_MAX_EDGES = 100_000
RECENT_TOP = 10
_ID = NODE_ID_BYTES * 2
_SPARE = 3  # candidates read per listed edge, for those a node tombstone hides


@dataclass(frozen=True, slots=True)
class RecentEdge:
    """A visible edge and when it was last seen."""

    source: NodeRecord
    target: NodeRecord
    last_seen: str


async def recent_edges(
    client: Redis,
    keys: Keyspace,
    floor: str = "",
    *,
    max_edges: int = RECENT_MAX_EDGES,
    chunk: int = RECENT_CHUNK,
) -> tuple[tuple[RecentEdge, ...], int]:
    """(the newest visible edges among those read, newest first; edges read).
    Redis errors propagate (the caller maps them)."""
    best: list[tuple[str, str]] = []  # (lastSeen, edge id), a min-heap
    keep = RECENT_TOP * _SPARE
    cursor, read = 0, 0
    while True:
        cursor, raw = await client.sscan(keys.nodes, cursor, count=chunk)
        targets = [i.decode() if isinstance(i, bytes) else str(i) for i in raw]
        async with client.pipeline(transaction=False) as pipe:
            for target in targets:
                pipe.hgetall(keys.incoming(target))  # source id -> lastSeen
            rows = await pipe.execute()
        for target, row in zip(targets, rows, strict=True):
            for source, ls in row.items():
                read += 1
                seen = ls.decode()
                if seen > floor:
                    entry: tuple[str, str] = (seen, source.decode() + target)
                    if len(best) < keep:
                        heapq.heappush(best, entry)
                    elif entry > best[0]:
                        heapq.heapreplace(best, entry)
        if cursor == 0 or read >= max_edges:
            break
    return await _visible(client, keys, sorted(best, reverse=True)), read


async def _visible(
    client: Redis, keys: Keyspace, candidates: list[tuple[str, str]]
) -> tuple[RecentEdge, ...]:
    """The candidates no endpoint tombstone hides, with their endpoints' records."""
    if not candidates:
        return ()
    fields = ("ns", "name", "int", "ty", "dout", "din")
    async with client.pipeline(transaction=False) as pipe:
        for _, eid in candidates:
            pipe.hmget(keys.node(eid[:_ID]), fields)
            pipe.hmget(keys.node(eid[_ID:]), fields)
            pipe.hget(keys.edge(eid), "del")
        rows = await pipe.execute()
    out: list[RecentEdge] = []
    for i, (seen, _) in enumerate(candidates):
        src, dst, own = rows[3 * i], rows[3 * i + 1], rows[3 * i + 2]
        if src[0] is None or dst[0] is None:
            continue
        if seen <= (own or b"").decode():
            continue  # the edge itself deleted since
        if seen <= (src[4] or b"").decode() or seen <= (dst[5] or b"").decode():
            continue  # every edge out of the source, or into the target, deleted since
        out.append(RecentEdge(_record(src), _record(dst), seen))
        if len(out) == RECENT_TOP:
            break
    return tuple(out)


def _record(row: list[bytes | None]) -> NodeRecord:
    ns, name, internal, ty = row[:4]
    return NodeRecord(
        (ns or b"").decode(),
        (name or b"").decode(),
        internal == b"1",
        None if ty is None else ty.decode(),
    )
