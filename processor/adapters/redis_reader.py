"""The lineage queries' read port (``core.queries.GraphReader``) on Redis.

One breadth-first level costs two pipelined round trips, whatever the size of
the frontier:

1. ``SMEMBERS out:<id>`` (or ``in:<id>``) of every frontier node;
2. ``HGETALL e:<edge id>`` of every edge found, ``HGETALL n:<id>`` of every
   neighbour the caller does not already know, and ``HGET`` of the delete
   tombstone (``dout`` / ``din``) of the frontier and of the known neighbours.

The second read needs the ids the first returns, so two is the floor without
server-side scripting; a Lua script could make it one, at the price of running
an unbounded fan-out inside Redis's single thread. Nothing is ever read one
node at a time.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from redis.exceptions import RedisError

from processor.adapters.redis_store import RedisGraphStore, _edge_record, _node_record
from processor.core.identity import edge_id, node_id
from processor.core.queries import Direction, Level
from processor.core.snapshot import EdgeRecord, NodeRecord
from processor.errors import RedisUnavailable


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisGraphReader:
    """Reads the current generation of a ``RedisGraphStore``.

    Deletes are honoured: an edge's ``deleted_until`` joins its own tombstone
    (``del``) with its source's ``dout`` and its target's ``din``, read in the
    same second round trip; the queries skip edges that are not visible. Hashes
    holding only tombstone fields (no ``s`` / ``ns``) are not edges or nodes.
    """

    def __init__(self, store: RedisGraphStore) -> None:
        self.store = store

    async def resolve(self, namespace: str, name: str) -> NodeRecord | None:
        """The record of one dataset (one round trip), or None."""
        try:
            async with self.store.client.pipeline(transaction=False) as pipe:
                pipe.hgetall(f"{self.store.base}n:{node_id(namespace, name)}")
                (row,) = await pipe.execute()
        except RedisError as exc:
            raise RedisUnavailable(f"Redis: {exc}") from exc
        return _node_record(row) if row and b"ns" in row else None

    async def expand(
        self, node_ids: Sequence[str], direction: Direction, known: Collection[str] = ()
    ) -> Level:
        """Neighbours of every frontier node in two round trips (see module doc)."""
        if not node_ids:
            return Level({}, {})
        base = self.store.base
        down = direction == "down"
        side = "out:" if down else "in:"
        # Tombstone fields: the frontier end and the neighbour end of each edge.
        near, far = (b"dout", b"din") if down else (b"din", b"dout")
        try:
            async with self.store.client.pipeline(transaction=False) as pipe:
                for nid in node_ids:
                    pipe.smembers(f"{base}{side}{nid}")
                sets = await pipe.execute()

            pairs: list[tuple[str, str]] = []  # (frontier id, neighbour id)
            for nid, members in zip(node_ids, sets, strict=True):
                pairs.extend((nid, m) for m in sorted(_text(m) for m in members))
            if not pairs:
                return Level({}, {})
            frontier = list(dict.fromkeys(nid for nid, _ in pairs))
            neighbours = list(dict.fromkeys(m for _, m in pairs))
            new = [m for m in neighbours if m not in known]
            old = [m for m in neighbours if m in known]

            async with self.store.client.pipeline(transaction=False) as pipe:
                for nid, m in pairs:
                    pipe.hgetall(f"{base}e:{edge_id(nid, m) if down else edge_id(m, nid)}")
                for nid in frontier:
                    pipe.hget(f"{base}n:{nid}", near.decode())
                for m in new:
                    pipe.hgetall(f"{base}n:{m}")
                for m in old:
                    pipe.hget(f"{base}n:{m}", far.decode())
                rows = await pipe.execute()
        except RedisError as exc:
            raise RedisUnavailable(f"Redis: {exc}") from exc

        it = iter(rows)
        edge_rows = [next(it) for _ in pairs]
        near_del = {nid: _text(next(it) or b"") for nid in frontier}
        far_del: dict[str, str] = {}
        nodes: dict[str, NodeRecord] = {}
        for m in new:
            row = next(it)
            far_del[m] = _text(row.get(far, b"")) if row else ""
            if row and b"ns" in row:
                nodes[m] = _node_record(row)
        for m in old:
            far_del[m] = _text(next(it) or b"")

        edges: dict[str, list[EdgeRecord]] = {}
        for (nid, m), row in zip(pairs, edge_rows, strict=True):
            if not row or b"s" not in row:
                continue  # a tombstone only, or dropped meanwhile
            own = _text(row.get(b"del", b""))
            until = max(own, near_del[nid], far_del[m])
            edges.setdefault(nid, []).append(_edge_record(row, until))
        return Level(edges, nodes)
