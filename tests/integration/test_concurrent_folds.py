"""Folds of distinct partitions at the same time, on the real Redis: calls that
race over the same events (duplicates across partitions) fold each event once,
and the graph equals the pure fold's; through the hot path with several folds
in flight too."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from aiokafka.structs import ConsumerRecord

from processor.adapters.memory import MemoryPublisher
from processor.adapters.redis_store import RedisGraphStore
from processor.batch import BatchProcessor
from processor.core.batch_plan import classify_batch, first_occurrences
from processor.core.pipeline import Classified, Limits
from processor.core.rules import MixRule
from processor.core.snapshot import snapshot_hash
from processor.hot_path import HotPath
from processor.ports import BatchResult
from processor.samples import realistic_mix
from tests.integration.conftest import expected_hash

RULE = MixRule("mixed", ["snowflake://*"])
PARTITIONS = 4


def _split(values: list[bytes | None]) -> list[list[bytes | None]]:
    """Round robin over the partitions: the mix's duplicates land in distinct ones."""
    return [values[p::PARTITIONS] for p in range(PARTITIONS)]


def test_racing_fold_calls_mark_each_event_new_once(redis_service: Any, key_prefix: str) -> None:
    values = [v for _, v in realistic_mix(800, seed=5)]
    parts = _split(values)

    async def run() -> tuple[Counter[str], Counter[str], str]:
        store = RedisGraphStore.from_url(redis_service.address, prefix=key_prefix)
        try:
            await store.load_generation()
            calls = []
            hashes: Counter[str] = Counter()  # content hash -> partitions holding it
            for p, part in enumerate(parts):
                results, payloads = classify_batch(part, RULE, Limits())
                firsts = [results[i] for i in first_occurrences(results).values()]
                hashes.update(c.content_hash for c in firsts if isinstance(c, Classified))
                assert len(payloads) == 1
                calls.append((firsts, store.mark_and_fold(payloads[0], f"t{p}", {f"e/{p}": 1})))
            flags = await asyncio.gather(*(call for _, call in calls))
            new: Counter[str] = Counter()
            for (firsts, _), got in zip(calls, flags, strict=True):
                for c, flag in zip(firsts, got, strict=True):
                    assert isinstance(c, Classified)
                    new[c.content_hash] += flag
            return hashes, new, snapshot_hash(await store.snapshot())
        finally:
            await store.close()

    hashes, new, got = asyncio.run(run())
    assert any(n > 1 for n in hashes.values()), "no duplicate across partitions: a vacuous race"
    assert set(new) == set(hashes)
    assert all(n == 1 for n in new.values())  # exactly one call folded each event
    assert got == expected_hash(values)


def test_hot_path_with_folds_in_flight_equals_the_pure_fold(
    redis_service: Any, key_prefix: str
) -> None:
    values = [v for _, v in realistic_mix(2_000, seed=9)]
    parts = _split(values)

    async def run() -> tuple[list[BatchResult], dict[Any, int], str]:
        store = RedisGraphStore.from_url(redis_service.address, prefix=key_prefix)
        results: list[BatchResult] = []
        try:
            await store.load_generation()
            processor = BatchProcessor(
                store=store,
                publisher=MemoryPublisher(),
                rule=RULE,
                limits=Limits(),
                dlq_topic="dlq",
                version="test",
                max_backoff=0.1,
            )
            hot = HotPath(
                processor,
                None,
                topics=["events"],
                batch_size=50,
                settle_seconds=5.0,
                on_done=lambda result, _: results.append(result),
                folds_in_flight=PARTITIONS,
            )
            places = [("events", p) for p in range(PARTITIONS)]
            epoch = hot.book.assigned(places)
            runner = asyncio.create_task(hot.run())
            for start in range(0, len(parts[0]), 40):  # fetches of 40 per partition
                fetch = {
                    place: [
                        ConsumerRecord("events", p, o, 0, 0, b"k", part[o], None, 1, 1, [])
                        for o in range(start, min(start + 40, len(part)))
                    ]
                    for p, (place, part) in enumerate(zip(places, parts, strict=True))
                }
                await hot.put(fetch, epoch)
            await hot.drain(runner)
            runner.cancel()
            committable = hot.book.committable(places, lambda _: None)
            return results, committable, snapshot_hash(await store.snapshot())
        finally:
            await store.close()

    results, committable, got = asyncio.run(run())
    assert got == expected_hash(values)
    assert committable == {("events", p): len(part) for p, part in enumerate(_split(values))}
    distinct_valid = {
        c.content_hash
        for c in (classify_batch([v], RULE, Limits())[0][0] for v in values)
        if isinstance(c, Classified)
    }
    folded_once = sum(
        r.accepted + sum(r.rejected.values()) + sum(r.ignored.values()) for r in results
    )
    invalid = sum(
        1 for v in values if not isinstance(classify_batch([v], RULE, Limits())[0][0], Classified)
    )
    # every distinct event counted once, the rest duplicates
    assert folded_once == len(distinct_valid) + invalid
    assert sum(r.duplicate for r in results) == len(values) - len(distinct_valid) - invalid
