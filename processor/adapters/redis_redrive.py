"""What ``dlq redrive`` keeps in Redis.

``P:dlq:redriven`` (``P`` = ``LINEAGE_REDIS_PREFIX``): a set of the DLQ
records already redriven, as ``topic/partition/offset``. It is not under a
generation: a redrive is a fact about the log, and a rebuild replays the
redriven copies from the input topics anyway.

The dedup bypass: a rule-rejected event is marked seen (a rejection member in
the dedup window of the current generation, docs/redis.md), so a redriven copy
would be dropped as a duplicate. Before a copy is published its mark is
deleted, in one script (``lua/clear_rejected.lua``) so that nothing can change
the mark between the check and the delete, and only when it is a rejection
mark: an accepted (``a``) or ignored (``i``) mark means the event already had
its final outcome, and deleting it would count the event again.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.exceptions import RedisError

from processor.adapters.redis_errors import unavailable
from processor.adapters.redis_store import RedisGraphStore


class RedriveLedger:
    """The redriven set and the dedup bypass, on the store's connection and prefix."""

    def __init__(self, store: RedisGraphStore) -> None:
        self.store = store
        self.key = store.keys.redriven

    async def redriven(self, coordinates: Sequence[str]) -> list[bool]:
        """Which DLQ records (``topic/partition/offset``) were already redriven."""
        if not coordinates:
            return []
        try:
            async with self.store.client.pipeline(transaction=False) as pipe:
                for member in coordinates:
                    pipe.sismember(self.key, member)
                found = await pipe.execute()
        except RedisError as exc:
            raise unavailable(exc) from exc
        return [bool(f) for f in found]

    async def record(self, coordinates: Sequence[str]) -> None:
        """Remember DLQ records as redriven (after their copies are acknowledged)."""
        if not coordinates:
            return
        try:
            await self.store.client.sadd(self.key, *coordinates)
        except RedisError as exc:
            raise unavailable(exc) from exc

    async def clear_rejections(self, hashes: Sequence[str]) -> dict[str, str]:
        """Delete the dedup marks of these content hashes in the current
        generation that are rejection marks. Returns, per hash, the outcome
        of the mark it found (``r`` deleted, ``a`` or ``i`` kept) or ``""``."""
        unique = list(dict.fromkeys(hashes))
        if not unique:
            return {}
        try:
            found = await self.store.scripts.clear_rejected(args=self.store.window_args(unique))
        except RedisError as exc:
            raise unavailable(exc) from exc
        return {
            h: v.decode() if isinstance(v, bytes) else str(v)
            for h, v in zip(unique, found, strict=True)
        }
