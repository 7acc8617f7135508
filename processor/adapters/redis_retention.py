"""The retention sweep: edges whose lastSeen is older than the retention window
are removed from Redis (``LINEAGE_RETENTION_DAYS``).

Queries and snapshots already hide such edges by comparing lastSeen with the
cutoff (``core.timefmt.retention_floor``); the sweep only frees their memory.
It walks the ``edges`` set with ``SSCAN`` inside ``lua/sweep.lua``, one chunk
per call, so Redis is never blocked for long and folds interleave with it. A
dataset left without edges goes too (its name index entry included); delete
tombstones newer than the cutoff are kept.

What it trades away: an edge that comes back after its sweep starts afresh.
Its event count, firstSeen and jobs come from the events seen since. A rebuild
from a log that still holds the older events would count those too, so topics
should keep events no longer than the retention window (``retention.ms``) for
live and rebuilt graphs to agree. A snapshot ``asOf`` a time before the last
sweep may miss edges that sweep removed.

With several workers, one sweeps per interval: the first to take the lock key
``<prefix>:sweep`` (``SET NX PX``) does it.
"""

from __future__ import annotations

import uuid
from typing import NamedTuple

from redis.exceptions import RedisError

from processor.adapters.redis_errors import unavailable
from processor.adapters.redis_store import RedisGraphStore

CHUNK = 500


class SweepResult(NamedTuple):
    """What one sweep removed."""

    edges: int
    datasets: int


async def take_sweep_lock(store: RedisGraphStore, hold_ms: int) -> bool:
    """True for the one caller that may sweep in the next ``hold_ms``."""
    try:
        got = await store.client.set(
            store.keys.sweep_lock, uuid.uuid4().hex, nx=True, px=max(1, hold_ms)
        )
    except RedisError as exc:
        raise unavailable(exc) from exc
    return bool(got)


async def sweep(store: RedisGraphStore, floor: str, *, chunk: int = CHUNK) -> SweepResult:
    """Remove the current generation's edges last seen at or before ``floor``
    (a normalised time) and the datasets they leave without edges."""
    if not floor:
        raise ValueError("the sweep needs a cutoff time")
    keys = store.keys
    sweep_keys = [keys.edge_count, keys.nodes, keys.names, keys.deleted_edges, keys.deleted_nodes]
    cursor: bytes | str = "0"
    edges = datasets = 0
    try:
        while True:
            cursor, removed, gone = await store.scripts.sweep(
                keys=sweep_keys, args=[keys.base, floor, cursor, chunk]
            )
            edges += int(removed)
            datasets += int(gone)
            if cursor in (b"0", "0"):
                return SweepResult(edges, datasets)
    except RedisError as exc:
        raise unavailable(exc) from exc
