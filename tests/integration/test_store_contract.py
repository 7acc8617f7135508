"""The ``GraphStore`` port has two implementations, the Redis one (``lua/fold.lua``,
``lua/delete.lua``) and the in-memory one the commit-order tests run on: the same
calls must get the same answers from both and leave the same graph."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from processor.adapters.memory import MemoryGraphStore
from processor.adapters.redis_store import RedisGraphStore
from processor.core.batch_plan import classify_batch
from processor.core.control import DeleteRequest
from processor.core.pipeline import Classified, Limits
from processor.core.rules import MixRule
from processor.core.snapshot import snapshot_hash
from processor.ports import GraphStore
from processor.samples import realistic_mix

RULE = MixRule("mixed", ["snowflake://*"])


async def _script(store: GraphStore, batches: list[list[bytes | None]]) -> list[Any]:
    """Every kind of call, retries with the same token and redeliveries included;
    returns every answer in order."""
    answers: list[Any] = []
    hashes: list[str] = []
    for i, values in enumerate(batches):
        results, payloads = classify_batch(values, RULE, Limits())
        hashes += [c.content_hash for c in results if isinstance(c, Classified)]
        offsets = {"events/0": 100 * i + len(values)}
        # twice with the same token: the second call as a retry after a lost reply
        for _ in range(2):
            answers.append([await store.mark_and_fold(p, f"b{i}", offsets) for p in payloads])
        answers.append(await store.seen([*hashes, "0" * 64]))
    # a redelivery of the first batch, as a new batch
    _, payloads = classify_batch(batches[0], RULE, Limits())
    answers.append([await store.mark_and_fold(p, "again") for p in payloads])
    return answers


def _deletes(node_ids: list[str]) -> list[DeleteRequest]:
    a, b, c = node_ids[:3]
    return [
        DeleteRequest(a, None, "2026-03-01T12:00:00.000000Z"),
        DeleteRequest(None, b, "2030-01-01T00:00:00.000000Z"),
        DeleteRequest(b, c, "2026-01-01T00:00:00.000000Z"),
    ]


@pytest.mark.parametrize("mark_rejected", [True, False])
def test_redis_and_memory_stores_answer_alike(
    redis_service: Any, key_prefix: str, mark_rejected: bool
) -> None:
    values = [v for _, v in realistic_mix(240, seed=11)]
    batches = [values[:100], values[100:180], values[60:240]]  # overlapping: duplicates

    async def run() -> None:
        redis = RedisGraphStore.from_url(
            redis_service.address, prefix=key_prefix, mark_rejected=mark_rejected
        )
        memory = MemoryGraphStore(mark_rejected=mark_rejected)
        try:
            await redis.load_generation()
            want = await _script(memory, batches)
            got = await _script(redis, batches)
            assert got == want
            # not a vacuous agreement: the retry of a batch found its marks
            # new, the redelivery found duplicates
            first, retry, redelivery = want[0], want[1], want[-1]
            assert retry == first
            assert all(f for call in first for f in call)
            assert not all(f for call in redelivery for f in call)
            requests = _deletes(sorted({e.source for e in memory.graph.edges.values()}))
            for store in (redis, memory):
                await store.apply_deletes(requests, {"control/0": 3})
            assert snapshot_hash(await redis.snapshot()) == snapshot_hash(memory.graph.snapshot())
        finally:
            await redis.close()

    asyncio.run(run())
