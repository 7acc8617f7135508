"""Dataset search and job lookups over the fold's indexes (``GET /api/v1/datasets``, the CLI).

The fold keeps a ``names`` ZSET of ``namespace\\0name``, one member per member
of the ``nodes`` set (docs/redis.md), and per job a ``j:`` set of
its edge ids. With every score 0, the ZSET's order is (namespace, name) order.

Cost of ``search_datasets``, for N datasets in the current generation and a
page of P:

* empty ``text``: ``ZCARD`` and ``ZRANGE offset offset+P-1`` in one round trip,
  O(log N + P), then one pipelined ``HMGET`` of the page's P nodes.
* any other ``text``: still O(N), since substring matching cannot use the
  sorted order, but inside Redis: ``lua/search.lua`` reads ``SEARCH_CHUNK``
  members per call (about 3 ms of Redis time each on the 2-core dev machine;
  other clients run between calls), matches them and returns only the count
  and the page's members. So N / ``SEARCH_CHUNK`` round trips (about 30 ms a
  search over 23k datasets), nothing but the page held in Python, and
  ``total`` exact. Then the same ``HMGET`` of the page.

Matching is a plain substring of the namespace or the name, case-insensitive
for ASCII letters only (Lua's ``string.lower`` in the C locale; the needle is
lowered the same way here): ``É`` does not match ``é``. The chunks continue
from the last member read, so a fold running during the search never makes it
see a member twice; a name folded in meanwhile is seen only if it sorts after
the chunk in progress.

With ``types`` (docs/design.md section 5b) the type of a dataset is needed,
and it lives in the node hash, whose key is a hash the Lua side cannot compute
(sha256). So the same chunked calls return every match of their chunk rather
than the page's, and one pipelined ``HMGET`` per chunk reads the side and type
of those matches: still O(N) and N / ``SEARCH_CHUNK`` Lua calls, plus the
matches' names and types crossing to Python (``total`` still exact).

The ``nodes`` set (and so the index) holds every dataset an edge touches until
the retention sweep removes its last edge, so a dataset whose edges a delete or
the retention window currently hides is still listed (as the lineage queries
still resolve it); ``type`` is the snapshot's (``core.snapshot.node_type``).
A graph folded before the indexes existed has an empty ``names`` ZSET and no
``j:`` sets: rebuild it (docs/design.md section 6).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from processor.adapters.redis_errors import unavailable
from processor.adapters.redis_store import RedisGraphStore
from processor.core.identity import NODE_ID_BYTES, job_key_id, node_id
from processor.core.snapshot import NodeRecord, node_type

SEARCH_CHUNK = 5000  # index members matched per Lua call (~ms of Redis time at 5,000)
_FIELDS = ("ns", "name", "int", "ty")
_ASCII_LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")
_ID_CHARS = NODE_ID_BYTES * 2  # a node id in hex: an edge id is two of them


@dataclass(frozen=True, slots=True)
class DatasetPage:
    """One page of a search: ``datasets`` sorted by (namespace, name); ``total`` matches."""

    datasets: tuple[NodeRecord, ...]
    total: int
    offset: int
    limit: int


def ascii_lower(text: str) -> bytes:
    """``text`` as UTF-8 with only A-Z lowered, as Lua's ``string.lower`` lowers."""
    return text.encode("utf-8", "surrogatepass").translate(_ASCII_LOWER)


