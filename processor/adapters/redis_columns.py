"""Column lineage in Redis (docs/design.md section 5a; keys in docs/redis.md):
reading the column edges as records, the column snapshot, the count, and the
retention sweep of column edges. ``lua/fold.lua`` writes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from redis.exceptions import RedisError

from processor.adapters.redis_errors import unavailable
from processor.adapters.redis_store import RedisGraphStore
from processor.core.column_payload import TRANSFORMATION_PREFIX, parse_transformation
from processor.core.column_queries import Column
from processor.core.column_snapshot import ColumnEdgeRecord, build_column_snapshot
from processor.core.columns import Transformation, column_id
from processor.core.graph_reader import Direction
from processor.core.identity import node_id

_CHUNK = 1000
_TRANS = TRANSFORMATION_PREFIX.encode()


async def column_edge_count(store: RedisGraphStore) -> int:
    """Column edges stored in the current generation (hidden ones included)."""
    try:
        return int(await store.client.scard(store.keys.column_edges))
    except RedisError as exc:
        raise unavailable(exc) from exc


async def read_column_rows(store: RedisGraphStore, ids: Sequence[str]) -> list[dict[bytes, bytes]]:
    """The hashes of the column edges ``ids`` (those that exist), one round trip."""
    keys = store.keys
    async with store.client.pipeline(transaction=False) as pipe:
        for cid in ids:
            pipe.hgetall(keys.column_edge(cid))
        rows = await pipe.execute()
    return [row for row in rows if row and b"s" in row]


async def records_of(
    store: RedisGraphStore, rows: Iterable[dict[bytes, bytes]]
) -> list[ColumnEdgeRecord]:
    """Column edge rows as records: dataset names and the deletes covering each pair."""
    rows = list(rows)
    keys = store.keys
    nodes: set[str] = set()
    pairs: set[str] = set()
    for row in rows:
        s, t = row[b"s"].decode(), row[b"t"].decode()
        nodes.update((s, t))
        pairs.add(s + t)
    node_list, pair_list = sorted(nodes), sorted(pairs)
    names: dict[str, tuple[str, str]] = {}
    out_del: dict[str, str] = {}
    in_del: dict[str, str] = {}
    pair_del: dict[str, str] = {}
    for start in range(0, max(len(node_list), len(pair_list)), _CHUNK):
        part_n = node_list[start : start + _CHUNK]
        part_p = pair_list[start : start + _CHUNK]
        async with store.client.pipeline(transaction=False) as pipe:
            if part_n:
                pipe.hmget(keys.column_datasets, part_n)
            for nid in part_n:
                pipe.hmget(keys.node(nid), "dout", "din")
            for eid in part_p:
                pipe.hget(keys.edge(eid), "del")
            replies = await pipe.execute()
        if part_n:
            for nid, text in zip(part_n, replies[0], strict=True):
                ns, name = orjson.loads(text) if text else ("", "")
                names[nid] = (ns, name)
            replies = replies[1:]
        for nid, (dout, din) in zip(part_n, replies[: len(part_n)], strict=True):
            out_del[nid] = (dout or b"").decode()
            in_del[nid] = (din or b"").decode()
        for eid, d in zip(part_p, replies[len(part_n) :], strict=True):
            pair_del[eid] = (d or b"").decode()
    out = []
    for row in rows:
        s, t = row[b"s"].decode(), row[b"t"].decode()
        jobs: set[tuple[str, str]] = set()
        trans: set[Transformation] = set()
        for f in row:
            if f[:1] == b"[":
                ns, name = orjson.loads(f)
                jobs.add((ns, name))
            elif f[:1] == _TRANS:
                trans.add(parse_transformation(f.decode()))
        tf = row.get(b"tf")
        out.append(
            ColumnEdgeRecord(
                (*names[s], row[b"sf"].decode()),
                (*names[t], None if tf is None else tf.decode()),
                frozenset(trans),
                frozenset(jobs),
                row[b"fs"].decode(),
                row[b"ls"].decode(),
                max(pair_del[s + t], out_del[s], in_del[t]),
            )
        )
    return out


async def read_columns(store: RedisGraphStore) -> list[ColumnEdgeRecord]:
    """Every column edge of the current generation, as records."""
    try:
        rows: list[dict[bytes, bytes]] = []
        async for chunk in store.member_chunks(store.keys.column_edges):
            rows += await read_column_rows(store, chunk)
        return await records_of(store, rows)
    except RedisError as exc:
        raise unavailable(exc) from exc


async def column_snapshot(store: RedisGraphStore, floor: str = "") -> dict[str, Any]:
    """The canonical column snapshot of the current generation (``floor``:
    the retention cutoff, "" for none)."""
    return build_column_snapshot(await read_columns(store), floor)


async def sweep_columns(store: RedisGraphStore, floor: str, *, chunk: int = 500) -> int:
    """Remove the column edges last seen at or before ``floor``; how many went."""
    if not floor:
        raise ValueError("the sweep needs a cutoff time")
    keys = store.keys
    cursor: bytes | str = "0"
    removed = 0
    try:
        while True:
            cursor, n = await store.scripts.column_sweep(
                keys=[keys.column_edges], args=[keys.base, floor, cursor, chunk]
            )
            removed += int(n)
            if cursor in (b"0", "0"):
                return removed
    except RedisError as exc:
        raise unavailable(exc) from exc


class RedisColumnReader:
    """The ``ColumnReader`` of ``core.column_queries`` on the current
    generation: three round trips a level (the edge ids of the frontier's
    columns, their hashes, the names and deletes of their datasets)."""

    def __init__(self, store: RedisGraphStore, floor: str = "") -> None:
        self.store = store
        self.floor = floor

    async def dataset_fields(self, namespace: str, name: str) -> Sequence[str | None]:
        try:
            members = await self.store.client.smembers(
                self.store.keys.dataset_columns(node_id(namespace, name))
            )
        except RedisError as exc:
            raise unavailable(exc) from exc
        fields = [m.decode() if isinstance(m, bytes) else str(m) for m in members]
        return sorted((f or None for f in fields), key=lambda f: (f is not None, f or ""))

    async def column_edges(
        self, columns: Sequence[Column], direction: Direction
    ) -> Sequence[ColumnEdgeRecord]:
        keys = self.store.keys
        index = keys.column_in if direction == "upstream" else keys.column_out
        try:
            async with self.store.client.pipeline(transaction=False) as pipe:
                for ns, name, field in columns:
                    pipe.smembers(index(column_id(node_id(ns, name), field)))
                replies = await pipe.execute()
            ids = sorted({m.decode() for members in replies for m in members})
            rows: list[dict[bytes, bytes]] = []
            for start in range(0, len(ids), _CHUNK):
                rows += await read_column_rows(self.store, ids[start : start + _CHUNK])
            records = await records_of(self.store, rows)
        except RedisError as exc:
            raise unavailable(exc) from exc
        return [r for r in records if r.shown(self.floor)]
