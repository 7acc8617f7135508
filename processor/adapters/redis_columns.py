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
from processor.core.column_payload import (
    TIME_DIGITS,
    compact_time,
    expand_time,
    split_column_field,
    vocabulary_entry,
)
from processor.core.column_queries import Column
from processor.core.column_snapshot import ColumnEdgeRecord, build_column_snapshot
from processor.core.columns import Transformation
from processor.core.graph_reader import Direction
from processor.core.identity import NODE_ID_BYTES, node_id

_CHUNK = 1000
NODE_ID_CHARS = NODE_ID_BYTES * 2

# A dataset pair's column edges as read: (source id, target id, {field: packed value}).
PairRow = tuple[str, str, dict[bytes, bytes]]


async def column_edge_count(store: RedisGraphStore) -> int:
    """Column edges stored in the current generation (hidden ones included)."""
    try:
        return int(await store.client.get(store.keys.column_count) or 0)
    except RedisError as exc:
        raise unavailable(exc) from exc


async def read_pairs(store: RedisGraphStore, pairs: Sequence[tuple[str, str]]) -> list[PairRow]:
    """The column edges of the dataset pairs ``pairs`` (those that have some), one round trip."""
    keys = store.keys
    async with store.client.pipeline(transaction=False) as pipe:
        for sid, tid in pairs:
            pipe.hgetall(keys.column_pair(sid, tid))
        rows = await pipe.execute()
    return [(s, t, row) for (s, t), row in zip(pairs, rows, strict=True) if row]


async def records_of(
    store: RedisGraphStore,
    rows: Iterable[PairRow],
) -> list[ColumnEdgeRecord]:
    """Column edges of pair rows as records: dataset names, jobs and
    transformations, and the deletes covering each pair."""
    keys = store.keys
    edges: list[tuple[str, str, str, str | None, bytes]] = []
    nodes: set[str] = set()
    pairs: set[str] = set()
    wanted: set[bytes] = set()
    for s, t, row in rows:
        for f, v in row.items():
            sf, tf = split_column_field(f.decode())
            edges.append((s, sf, t, tf, v))
            wanted.update(v[2 * TIME_DIGITS :].split(b","))
        nodes.update((s, t))
        pairs.add(s + t)
    node_list, pair_list, ix_list = sorted(nodes), sorted(pairs), sorted(wanted)
    names: dict[str, tuple[str, str]] = {}
    out_del: dict[str, str] = {}
    in_del: dict[str, str] = {}
    pair_del: dict[str, str] = {}
    vocab: dict[bytes, tuple[str, Any]] = {}
    for start in range(0, max(len(node_list), len(pair_list), len(ix_list)), _CHUNK):
        part_n = node_list[start : start + _CHUNK]
        part_p = pair_list[start : start + _CHUNK]
        part_x = ix_list[start : start + _CHUNK]
        async with store.client.pipeline(transaction=False) as pipe:
            pipe.hmget(keys.column_datasets, part_n or [""])
            pipe.hmget(keys.column_dict, [b"#" + x for x in part_x] or [""])
            for nid in part_n:
                pipe.hmget(keys.node(nid), "dout", "din")
            for eid in part_p:
                pipe.hget(keys.edge(eid), "del")
            replies = await pipe.execute()
        for nid, text in zip(part_n, replies[0], strict=False):
            ns, name = orjson.loads(text) if text else ("", "")
            names[nid] = (ns, name)
        for x, text in zip(part_x, replies[1], strict=False):
            if text:
                vocab[x] = vocabulary_entry(text.decode())
        replies = replies[2:]
        for nid, (dout, din) in zip(part_n, replies[: len(part_n)], strict=True):
            out_del[nid] = (dout or b"").decode()
            in_del[nid] = (din or b"").decode()
        for eid, d in zip(part_p, replies[len(part_n) :], strict=True):
            pair_del[eid] = (d or b"").decode()
    out = []
    for s, sf, t, tf, v in edges:
        jobs: set[tuple[str, str]] = set()
        trans: set[Transformation] = set()
        for x in v[2 * TIME_DIGITS :].split(b","):
            kind, entry = vocab[x]
            (jobs if kind == "job" else trans).add(entry)
        out.append(
            ColumnEdgeRecord(
                (*names[s], sf),
                (*names[t], tf),
                frozenset(trans),
                frozenset(jobs),
                expand_time(v[:TIME_DIGITS].decode()),
                expand_time(v[TIME_DIGITS : 2 * TIME_DIGITS].decode()),
                max(pair_del[s + t], out_del[s], in_del[t]),
            )
        )
    return out


