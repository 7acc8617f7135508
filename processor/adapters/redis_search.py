"""Dataset search over the Redis graph (``GET /api/v1/datasets``, reusable by the CLI).

Cost: O(N) in the datasets of the current generation, per call. The ``nodes``
set is walked with ``SSCAN`` (``COUNT 1000``), and each chunk's
``HMGET ns name int ty`` is sent in one pipeline, so a search costs about
N / 1000 x 2 round trips and holds every match in memory to sort it (the page
is cut after sorting). Fine for graphs of up to a few hundred thousand datasets;
past that, a sorted index (a ``ZSET`` of ``namespace\\0name`` written by the
fold) would make pages O(log N + page), at the price of a second write per new
node.

The ``nodes`` set holds every dataset an edge ever touched, so a dataset whose
edges a delete currently hides is still listed (as the lineage queries still
resolve it); ``type`` is the snapshot's (``core.snapshot.node_type``).
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.exceptions import RedisError

from processor.adapters.redis_store import RedisGraphStore
from processor.core.snapshot import NodeRecord
from processor.errors import RedisUnavailable

CHUNK = 1000
_FIELDS = ("ns", "name", "int", "ty")


@dataclass(frozen=True, slots=True)
class DatasetPage:
    """One page of a search: ``datasets`` sorted by (namespace, name); ``total`` matches."""

    datasets: tuple[NodeRecord, ...]
    total: int
    offset: int
    limit: int


def matches(record: NodeRecord, needle: str) -> bool:
    """``needle`` (already case-folded) is in the namespace or the name, ignoring case."""
    return needle in record.namespace.casefold() or needle in record.name.casefold()


async def search_datasets(
    store: RedisGraphStore, text: str = "", *, offset: int = 0, limit: int = 50
) -> DatasetPage:
    """The datasets whose namespace or name contains ``text`` (case-insensitive;
    every dataset when empty), sorted by (namespace, name), from ``offset``, at
    most ``limit``. ``RedisUnavailable`` when Redis fails."""
    if offset < 0 or limit < 1:
        raise ValueError("offset must be >= 0 and limit >= 1")
    needle = text.casefold()
    found: list[NodeRecord] = []
    key = store.base + "nodes"
    base = store.base
    cursor = 0
    try:
        while True:
            cursor, members = await store.client.sscan(key, cursor=cursor, count=CHUNK)
            if members:
                async with store.client.pipeline(transaction=False) as pipe:
                    for member in members:
                        nid = member.decode() if isinstance(member, bytes) else member
                        pipe.hmget(f"{base}n:{nid}", _FIELDS)
                    rows = await pipe.execute()
                for ns, name, internal, ty in rows:
                    if ns is None or name is None:
                        continue  # a tombstone-only hash, not a dataset
                    record = NodeRecord(
                        namespace=ns.decode(),
                        name=name.decode(),
                        internal=internal == b"1",
                        type=None if ty is None else ty.decode(),
                    )
                    if matches(record, needle):
                        found.append(record)
            if cursor == 0:
                break
    except RedisError as exc:
        raise RedisUnavailable(f"Redis: {exc}") from exc
    # SSCAN may return a member more than once while the set grows or rehashes.
    unique = sorted({(r.namespace, r.name): r for r in found}.values(), key=_order)
    return DatasetPage(tuple(unique[offset : offset + limit]), len(unique), offset, limit)


def _order(record: NodeRecord) -> tuple[str, str]:
    return (record.namespace, record.name)
