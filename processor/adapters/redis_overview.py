"""The graph at a glance: datasets by type, the most connected ones and the
edges seen last (``redis_recent``).

What the page's first screen shows and ``/api/v1/status`` counts
(``GET /api/v1/graph/overview``). Nothing in the fold keeps these numbers (a
count by type kept by ``fold.lua`` would have to follow every type change,
delete and retention sweep); they are read from the graph by a bounded scan
instead, and kept for ``OVERVIEW_TTL_SECONDS``:

* the ``names`` index (docs/redis.md) is read by rank in chunks of
  ``OVERVIEW_CHUNK``, and for each chunk one pipelined round trip reads each
  dataset's side and type (``HMGET n:<id>``) and its degree (``HLEN`` of its
  ``out:`` and ``in:`` adjacency hashes);
* at most ``OVERVIEW_MAX_DATASETS`` datasets are read, the first ones in
  (namespace, name) order: past that the answer says ``complete: false`` and
  counts only those. So one refresh costs at most 20 round trips and about
  300,000 Redis commands, and the page's 2-second poll of the status costs one
  refresh per ``OVERVIEW_TTL_SECONDS`` at most, whatever the graph's size.

The edges seen last come from a second bounded scan of the same size, over the
``edges`` set (``redis_recent``); they are visible ones only.

Like the search index, the scan sees every dataset an edge touches until the
retention sweep removes its last edge, and a degree counts stored edges
(hidden ones too): the numbers are an overview, not a snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from dataclasses import dataclass
from typing import cast

from redis.exceptions import RedisError

from processor.adapters.redis_errors import unavailable
from processor.adapters.redis_recent import RecentEdge, recent_edges
from processor.adapters.redis_store import RedisGraphStore
from processor.core.identity import node_id
from processor.core.snapshot import NodeRecord, node_type
from processor.errors import DependencyUnavailable

OVERVIEW_TTL_SECONDS = 10.0
OVERVIEW_CHUNK = 5000
OVERVIEW_MAX_DATASETS = 100_000
OVERVIEW_TOP = 10  # most connected datasets listed


@dataclass(frozen=True, slots=True)
class Connected:
    """A dataset and its number of stored edges (in + out)."""

    record: NodeRecord
    degree: int


@dataclass(frozen=True, slots=True)
class Overview:
    """Datasets by type (most frequent first, then by name) and the most connected."""

    types: tuple[tuple[str, int], ...]
    most_connected: tuple[Connected, ...]
    counted: int  # datasets read
    total: int  # datasets in the index
    read_at: float  # time.time() of the read
    recent: tuple[RecentEdge, ...] = ()
    edges_complete: bool = True  # every edge was read for ``recent``

    @property
    def complete(self) -> bool:
        return self.counted >= self.total and self.edges_complete

    def type_counts(self) -> dict[str, int]:
        return dict(self.types)

    def as_json(self) -> dict[str, object]:
        return {
            "types": [{"type": t, "datasets": n} for t, n in self.types],
            "mostConnected": [
                {
                    "namespace": c.record.namespace,
                    "name": c.record.name,
                    "type": node_type(c.record),
                    "internal": c.record.internal,
                    "edges": c.degree,
                }
                for c in self.most_connected
            ],
            "recentEdges": [
                {
                    "source": _dataset_json(e.source),
                    "target": _dataset_json(e.target),
                    "lastSeen": e.last_seen,
                }
                for e in self.recent
            ],
            "datasets": self.counted,
            "complete": self.complete,
            "readAt": round(self.read_at, 3),
        }


def _dataset_json(record: NodeRecord) -> dict[str, object]:
    return {
        "namespace": record.namespace,
        "name": record.name,
        "type": node_type(record),
        "internal": record.internal,
    }


async def read_overview(
    store: RedisGraphStore,
    floor: str = "",
    *,
    max_datasets: int = OVERVIEW_MAX_DATASETS,
    chunk: int = OVERVIEW_CHUNK,
) -> Overview:
    """One bounded scan of the graph (module doc), ``floor`` the retention
    cutoff; ``RedisUnavailable`` when Redis fails."""
    keys = store.keys
    counts: dict[str, int] = {}
    top: list[Connected] = []
    counted = 0
    try:
        total = int(await store.client.zcard(keys.names))
        for start in range(0, min(total, max_datasets), chunk):
            stop = min(start + chunk, max_datasets) - 1
            members = cast(list[bytes], await store.client.zrange(keys.names, start, stop))
            async with store.client.pipeline(transaction=False) as pipe:
                for member in members:
                    ns, _, name = member.decode().partition("\0")
                    nid = node_id(ns, name)
                    pipe.hmget(keys.node(nid), ("int", "ty"))
                    pipe.hlen(keys.outgoing(nid))
                    pipe.hlen(keys.incoming(nid))
                replies = await pipe.execute()
            seen: list[Connected] = []
            for i, member in enumerate(members):
                (internal, ty), outs, ins = replies[3 * i : 3 * i + 3]
                ns, _, name = member.decode().partition("\0")
                rec = NodeRecord(ns, name, internal == b"1", None if ty is None else ty.decode())
                kind = node_type(rec)
                counts[kind] = counts.get(kind, 0) + 1
                seen.append(Connected(rec, int(outs) + int(ins)))
            counted += len(members)
            top = heapq.nsmallest(OVERVIEW_TOP, [*top, *seen], key=_most_connected_first)
        edges = int(await store.client.get(keys.edge_count) or 0)
        recent, edges_read = await recent_edges(
            store.client, keys, floor, max_edges=max_datasets, chunk=chunk
        )
    except RedisError as exc:
        raise unavailable(exc) from exc
    return Overview(
        types=tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        most_connected=tuple(top),
        counted=counted,
        total=total,
        read_at=time.time(),
        recent=recent,
        edges_complete=edges_read >= edges,
    )


def _most_connected_first(c: Connected) -> tuple[int, str, str]:
    return (-c.degree, c.record.namespace, c.record.name)


class OverviewCache:
    """The last overview of the current generation, read again when older than
    ``ttl`` seconds; concurrent callers share one read."""

    def __init__(self, ttl: float = OVERVIEW_TTL_SECONDS) -> None:
        self.ttl = ttl
        self._last: tuple[str, Overview] | None = None
        self._lock = asyncio.Lock()
        self._refresh: asyncio.Task[None] | None = None

    async def get(self, store: RedisGraphStore, floor: str = "") -> Overview:
        """The overview, read now when the last one is stale."""
        async with self._lock:
            base = store.keys.base
            last = self._last
            if last is None or last[0] != base or time.time() - last[1].read_at > self.ttl:
                last = (base, await read_overview(store, floor))
                self._last = last
            return last[1]

    def peek(self, store: RedisGraphStore, floor: str = "") -> Overview | None:
        """The last overview of the current generation, without waiting: a stale
        one starts a read in the background, for the next caller. None until a
        first read has finished. For the status, which must answer at once even
        while Redis is slow or down."""
        last = self._last
        current = last[1] if last is not None and last[0] == store.keys.base else None
        stale = current is None or time.time() - current.read_at > self.ttl
        if stale and (self._refresh is None or self._refresh.done()):
            self._refresh = asyncio.create_task(self._read_quietly(store, floor))
        return current

    async def _read_quietly(self, store: RedisGraphStore, floor: str) -> None:
        # Redis down: the status says so by itself (dependenciesDown).
        with contextlib.suppress(DependencyUnavailable):
            await self.get(store, floor)