def _pair(member: str) -> tuple[str, str]:
    return member[:NODE_ID_CHARS], member[NODE_ID_CHARS:]


async def read_columns(store: RedisGraphStore) -> list[ColumnEdgeRecord]:
    """Every column edge of the current generation, as records."""
    try:
        rows: list[PairRow] = []
        async for chunk in store.member_chunks(store.keys.column_pairs):
            rows += await read_pairs(store, [_pair(m) for m in chunk])
        return await records_of(store, rows)
    except RedisError as exc:
        raise unavailable(exc) from exc


async def column_snapshot(store: RedisGraphStore, floor: str = "") -> dict[str, Any]:
    """The canonical column snapshot of the current generation (``floor``:
    the retention cutoff, "" for none)."""
    return build_column_snapshot(await read_columns(store), floor)


async def sweep_columns(store: RedisGraphStore, floor: str, *, chunk: int = 200) -> int:
    """Remove the column edges last seen at or before ``floor``; how many went."""
    if not floor:
        raise ValueError("the sweep needs a cutoff time")
    keys = store.keys
    cursor: bytes | str = "0"
    removed = 0
    try:
        while True:
            cursor, n = await store.scripts.column_sweep(
                keys=[keys.column_pairs], args=[keys.base, compact_time(floor), cursor, chunk]
            )
            removed += int(n)
            if cursor in (b"0", "0"):
                return removed
    except RedisError as exc:
        raise unavailable(exc) from exc


def _decoded(members: Iterable[Any]) -> list[str]:
    return [m.decode() if isinstance(m, bytes) else str(m) for m in members]


class RedisColumnReader:
    """The ``ColumnReader`` of ``core.column_queries`` on the current
    generation: two round trips a level (``lua/column_expand.lua``: the column
    edges of the frontier's columns; then the names, deletes and attribute
    table entries they need)."""

    def __init__(self, store: RedisGraphStore, floor: str = "") -> None:
        self.store = store
        self.floor = floor

    async def dataset_fields(self, namespace: str, name: str) -> Sequence[str | None]:
        keys = self.store.keys
        nid = node_id(namespace, name)
        try:
            feeds, fed_by = await self._adjacent([nid], keys.column_feeds, keys.column_fed_by)
            async with self.store.client.pipeline(transaction=False) as pipe:
                for t in feeds[0]:
                    pipe.hkeys(keys.column_pair(nid, t))
                for s in fed_by[0]:
                    pipe.hkeys(keys.column_pair(s, nid))
                replies = await pipe.execute()
        except RedisError as exc:
            raise unavailable(exc) from exc
        fields: set[str | None] = set()
        for i, reply in enumerate(replies):
            for f in reply:
                sf, tf = split_column_field(f.decode())
                fields.add(sf if i < len(feeds[0]) else tf)
        return sorted(fields, key=lambda f: (f is not None, f or ""))

    async def _adjacent(self, ids: Sequence[str], *indexes: Any) -> list[list[list[str]]]:
        async with self.store.client.pipeline(transaction=False) as pipe:
            for index in indexes:
                for nid in ids:
                    pipe.smembers(index(nid))
            replies = await pipe.execute()
        n = len(ids)
        return [[_decoded(r) for r in replies[k * n : (k + 1) * n]] for k in range(len(indexes))]

    async def column_edges(
        self, columns: Sequence[Column], direction: Direction
    ) -> Sequence[ColumnEdgeRecord]:
        keys = self.store.keys
        args: list[str] = [keys.base, "u" if direction == "upstream" else "d"]
        for ns, name, field in columns:
            args += (node_id(ns, name), field or "")
        try:
            flat = await self.store.scripts.column_expand(keys=[], args=args)
            found: dict[tuple[str, str], dict[bytes, bytes]] = {}
            for k in range(0, len(flat), 4):
                s, t, f, v = flat[k : k + 4]
                found.setdefault((s.decode(), t.decode()), {})[f] = v
            records = await records_of(self.store, [(s, t, r) for (s, t), r in found.items()])
        except RedisError as exc:
            raise unavailable(exc) from exc
        return [r for r in records if r.shown(self.floor)]
