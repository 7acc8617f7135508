"""Every store reads the dedup window with the configured TTL: the TTL sets the
window's bucket width, so a store with another one (a ``dlq redrive``'s, a
rebuild's) would look in other buckets (docs/redis.md, "The dedup window")."""

from __future__ import annotations

import asyncio

from processor.adapters.connections import graph_store
from processor.settings import Settings


def test_a_store_takes_the_dedup_ttl_of_the_settings_unless_told() -> None:
    settings = Settings(dedup_ttl_seconds=3600)
    store = graph_store(settings)
    told = graph_store(settings, dedup_ttl_seconds=60)
    try:
        assert store.ttl == 3600
        assert told.ttl == 60
    finally:
        asyncio.run(store.close())
        asyncio.run(told.close())