async def search_datasets(
    store: RedisGraphStore,
    text: str = "",
    *,
    offset: int = 0,
    limit: int = 50,
    types: frozenset[str] | None = None,
) -> DatasetPage:
    """The datasets whose namespace or name contains ``text`` (ASCII letters
    case-insensitive; every dataset when empty) and, with ``types``, whose type
    is one of them, sorted by (namespace, name), from ``offset``, at most
    ``limit``. ``RedisUnavailable`` when Redis fails."""
    if offset < 0 or limit < 1:
        raise ValueError("offset must be >= 0 and limit >= 1")
    key = store.keys.names
    needle = ascii_lower(text)
    try:
        if types is not None:
            if b"\0" in needle:
                return DatasetPage((), 0, offset, limit)
            typed, count = await _scan_typed(store, key, needle, types, offset, limit)
            return DatasetPage(typed, count, offset, limit)
        if not needle:
            async with store.client.pipeline(transaction=True) as pipe:
                pipe.zcard(key)
                pipe.zrange(key, offset, offset + limit - 1)
                total, members = await pipe.execute()
        elif b"\0" in needle:
            total, members = 0, []  # no dataset name holds NUL (docs/design.md section 2)
        else:
            total, members = await _scan(store, key, needle, offset, limit)
        datasets = await _records(store, members)
    except RedisError as exc:
        raise unavailable(exc) from exc
    return DatasetPage(datasets, int(total), offset, limit)


async def _scan(
    store: RedisGraphStore, key: str, needle: bytes, offset: int, limit: int
) -> tuple[int, list[bytes]]:
    """(number of matches, the matches of the page) by chunked ``lua/search.lua`` calls."""
    total = 0
    page: list[bytes] = []
    async for reply in _chunks(store, key, needle, (offset, offset + limit)):
        total += int(reply[0])
        page.extend(reply[3:])
    return total, page


async def _scan_typed(
    store: RedisGraphStore,
    key: str,
    needle: bytes,
    types: frozenset[str],
    offset: int,
    limit: int,
) -> tuple[tuple[NodeRecord, ...], int]:
    """(the page, number of matches) of a search by text and type: each chunk's
    text matches (all of them) are typed by one pipelined read."""
    total = 0
    page: list[NodeRecord] = []
    async for reply in _chunks(store, key, needle, None):
        for record in await _records(store, reply[3:]):
            if node_type(record) in types:
                if offset <= total < offset + limit:
                    page.append(record)
                total += 1
    return tuple(page), total


async def _chunks(
    store: RedisGraphStore, key: str, needle: bytes, page: tuple[int, int] | None
) -> AsyncIterator[list[Any]]:
    """The replies of ``lua/search.lua`` over the index, a chunk at a time, to
    its end: [found, read, last member, matches...]. ``page``: the (first, end)
    running indexes of the matches to return; None: every match of each chunk."""
    script = store.scripts.search
    start: bytes = b"-"
    found = 0
    while True:
        window = (found, *page) if page else (0, 0, SEARCH_CHUNK)
        reply = await script(keys=[key], args=[start, SEARCH_CHUNK, needle, *window])
        yield reply
        if int(reply[1]) < SEARCH_CHUNK:
            return
        found += int(reply[0])
        start = b"(" + reply[2]


async def _records(store: RedisGraphStore, members: list[bytes]) -> tuple[NodeRecord, ...]:
    """The node records of index members, in their order (one pipelined round trip)."""
    if not members:
        return ()
    keys = store.keys
    async with store.client.pipeline(transaction=False) as pipe:
        for member in members:
            ns, _, name = member.decode().partition("\0")
            pipe.hmget(keys.node(node_id(ns, name)), _FIELDS)
        rows = await pipe.execute()
    records = []
    for ns, name, internal, ty in rows:
        if ns is None or name is None:
            continue  # a tombstone-only hash, not a dataset
        records.append(
            NodeRecord(
                namespace=ns.decode(),
                name=name.decode(),
                internal=internal == b"1",
                type=None if ty is None else ty.decode(),
            )
        )
    return tuple(records)


async def job_edges(store: RedisGraphStore, namespace: str, name: str) -> list[tuple[str, str]]:
    """(source node id, target node id) of every edge the job produced, sorted; [] for
    a job the graph does not hold. One round trip (``HKEYS j:<job key id>``)."""
    try:
        members = await store.client.hkeys(store.keys.job(job_key_id(namespace, name)))
    except RedisError as exc:
        raise unavailable(exc) from exc
    ids = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
    return [(eid[:_ID_CHARS], eid[_ID_CHARS:]) for eid in ids]
