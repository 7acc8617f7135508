"""The Lua fold against a real Redis agrees with the in-memory reference fold,
however the events are cut into batches and however often they are folded."""

from __future__ import annotations

import asyncio
import random
import re
from typing import Any

import pytest

from processor.adapters.redis_store import RedisGraphStore
from processor.core.fold import Graph
from processor.core.fold_payload import OUTCOME_ACCEPTED, encode_batch
from processor.core.pipeline import Accepted, Classified, FoldEvent, Limits, classify
from processor.core.rules import MixRule
from processor.core.snapshot import snapshot_hash
from processor.samples import realistic_mix

pytestmark = [pytest.mark.integration, pytest.mark.redis]


def _folds(n: int, seed: int) -> list[FoldEvent]:
    """The distinct accepted events of a realistic mix (its duplicates dropped)."""
    rule, limits = MixRule("mixed", ["snowflake://*"]), Limits()
    out: dict[str, FoldEvent] = {}
    for _, value in realistic_mix(n, seed=seed):
        c = classify(value, rule, limits)
        if isinstance(c, Classified) and isinstance(c.outcome, Accepted):
            out.setdefault(c.content_hash, c.outcome.fold)
    return list(out.values())


def _reference(folds: list[FoldEvent]) -> str:
    graph = Graph()
    for f in folds:
        graph.apply(f)
    return snapshot_hash(graph.snapshot())


async def _fold_in_batches(
    store: RedisGraphStore, folds: list[FoldEvent], size: int, token: str
) -> list[bool]:
    flags: list[bool] = []
    for i in range(0, len(folds), size):
        part = folds[i : i + size]
        marks = [(f.content_hash, OUTCOME_ACCEPTED) for f in part]
        flags += await store.mark_and_fold(encode_batch(marks, part), f"{token}.{i}")
    return flags


def test_batches_in_any_order_and_size_fold_to_the_reference(
    redis_service: Any, key_prefix: str
) -> None:
    folds = _folds(1500, seed=3)
    want = _reference(folds)

    async def run() -> None:
        store = RedisGraphStore.from_url(redis_service.address, prefix=key_prefix)
        try:
            shuffled = list(folds)
            random.Random(1).shuffle(shuffled)
            flags = await _fold_in_batches(store, shuffled, 137, "a")
            assert all(flags)  # distinct events: every mark is new
            assert snapshot_hash(await store.snapshot()) == want
            # Redelivered in other batches: all duplicates, graph unchanged.
            flags = await _fold_in_batches(store, folds, 500, "b")
            assert not any(flags)
            assert snapshot_hash(await store.snapshot()) == want
        finally:
            await store.close()

    asyncio.run(run())


def test_event_counts_stay_exact_after_dedup_keys_expire(
    redis_service: Any, key_prefix: str
) -> None:
    folds = _folds(600, seed=4)
    want = _reference(folds)

    async def run() -> None:
        store = RedisGraphStore.from_url(redis_service.address, prefix=key_prefix)
        try:
            await _fold_in_batches(store, folds, 200, "a")
            # Expire every dedup key at once, then fold everything again.
            keys = [k async for k in store.client.scan_iter(match=f"{store.base}seen:*")]
            assert keys
            await store.client.delete(*keys)
            flags = await _fold_in_batches(store, folds, 300, "b")
            assert all(flags)  # the marks are new again...
            assert snapshot_hash(await store.snapshot()) == want  # ...the graph is not
        finally:
            await store.close()

    asyncio.run(run())


def test_a_retried_batch_reports_its_own_marks_as_new(redis_service: Any, key_prefix: str) -> None:
    folds = _folds(200, seed=5)
    marks = [(f.content_hash, OUTCOME_ACCEPTED) for f in folds]
    payload = encode_batch(marks, folds)

    async def run() -> None:
        store = RedisGraphStore.from_url(redis_service.address, prefix=key_prefix)
        try:
            first = await store.mark_and_fold(payload, "batch-1")
            # The reply was lost and the same batch is sent again: same token.
            again = await store.mark_and_fold(payload, "batch-1")
            other = await store.mark_and_fold(payload, "batch-2")
        finally:
            await store.close()
        assert first == [True] * len(folds)
        assert again == first
        assert other == [False] * len(folds)

    asyncio.run(run())


def test_edges_and_event_marks_stay_in_redis_compact_encodings(
    redis_service: Any, key_prefix: str
) -> None:
    folds = _folds(300, seed=6)
    marks = [(f.content_hash, OUTCOME_ACCEPTED) for f in folds]

    async def run() -> None:
        store = RedisGraphStore.from_url(redis_service.address, prefix=key_prefix)
        try:
            await store.mark_and_fold(encode_batch(marks, folds), "t")
            client, base = store.client, store.base
            _, records = await store.read_graph()
            events = {e.source + e.target: e.events for e in records}
            eids = list(events)
            assert eids and await store.counts() == (
                len({e[:32] for e in eids} | {e[32:] for e in eids}),
                len(eids),
            )
            with_set = 0
            for eid in eids:
                key = f"{base}em:{eid}"
                members = await client.smembers(key)
                if not members:
                    continue  # an edge seen once keeps its only mark inline
                with_set += 1
                # Exact 64-bit integers, not doubles: an event count cannot merge two events.
                assert len(members) >= 2
                assert all(re.fullmatch(rb"-?[0-9]+", m) for m in members)
                assert await client.object("encoding", key) == b"intset"
            assert with_set > 0  # the mix repeats jobs: some edges saw several events
            assert sum(1 for n in events.values() if n >= 2) == with_set
            # A small dataset's adjacency of lastSeen values stays a listpack.
            nid = eids[0][32:]
            encoding = await client.object("encoding", f"{base}in:{nid}")
            assert encoding in (b"ziplist", b"listpack")
        finally:
            await store.close()

    asyncio.run(run())
