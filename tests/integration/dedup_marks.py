"""The dedup marks a worker wrote, read as the worker reads them
(``lua/seen.lua``), for tests that watch the window from outside."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import redis

from processor.adapters.redis_keys import Keyspace
from processor.adapters.redis_scripts import DEDUP_WINDOW, source
from processor.adapters.redis_store import RedisGraphStore
from processor.core.dedup_window import BUCKETS_PER_TTL
from processor.core.fold_payload import encode_batch

DEFAULT_TTL = 7 * 24 * 3600  # LINEAGE_DEDUP_TTL_SECONDS's default, the stacks' setting


def dedup_marks(
    client: redis.Redis,
    prefix: str,
    hashes: Sequence[str],
    *,
    generation: str = "1",
    ttl: int = DEFAULT_TTL,
) -> list[str]:
    """The outcome letter (``a``, ``i``, ``r``) of each hash's mark, ``""`` for none."""
    if not hashes:
        return []
    script = client.register_script(source(DEDUP_WINDOW) + "\n" + source("seen.lua"))
    base = Keyspace(prefix, generation).base
    found = script(args=[base, time.time(), ttl, BUCKETS_PER_TTL, *hashes])
    return [v.decode() if isinstance(v, bytes) else str(v) for v in found]


def write_rejection_mark(redis_url: str, prefix: str, content_hash: str, token: str) -> None:
    """Mark an event rejected in the current generation, as a worker does."""

    async def run() -> None:
        store = RedisGraphStore.from_url(redis_url, prefix=prefix)
        try:
            await store.load_generation()
            await store.mark_and_fold(encode_batch([(content_hash, "r")], []), token)
        finally:
            await store.close()

    asyncio.run(run())
