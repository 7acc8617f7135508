"""The lineage queries' read port (``core.graph_reader.GraphReader``) on Redis.

A lineage walk costs two round trips, however deep and wide: one to resolve
the root, one call of ``lua/walk.lua`` for the whole walk (``walk``).

- A level reads, for every frontier node, its adjacency hash, whose values
  carry what visibility needs (the edge's lastSeen, against its delete
  tombstones and the retention floor; ``lua/adjacency.lua``); the new
  neighbours are ordered by id and cut to the room left under the node cap;
  then the records of the kept ones only (one ``HMGET`` of ``nr``). Without
  deletes or retention only the neighbour ids are read. The set of nodes
  already in the result stays in the script from level to level.
- The met edges' packed records (jobs, firstSeen, lastSeen, lastRunId,
  events) are read at the end, one ``HMGET`` per source node, and come back
  in the same reply, as bulk strings the client's parser handles in C; they
  are decoded straight into the answer's edges
  (``redis_edge_codec.decode_query_edges``).

Path queries use ``expand`` (one level a call, ``lua/expand.lua``, one JSON
text that orjson decodes in C) and ``edges`` (``lua/edges.lua``). The price of
a script is that it runs inside Redis's single thread: a walk's cost is
bounded by the degrees of the nodes it expands, the records it reads by the
node cap.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import cast

import orjson
from redis.exceptions import RedisError

from processor.adapters.redis_edge_codec import decode_edge, decode_query_edges
from processor.adapters.redis_errors import unavailable
from processor.adapters.redis_search import job_edges
from processor.adapters.redis_store import RedisGraphStore, _node_record
from processor.core.graph_reader import Direction, Level, Walk
from processor.core.identity import edge_id, node_id
from processor.core.query_results import QueryNode, stored_node
from processor.core.snapshot import EdgeRecord, NodeRecord

# expand.lua's ARGV[2]
_LUA_DIRECTION: dict[Direction, str] = {"downstream": "down", "upstream": "up"}
_ID = 32  # characters of a node id: the scripts' id lists are concatenated


class RedisGraphReader:
    """Reads the current generation of a ``RedisGraphStore``.

    ``floor``: edges whose lastSeen is not after it are hidden, like deleted
    ones (the retention cutoff, an RFC 3339 time; "" hides nothing). Deletes are
    honoured as in ``core.snapshot.EdgeRecord.visible``. Hashes holding only
    tombstone fields (no ``s`` / ``ns``) are not edges or nodes.
    """

    def __init__(self, store: RedisGraphStore, *, floor: str = "") -> None:
        self.store = store
        self.floor = floor

    async def resolve(self, namespace: str, name: str) -> NodeRecord | None:
        """The record of one dataset (one round trip), or None."""
        try:
            key = self.store.keys.node(node_id(namespace, name))
            row = cast("dict[bytes, bytes]", await self.store.client.hgetall(key))
        except RedisError as exc:
            raise unavailable(exc) from exc
        return _node_record(row) if row and b"ns" in row else None

    async def expand(
        self, node_ids: Sequence[str], direction: Direction, known: Collection[str], room: int
    ) -> Level:
        """One level in one round trip (``lua/expand.lua``)."""
        if not node_ids:
            return Level({}, {}, False)
        keys = self.store.keys
        args: list[str | int] = [
            keys.base,
            _LUA_DIRECTION[direction],
            self.floor,
            "".join(node_ids),
            "".join(known),
            max(room, 0),
        ]
        try:
            raw = await self.store.scripts.expand(
                keys=[keys.deleted_edges, keys.deleted_nodes], args=args
            )
        except RedisError as exc:
            raise unavailable(exc) from exc
        raw_links, raw_nodes, truncated = orjson.loads(raw)
        links: dict[str, list[str]] = {}
        for i in range(0, len(raw_links), 2):
            if raw_links[i + 1]:  # an empty list arrives as {}
                links[raw_links[i]] = raw_links[i + 1]
        nodes: dict[str, NodeRecord] = {}
        for i in range(0, len(raw_nodes), 2):
            ns, name, internal, ty = raw_nodes[i + 1]
            nodes[raw_nodes[i]] = NodeRecord(ns, name, internal == "1", ty)
        return Level(links, nodes, bool(truncated))

    async def walk(
        self, roots: Mapping[str, NodeRecord], direction: Direction, depth: int, max_nodes: int
    ) -> Walk:
        """The whole walk in one round trip (``lua/walk.lua``)."""
        keys = self.store.keys
        args: list[str | int] = [
            keys.base,
            _LUA_DIRECTION[direction],
            self.floor,
            depth,
            max_nodes,
            "".join(sorted(roots)),
        ]
        try:
            raw = await self.store.scripts.walk(
                keys=[keys.deleted_edges, keys.deleted_nodes], args=args
            )
        except RedisError as exc:
            raise unavailable(exc) from exc
        truncated, raw_ids, raw_records, sizes, sources, targets, *packed = raw
        ids = raw_ids.decode()
        names = {nid: (rec.namespace, rec.name) for nid, rec in roots.items()}
        # The new nodes come level by level: sizes[i] of them at distance i + 1.
        distances = [level for level, size in enumerate(sizes, start=1) for _ in range(size)]
        nodes: list[QueryNode] = []
        for at, (ns, name, internal, ty), level in zip(
            range(0, len(ids), _ID), orjson.loads(raw_records), distances, strict=True
        ):
            nid = ids[at : at + _ID]
            names[nid] = (ns, name)
            nodes.append(stored_node(nid, ns, name, internal == "1", ty, level))
        edges = decode_query_edges(sources.decode(), targets.decode(), packed, names)
        return Walk(nodes, edges, bool(truncated))

    async def job_edges(self, namespace: str, name: str) -> list[tuple[str, str]]:
        """Every edge carrying the job (the job index), in one round trip."""
        return await job_edges(self.store, namespace, name)

    async def edges(self, pairs: Sequence[tuple[str, str]]) -> Mapping[tuple[str, str], EdgeRecord]:
        """The records of the (source id, target id) edges that exist, in one round trip."""
        if not pairs:
            return {}
        args = [self.store.keys.base, "".join(edge_id(s, t) for s, t in pairs)]
        try:
            raw = await self.store.scripts.edges(args=args)
        except RedisError as exc:
            raise unavailable(exc) from exc
        jobs: dict[bytes, tuple[str, str]] = {}  # parsed once per call: edges share jobs
        return {
            (source, target): decode_edge(source, target, packed, jobs=jobs)
            for (source, target), packed in zip(pairs, raw, strict=True)
            if packed
        }
