"""Retention against the real Redis store: edges last seen at or before the
cutoff are hidden from queries and snapshots, and the sweep removes exactly
those (and the datasets they leave alone) without changing what is shown."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from processor.adapters.redis_reader import RedisGraphReader
from processor.adapters.redis_retention import sweep, take_sweep_lock
from processor.adapters.redis_store import RedisGraphStore
from processor.core.control import DeleteRequest
from processor.core.fold import Graph
from processor.core.fold_payload import OUTCOME_ACCEPTED, encode_batch
from processor.core.identity import job_key_id, node_id
from processor.core.pipeline import Accepted, Classified, FoldEvent, Limits, classify
from processor.core.queries import downstream, upstream
from processor.core.rules import MixRule
from processor.core.snapshot import snapshot_hash
from tests.events import ol_event

pytestmark = [pytest.mark.integration, pytest.mark.redis]

PG, SF = "postgres://db", "snowflake://acme"
OLD_SRC, SRC, STG, MART, LONE = (
    (PG, "old.src"),
    (PG, "src"),
    (SF, "STG"),
    (SF, "MART"),
    (PG, "lone"),
)
RULE = MixRule("any", [f"{SF}*"])
JAN, FEB, MAR = "2026-01-10T00:00:00Z", "2026-02-10T00:00:00Z", "2026-03-10T00:00:00Z"
# Cutoff between the February and March events: January and February edges go.
FLOOR = "2026-03-01T00:00:00.000000Z"

EVENTS = [
    ol_event(job=("etl", "old"), inputs=[OLD_SRC], outputs=[STG], event_time=JAN),
    ol_event(job=("etl", "lone"), inputs=[LONE], outputs=[STG], event_time=FEB),
    ol_event(job=("etl", "load"), inputs=[SRC], outputs=[STG], event_time=JAN),
    ol_event(job=("etl", "load"), inputs=[SRC], outputs=[STG], event_time=MAR),
    ol_event(job=("dbt", "mart"), inputs=[STG], outputs=[MART], event_time=MAR),
]


def _folds(values: Sequence[bytes]) -> list[FoldEvent]:
    out = []
    for value in values:
        c = classify(value, RULE, Limits())
        assert isinstance(c, Classified)
        assert isinstance(c.outcome, Accepted)
        out.append(c.outcome.fold)
    return out


async def _fold(store: RedisGraphStore, values: Sequence[bytes], token: str = "t") -> None:
    folds = _folds(values)
    await store.mark_and_fold(
        encode_batch([(f.content_hash, OUTCOME_ACCEPTED) for f in folds], folds), token
    )


def _names(snapshot: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["source"]["name"], e["target"]["name"]) for e in snapshot["edges"]]


def test_the_floor_hides_old_edges_from_snapshots_and_queries(
    redis_service: Any, key_prefix: str
) -> None:
    async def run() -> None:
        store = RedisGraphStore.from_url(redis_service.address, prefix=key_prefix)
        try:
            await _fold(store, EVENTS)
            everything = await store.snapshot()
            assert _names(everything) == [
                ("lone", "STG"),
                ("old.src", "STG"),
                ("src", "STG"),
                ("STG", "MART"),
            ]
            recent = await store.snapshot(FLOOR)
            # src -> STG was seen again in March: kept, with both events counted.
            assert _names(recent) == [("src", "STG"), ("STG", "MART")]
            assert recent["edges"][0]["events"] == 2
            assert [n["name"] for n in recent["nodes"]] == ["src", "MART", "STG"]
            # The same floor over the in-memory reference fold.
            reference = Graph()
            for fold in _folds(EVENTS):
                reference.apply(fold)
            assert snapshot_hash(reference.snapshot(FLOOR)) == snapshot_hash(recent)

            reader = RedisGraphReader(store, floor=FLOOR)
            up = await upstream(reader, *MART)
            assert [n.name for n in up.nodes] == ["MART", "STG", "src"]
            assert [(e.source[1], e.target[1]) for e in up.edges] == [
                ("src", "STG"),
                ("STG", "MART"),
            ]
            old = await downstream(reader, *OLD_SRC)
            assert [n.name for n in old.nodes] == ["old.src"]
            assert old.edges == ()
        finally:
            await store.close()

    asyncio.run(run())


def test_the_sweep_removes_what_the_floor_hides_and_nothing_else(
    redis_service: Any, key_prefix: str
) -> None:
    async def run() -> None:
        store = RedisGraphStore.from_url(redis_service.address, prefix=key_prefix)
        try:
            await _fold(store, EVENTS)
            stg = node_id(*STG)
            # A delete of every edge into STG, requested after the floor: its
            # tombstone must survive the sweep.
            await store.apply_deletes([DeleteRequest(None, stg, "2026-03-05T00:00:00.000000Z")])
            before = snapshot_hash(await store.snapshot(FLOOR))

            result = await sweep(store, FLOOR, chunk=2)  # several SSCAN steps
            assert (result.edges, result.datasets) == (2, 2)  # old.src, lone and their edges
            assert snapshot_hash(await store.snapshot(FLOOR)) == before
            assert await store.counts() == (3, 2)  # src, STG, MART; src->STG, STG->MART
            base = store.base
            client = store.client
            for gone in (OLD_SRC, LONE):
                nid = node_id(*gone)
                assert not await client.exists(f"{base}n:{nid}", f"{base}out:{nid}")
                assert not await client.sismember(f"{base}nodes", nid)
            assert await client.hget(f"{base}n:{stg}", "din") == b"2026-03-05T00:00:00.000000Z"
            # The indexes follow: the name index and the swept jobs' edge sets.
            names = await client.zrange(f"{base}names", 0, -1)
            assert names == [f"{ns}\0{nm}".encode() for ns, nm in (SRC, MART, STG)]
            assert not await client.exists(f"{base}j:{job_key_id('etl', 'old')}")
            assert await client.hkeys(f"{base}j:{job_key_id('etl', 'load')}") == [
                (node_id(*SRC) + stg).encode()
            ]
            # A late January event into STG stays hidden (by the kept delete and
            # the floor), and a second sweep finds nothing more.
            late = ol_event(job=("etl", "late"), inputs=[LONE], outputs=[STG], event_time=JAN)
            await _fold(store, [late], "t2")
            assert snapshot_hash(await store.snapshot(FLOOR)) == before
            assert await sweep(store, FLOOR) == (1, 1)
            assert await sweep(store, FLOOR) == (0, 0)
        finally:
            await store.close()

    asyncio.run(run())


def test_one_worker_takes_the_sweep_lock_per_interval(redis_service: Any, key_prefix: str) -> None:
    async def run() -> None:
        store = RedisGraphStore.from_url(redis_service.address, prefix=key_prefix)
        try:
            assert await take_sweep_lock(store, 300)
            assert not await take_sweep_lock(store, 300)
            await asyncio.sleep(0.4)
            assert await take_sweep_lock(store, 300)
        finally:
            await store.close()

    asyncio.run(run())


def test_the_worker_hides_and_sweeps_edges_past_the_retention_window(stack: Any) -> None:
    from datetime import UTC, datetime

    from tests.integration.kafka_utils import produce

    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    stale = ol_event(job=("etl", "stale"), inputs=[OLD_SRC], outputs=[STG], event_time=JAN)
    fresh = ol_event(job=("etl", "fresh"), inputs=[SRC], outputs=[STG], event_time=now)
    worker = stack.start_worker(LINEAGE_RETENTION_DAYS="30", LINEAGE_RETENTION_SWEEP_SECONDS="0.5")
    produce(stack.bootstrap, stack.input_topic, [(b"k", stale), (b"k", fresh)])
    worker.wait_for(lambda: worker.metric("lineage_events_accepted_total") == 2, timeout=30)
    snapshot = worker.get_json("/api/v1/graph/snapshot")
    assert _names(snapshot) == [("src", "STG")]
    worker.wait_for(
        lambda: worker.metric("lineage_retention_swept_total", kind="edge") == 1, timeout=30
    )
    assert worker.metric("lineage_retention_swept_total", kind="dataset") == 1  # old.src
    import redis

    client = redis.Redis.from_url(stack.redis_url)
    try:
        assert client.get(f"{{{stack.prefix}:g1}}:ecount") == b"1"
    finally:
        client.close()
    # Read as of a day after the stale event, the window would still show it,
    # but the sweep has removed it: asOf is reproducible from the last sweep on.
    hashed = worker.get_json("/api/v1/graph/snapshot?hash=1&asOf=2026-01-11T00:00:00Z")
    assert (hashed["edges"], hashed["asOf"]) == (1, "2026-01-11T00:00:00.000000Z")
    code, body = worker.http_get("/api/v1/graph/snapshot?asOf=yesterday")
    assert code == 400
    assert b'"parameter":"asOf"' in body.replace(b" ", b"")
