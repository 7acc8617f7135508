"""The lineage graph in Redis: dedup marks and the graph of one generation.

The keys and what each holds are described in docs/redis.md; their names are
built by ``adapters.redis_keys.Keyspace`` (and, for the per-node and per-edge
keys, by the Lua scripts). An edge is a field of its source's ``out:`` hash
(a packed record, ``adapters.redis_edge_codec``) and of its target's ``in:``
hash; its delete tombstone is the ``e:`` hash. A tombstone can arrive before
the events it covers, so a node hash may hold only tombstone fields: a node
exists once it has ``ns``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from processor.adapters.redis_edge_codec import decode_edge
from processor.adapters.redis_errors import unavailable
from processor.adapters.redis_keys import Keyspace
from processor.adapters.redis_scripts import Scripts
from processor.core.control import DeleteRequest
from processor.core.dedup_window import BUCKETS_PER_TTL
from processor.core.fold_payload import OUTCOME_ACCEPTED as OUTCOME_ACCEPTED
from processor.core.fold_payload import OUTCOME_IGNORED as OUTCOME_IGNORED
from processor.core.fold_payload import OUTCOME_REJECTED as OUTCOME_REJECTED
from processor.core.fold_payload import encode_batch as encode_batch
from processor.core.snapshot import EdgeRecord, NodeRecord, build_snapshot

_CHUNK = 1000


class RedisGraphStore:
    """Dedup marks and the graph of one generation, folded by one Lua call per batch."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "lineage",
        dedup_ttl_seconds: int = 7 * 24 * 3600,
        generation: str | None = None,
        mark_rejected: bool = True,
        clock: Callable[[], float] = time.time,
        dedup_buckets: int = BUCKETS_PER_TTL,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl = dedup_ttl_seconds
        # The dedup window's buckets follow this clock (``core.dedup_window``).
        self.clock = clock
        self.dedup_buckets = dedup_buckets
        # A store pinned to a generation (a rebuild's) writes and reads only
        # that one; otherwise writes follow the pointer inside each Lua call and
        # reads use ``generation``, refreshed from the pointer.
        self.pinned = generation
        self.generation = generation or "1"
        self.mark_rejected = mark_rejected
        self.scripts = Scripts.of(client)
        self._keys = Keyspace(prefix, self.generation)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        timeout: float = 10.0,
        client_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> RedisGraphStore:
        """A store on a new connection pool; commands time out after ``timeout`` s.

        ``client_options`` (credentials, TLS: ``adapters.connections``) go to
        redis-py; ``kwargs`` to the store."""
        client = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=30,
            **(client_options or {}),
        )
        return cls(client, **kwargs)

    @property
    def keys(self) -> Keyspace:
        """The key names of the current generation (``generation``)."""
        if self._keys.generation != self.generation or self._keys.prefix != self.prefix:
            self._keys = Keyspace(self.prefix, self.generation)
        return self._keys

    @property
    def base(self) -> str:
        """Key prefix of the current generation, hash tag included."""
        return self.keys.base

    async def close(self) -> None:
        await self.client.aclose()

    async def ping(self) -> bool:
        """True when Redis answers."""
        try:
            return bool(await self.client.ping())
        except RedisError:
            return False

    @property
    def pointer(self) -> str:
        """The key naming the current generation."""
        return self.keys.pointer

    async def load_generation(self) -> str:
        """Read (creating on first start) the current-generation pointer; the
        reads of an unpinned store follow it from now on."""
        try:
            await self.client.set(self.pointer, "1", nx=True)
            value = await self.client.get(self.pointer)
        except RedisError as exc:
            raise unavailable(exc) from exc
        current = value.decode() if isinstance(value, bytes) else str(value)
        if self.pinned is None:
            self.generation = current
        return current

    async def rebuild_progress(self) -> dict[str, Any] | None:
        """The running rebuild's progress record (``processor.rebuild``), or None."""
        try:
            raw = await self.client.get(self.keys.rebuild_progress)
        except RedisError as exc:
            raise unavailable(exc) from exc
        if raw is None:
            return None
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None

    def window_args(self, hashes: Sequence[str]) -> list[str | int | float]:
        """The arguments of ``lua/seen.lua`` and ``lua/clear_rejected.lua``."""
        return [self.keys.base, self.clock(), self.ttl, self.dedup_buckets, *hashes]

    async def marks(self, hashes: Sequence[str]) -> list[str]:
        """The outcome letter of each content hash's dedup mark (``a``, ``i``,
        ``r``), ``""`` where there is none (one round trip)."""
        if not hashes:
            return []
        try:
            found = await self.scripts.seen(args=self.window_args(hashes))
        except RedisError as exc:
            raise unavailable(exc) from exc
        return [v.decode() if isinstance(v, bytes) else str(v) for v in found]

    async def seen(self, hashes: Sequence[str]) -> list[bool]:
        """Which content hashes are already marked (one round trip)."""
        return [bool(m) for m in await self.marks(hashes)]

    async def mark_and_fold(
        self, payload: bytes, token: str, offsets: Mapping[str, int] | None = None
    ) -> list[bool]:
        """Set the dedup marks of a batch and fold its joined lineage, atomically.

        ``payload`` comes from ``encode_batch``. Returns, per mark, whether it
        was new. ``token`` identifies the batch: a retry after a lost reply
        finds its own marks and reports them as new again. ``offsets``: the
        batch's highest offset per ``"topic/partition"``, recorded with it.
        """
        args: list[str | int | float | bytes] = [
            self.prefix,
            self.pinned or "",
            self.ttl,
            token,
            payload,
            "1" if self.mark_rejected else "0",
            orjson.dumps(offsets or {}),
            self.clock(),
            self.dedup_buckets,
        ]
        try:
            flags = await self.scripts.fold(keys=[self.pointer], args=args)
        except RedisError as exc:
            raise unavailable(exc) from exc
        return [bool(f) for f in flags]

    async def apply_deletes(
        self, requests: Sequence[DeleteRequest], offsets: Mapping[str, int] | None = None
    ) -> None:
        """Fold delete requests into their tombstones, atomically (idempotent);
        ``offsets`` as for ``mark_and_fold``."""
        if not requests and not offsets:
            return
        encoded = []
        for r in requests:
            if r.source_id is not None and r.target_id is not None:
                encoded.append(["e", r.source_id + r.target_id, r.requested_at])
            elif r.source_id is not None:
                encoded.append(["o", r.source_id, r.requested_at])
            elif r.target_id is not None:
                encoded.append(["i", r.target_id, r.requested_at])
        try:
            await self.scripts.delete(
                keys=[self.pointer],
                args=[
                    self.prefix,
                    self.pinned or "",
                    orjson.dumps(encoded),
                    orjson.dumps(offsets or {}),
                ],
            )
        except RedisError as exc:
            raise unavailable(exc) from exc

    async def counts(self) -> tuple[int, int]:
        """(nodes, edges) of the current generation."""
        keys = self.keys
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.scard(keys.nodes)
                pipe.get(keys.edge_count)
                nodes, edges = await pipe.execute()
        except RedisError as exc:
            raise unavailable(exc) from exc
        return int(nodes), int(edges or 0)

    async def member_chunks(self, key: str) -> AsyncIterator[list[str]]:
        """The members of the set ``key``, a chunk at a time (SSCAN: no long call)."""
        cursor = 0
        while True:
            cursor, members = await self.client.sscan(key, cursor=cursor, count=_CHUNK)
            if members:
                yield [m.decode() if isinstance(m, bytes) else m for m in members]
            if cursor == 0:
                return

    async def read_graph(self) -> tuple[dict[str, NodeRecord], list[EdgeRecord]]:
        """Every node and edge of the current generation, as records; an edge's
        ``deleted_until`` joins its own tombstone and its endpoints'. The edges
        are read per source, one ``out:`` hash of packed records each."""
        keys = self.keys
        packed: list[tuple[str, str, bytes]] = []
        nodes: dict[str, NodeRecord] = {}
        out_deleted: dict[str, str] = {}
        in_deleted: dict[str, str] = {}
        own_deleted: dict[str, str] = {}
        try:
            async for chunk in self.member_chunks(keys.nodes):
                async with self.client.pipeline(transaction=False) as pipe:
                    for nid in chunk:
                        pipe.hgetall(keys.outgoing(nid))
                        pipe.hgetall(keys.node(nid))
                    replies = await pipe.execute()
                for i, nid in enumerate(chunk):
                    outs, row = replies[2 * i], replies[2 * i + 1]
                    packed.extend((nid, t.decode(), rec) for t, rec in outs.items())
                    if row and b"ns" in row:
                        nodes[nid] = _node_record(row)
                    out_deleted[nid] = row.get(b"dout", b"").decode()
                    in_deleted[nid] = row.get(b"din", b"").decode()
            async for chunk in self.member_chunks(keys.deleted_edges):
                async with self.client.pipeline(transaction=False) as pipe:
                    for eid in chunk:
                        pipe.hget(keys.edge(eid), "del")
                    for eid, at in zip(chunk, await pipe.execute(), strict=True):
                        own_deleted[eid] = (at or b"").decode()
        except RedisError as exc:
            raise unavailable(exc) from exc
        edges = []
        jobs: dict[bytes, tuple[str, str]] = {}
        for src, dst, rec in packed:
            own = own_deleted.get(src + dst, "")
            until = max(own, out_deleted.get(src, ""), in_deleted.get(dst, ""))
            edges.append(decode_edge(src, dst, rec, until, jobs=jobs))
        return nodes, edges

    async def snapshot(self, floor: str = "") -> dict[str, Any]:
        """The canonical snapshot of the current generation; ``floor`` is the
        retention cutoff (``core.timefmt.retention_floor``), "" for none."""
        nodes, edges = await self.read_graph()
        return build_snapshot(nodes, edges, floor)


def _node_record(row: dict[bytes, bytes]) -> NodeRecord:
    ty = row.get(b"ty")
    return NodeRecord(
        namespace=row[b"ns"].decode(),
        name=row[b"name"].decode(),
        internal=row.get(b"int") == b"1",
        type=None if ty is None else ty.decode(),
    )
