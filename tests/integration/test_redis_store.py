"""The Lua fold against a real Redis agrees with the in-memory reference fold,
however the events are cut into batches and however often they are folded."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from processor.adapters.redis_store import RedisGraphStore
from processor.core.fold import Graph
from processor.core.fold_payload import OUTCOME_ACCEPTED, encode_batch
from processor.core.identity import node_id
from processor.core.pipeline import Accepted, Classified, FoldEvent, Limits, NodeUpdate, classify
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
            keys = [k async for k in store.client.scan_iter(match=f"{store.base}dd:*")]
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
            reference = Graph()
            for f in folds:
                reference.apply(f)
            assert events == {eid: len(e.marks) for eid, e in reference.edges.items()}
            eids = list(events)
            several = 0
            for eid, edge in reference.edges.items():
                stored = await client.get(f"{base}em:{eid}")
                if len(edge.marks) == 1:
                    assert stored is None  # an edge seen once keeps its only mark inline
                    continue
                several += 1
                # Every distinct mark once, as 8 bytes, in order: exact 64-bit
                # integers, so an event count cannot merge two events.
                assert stored == b"".join(sorted(bytes.fromhex(m) for m in edge.marks))
            assert several > 0  # the mix repeats jobs: some edges saw several events
            # A small dataset's adjacency of lastSeen values stays a listpack.
            nid = eids[0][32:]
            encoding = await client.object("encoding", f"{base}in:{nid}")
            assert encoding in (b"ziplist", b"listpack")
        finally:
            await store.close()

    asyncio.run(run())


def test_event_marks_count_once_across_batches_and_resends(
    redis_service: Any, key_prefix: str
) -> None:
    """Marks added a few at a time, re-sent after their dedup keys would have
    expired (a new batch token), at the ends of the 64-bit range: each event
    counts once and the stored marks are exactly the distinct ones, in order."""
    hub, out = ("warehouse", "hub"), ("warehouse", "out")
    edges = ((node_id(*hub), node_id(*out)),)
    extremes = ["0" * 16, "f" * 16, "8" + "0" * 15, "7" + "f" * 15, "0" * 15 + "1"]
    hashes = [m + "ab" * 24 for m in extremes] + [f"{i:064x}"[::-1] for i in range(17, 56)]
    folds = [
        FoldEvent(
            content_hash=h,
            event_time=f"2026-01-01T00:00:{i % 60:02d}.000000Z",
            run_id=None,
            job=("etl", f"job{i % 3}"),
            nodes=(
                NodeUpdate(edges[0][0], *hub, True, None),
                NodeUpdate(edges[0][1], *out, True, None),
            ),
            edges=edges,
        )
        for i, h in enumerate(hashes)
    ]
    want = b"".join(sorted({bytes.fromhex(h[:16]) for h in hashes}))

    async def run() -> None:
        store = RedisGraphStore.from_url(redis_service.address, prefix=key_prefix)
        try:
            await _fold_in_batches(store, folds[:1], 1, "a")  # one mark: kept inline
            assert not await store.client.exists(f"{store.base}em:{edges[0][0]}{edges[0][1]}")
            await _fold_in_batches(store, folds, 7, "b")
            await _fold_in_batches(store, folds[::-1], 13, "c")  # all re-sent
            _, records = await store.read_graph()
            assert len(set(extremes)) == 5
            assert [e.events for e in records] == [len(want) // 8] == [44]
            stored = await store.client.get(f"{store.base}em:{edges[0][0]}{edges[0][1]}")
            assert stored == want
        finally:
            await store.close()

    asyncio.run(run())
