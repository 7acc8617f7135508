"""The lineage graph in Redis.

Key layout (``P`` = ``LINEAGE_REDIS_PREFIX``, ``g`` = generation). Every key of
a generation shares the hash tag ``{P:g<g>}`` so one generation lives in one
cluster slot and can be dropped as a unit::

    P:generation                      current generation (string)
    P:generation:next                 counter that numbers new generations (rebuild)
    P:rebuild:lock / :gen / :progress a running rebuild: its lock, the generation it
                                      builds, its progress (``processor.rebuild``)
    {P:g<g>}:seen:<content hash>      dedup mark, value "<outcome>:<batch token>", TTL
    {P:g<g>}:n:<node id>              hash: ns, name, int, ty (type), tk (rank of ty),
                                      dout / din (tombstones of deletes of its out / in edges)
    {P:g<g>}:e:<source id><target id> hash: s, t, fs, ls, rk, rid, n, <job as JSON>...,
                                      del (tombstone of deletes of this edge)
    {P:g<g>}:em:<edge id>             set of event marks (64-bit ints): exact event count
    {P:g<g>}:edges / :nodes           sets of edge ids / node ids touched by an edge
    {P:g<g>}:out:<node id> / :in:...  adjacency sets
    {P:g<g>}:names                    ZSET, every score 0: "<namespace>\\0<name>" of each
                                      member of ``nodes`` (the dataset search index)
    {P:g<g>}:j:<job key id>           set of the ids of the edges that carry the job
    {P:g<g>}:edel / :ndel             sets of the edge / node ids that carry a tombstone
    {P:g<g>}:folded                   hash "topic/partition" -> highest offset folded
                                      into this generation (by the fold and deletes)

Node ids are fixed-size hashes of (namespace, name) (``core.identity``), so no
dataset name ever becomes part of a key; a job key id is the sha1 hex of the
job's JSON field (``core.identity.job_key_id``; ``redis.sha1hex`` in the fold),
so no job name does either. The ``names`` members hold the names as values:
DESIGN.md forbids NUL in them, so byte order of the members (all scores equal)
is (namespace, name) order by code point, UTF-8 keeping code-point order. Both
indexes are written by ``lua/fold.lua``, like the sets, and lose what the
retention sweep removes (``lua/sweep.lua``).

A tombstone can arrive before the events it covers, so an edge or node hash may
hold only tombstone fields: an edge exists once it has ``s``, a node once it
has ``ns``.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from processor.core.control import DeleteRequest
from processor.core.fold_payload import OUTCOME_ACCEPTED as OUTCOME_ACCEPTED
from processor.core.fold_payload import OUTCOME_IGNORED as OUTCOME_IGNORED
from processor.core.fold_payload import OUTCOME_REJECTED as OUTCOME_REJECTED
from processor.core.fold_payload import encode_batch as encode_batch
from processor.core.snapshot import EdgeRecord, NodeRecord, build_snapshot
from processor.errors import RedisUnavailable

_CHUNK = 1000


def _load_script(name: str) -> str:
    return importlib.resources.files("processor.adapters").joinpath("lua", name).read_text()


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
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl = dedup_ttl_seconds
        # A store pinned to a generation (a rebuild's) writes and reads only
        # that one; otherwise writes follow the pointer inside each Lua call and
        # reads use ``generation``, refreshed from the pointer.
        self.pinned = generation
        self.generation = generation or "1"
        self.mark_rejected = mark_rejected
        self._fold = client.register_script(_load_script("fold.lua"))
        self._delete = client.register_script(_load_script("delete.lua"))

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
    def base(self) -> str:
        """Key prefix of the current generation, hash tag included."""
        return f"{{{self.prefix}:g{self.generation}}}:"

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
        return f"{self.prefix}:generation"

    async def load_generation(self) -> str:
        """Read (creating on first start) the current-generation pointer; the
        reads of an unpinned store follow it from now on."""
        try:
            await self.client.set(self.pointer, "1", nx=True)
            value = await self.client.get(self.pointer)
        except RedisError as exc:
            raise RedisUnavailable(f"Redis: {exc}") from exc
        current = value.decode() if isinstance(value, bytes) else str(value)
        if self.pinned is None:
            self.generation = current
        return current

    async def rebuild_progress(self) -> dict[str, Any] | None:
        """The running rebuild's progress record (``processor.rebuild``), or None."""
        try:
            raw = await self.client.get(f"{self.prefix}:rebuild:progress")
        except RedisError as exc:
            raise RedisUnavailable(f"Redis: {exc}") from exc
        if raw is None:
            return None
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None

    async def seen(self, hashes: Sequence[str]) -> list[bool]:
        """Which content hashes are already marked (one round trip)."""
        if not hashes:
            return []
        base = self.base
        try:
            values = await self.client.mget([f"{base}seen:{h}" for h in hashes])
        except RedisError as exc:
            raise RedisUnavailable(f"Redis: {exc}") from exc
        return [v is not None for v in values]

    async def mark_and_fold(
        self, payload: bytes, token: str, offsets: Mapping[str, int] | None = None
    ) -> list[bool]:
        """Set the dedup marks of a batch and fold its joined lineage, atomically.

        ``payload`` comes from ``encode_batch``. Returns, per mark, whether it
        was new. ``token`` identifies the batch: a retry after a lost reply
        finds its own marks and reports them as new again. ``offsets``: the
        batch's highest offset per ``"topic/partition"``, recorded with it.
        """
        args: list[str | int | bytes] = [
            self.prefix,
            self.pinned or "",
            self.ttl,
            token,
            payload,
            "1" if self.mark_rejected else "0",
            orjson.dumps(offsets or {}),
        ]
        try:
            flags = await self._fold(keys=[], args=args)
        except RedisError as exc:
            raise RedisUnavailable(f"Redis: {exc}") from exc
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
            await self._delete(
                keys=[],
                args=[
                    self.prefix,
                    self.pinned or "",
                    orjson.dumps(encoded),
                    orjson.dumps(offsets or {}),
                ],
            )
        except RedisError as exc:
            raise RedisUnavailable(f"Redis: {exc}") from exc

    async def counts(self) -> tuple[int, int]:
        """(nodes, edges) of the current generation."""
        base = self.base
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.scard(base + "nodes")
                pipe.scard(base + "edges")
                nodes, edges = await pipe.execute()
        except RedisError as exc:
            raise RedisUnavailable(f"Redis: {exc}") from exc
        return int(nodes), int(edges)

    async def _edge_ids(self) -> AsyncIterator[list[str]]:
        cursor = 0
        key = self.base + "edges"
        while True:
            cursor, members = await self.client.sscan(key, cursor=cursor, count=_CHUNK)
            if members:
                yield [m.decode() if isinstance(m, bytes) else m for m in members]
            if cursor == 0:
                return

    async def read_graph(self) -> tuple[dict[str, NodeRecord], list[EdgeRecord]]:
        """Every node and edge of the current generation, as records; an edge's
        ``deleted_until`` joins its own tombstone and its endpoints'."""
        base = self.base
        rows: list[dict[bytes, bytes]] = []
        node_ids: set[str] = set()
        try:
            async for chunk in self._edge_ids():
                async with self.client.pipeline(transaction=False) as pipe:
                    for eid in chunk:
                        pipe.hgetall(f"{base}e:{eid}")
                    for row in await pipe.execute():
                        if row and b"s" in row:
                            rows.append(row)
                            node_ids.add(row[b"s"].decode())
                            node_ids.add(row[b"t"].decode())
            nodes: dict[str, NodeRecord] = {}
            out_deleted: dict[str, str] = {}
            in_deleted: dict[str, str] = {}
            ids = sorted(node_ids)
            for start in range(0, len(ids), _CHUNK):
                part = ids[start : start + _CHUNK]
                async with self.client.pipeline(transaction=False) as pipe:
                    for nid in part:
                        pipe.hgetall(f"{base}n:{nid}")
                    node_rows = await pipe.execute()
                for nid, row in zip(part, node_rows, strict=True):
                    nodes[nid] = _node_record(row)
                    out_deleted[nid] = row.get(b"dout", b"").decode()
                    in_deleted[nid] = row.get(b"din", b"").decode()
        except RedisError as exc:
            raise RedisUnavailable(f"Redis: {exc}") from exc
        edges = []
        for row in rows:
            src, dst = row[b"s"].decode(), row[b"t"].decode()
            own = row.get(b"del", b"").decode()
            edges.append(_edge_record(row, max(own, out_deleted[src], in_deleted[dst])))
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


def _edge_record(row: dict[bytes, bytes], deleted_until: str = "") -> EdgeRecord:
    jobs: set[tuple[str, str]] = set()
    for field in row:
        if field[:1] == b"[":
            ns, name = orjson.loads(field)
            jobs.add((ns, name))
    rid = row.get(b"rid", b"")
    return EdgeRecord(
        source=row[b"s"].decode(),
        target=row[b"t"].decode(),
        jobs=frozenset(jobs),
        first_seen=row[b"fs"].decode(),
        last_seen=row[b"ls"].decode(),
        last_run_id=rid.decode() or None,
        events=int(row[b"n"]),
        deleted_until=deleted_until,
    )
