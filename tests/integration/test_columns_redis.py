"""Column lineage in the real Redis (``lua/fold.lua``, ``adapters.redis_columns``):
the Redis fold equals the pure fold (``core.columns``) and the in-memory store
for any batching, retry and redelivery; deletes and retention hide column
edges; the Redis column reader answers as the reference index."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processor.adapters.http_columns import ColumnHandlers
from processor.adapters.memory import MemoryGraphStore
from processor.adapters.redis_columns import (
    RedisColumnReader,
    column_edge_count,
    column_snapshot,
    sweep_columns,
)
from processor.adapters.redis_store import RedisGraphStore
from processor.core.column_index import ColumnIndex
from processor.core.column_queries import walk
from processor.core.column_snapshot import column_records
from processor.core.control import DeleteRequest
from processor.core.fold import Graph
from processor.core.fold_payload import OUTCOME_ACCEPTED, encode_batch
from processor.core.identity import node_id
from processor.core.pipeline import Accepted, Classified, FoldEvent, Limits, classify
from processor.core.rules import MixRule
from tests.column_events import column_event, column_facet, spark_facet
from tests.property.test_column_laws import FIELDS, NAMES, column_events
from tests.property.test_delete_laws import deletes

pytestmark = [pytest.mark.integration, pytest.mark.redis]

RULE = MixRule("mixed", ["snowflake://*"])
_COUNTER = itertools.count()


def _pure(events: Sequence[FoldEvent], requests: Sequence[DeleteRequest] = ()) -> Graph:
    g = Graph()
    for e in events:
        g.apply(e)
    for r in requests:
        g.delete(r)
    return g


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(events=column_events(), dels=deletes(), data=st.data())
def test_redis_column_fold_equals_the_pure_fold_for_any_batching_and_redelivery(
    redis_service: Any, key_prefix: str, events: list[FoldEvent], dels: Any, data: Any
) -> None:
    prefix = f"{key_prefix}-{next(_COUNTER)}"

    async def run() -> None:
        redis = RedisGraphStore.from_url(redis_service.address, prefix=prefix)
        memory = MemoryGraphStore()
        try:
            await redis.load_generation()
            rest, n = list(events), 0
            while rest:
                k = data.draw(st.integers(1, len(rest)))
                batch, rest = rest[:k], rest[k:]
                payload = encode_batch([(e.content_hash, OUTCOME_ACCEPTED) for e in batch], batch)
                tries = data.draw(st.sampled_from(["once", "retry", "redeliver"]))
                for store in (redis, memory):
                    await store.mark_and_fold(payload, f"b{n}")
                    if tries == "retry":  # the same token: a lost reply
                        await store.mark_and_fold(payload, f"b{n}")
                    elif tries == "redeliver":  # a new batch with the same events
                        await store.mark_and_fold(payload, f"again{n}")
                n += 1
            for store in (redis, memory):
                await store.apply_deletes(dels)
            want = _pure(events, dels)
            got = await column_snapshot(redis)
            assert got == want.column_snapshot()
            assert got == memory.graph.column_snapshot()
            assert await column_edge_count(redis) == len(want.columns.edges)
            # the Redis reader walks as the reference index over the pure fold
            if want.columns.edges:
                edge = next(iter(want.columns.edges.values()))
                root = (*NAMES[edge.target_id], edge.target_field)
                index = ColumnIndex(column_records(want.columns, want.deleted_until))
                for direction in ("upstream", "downstream"):
                    a = await walk(RedisColumnReader(redis), [root], direction, 3)
                    b = await walk(index, [root], direction, 3)
                    assert a.as_json() == b.as_json()
        finally:
            await redis.close()

    asyncio.run(run())
    assert FIELDS  # the strategy's alphabet is shared with the property tests


def _folds(values: Sequence[bytes], rule: MixRule = RULE) -> list[FoldEvent]:
    out = []
    for value in values:
        c = classify(value, rule, Limits())
        assert isinstance(c, Classified)
        assert isinstance(c.outcome, Accepted)
        out.append(c.outcome.fold)
    return out


EXT = ("postgres://db", "src")
STG = ("snowflake://acme", "STG")
OLD = ("postgres://db", "old")
JAN, MAR = "2026-01-10T00:00:00Z", "2026-03-10T00:00:00Z"
FLOOR = "2026-03-01T00:00:00.000000Z"


def test_retention_hides_then_sweeps_old_column_edges(redis_service: Any, key_prefix: str) -> None:
    events = [
        column_event({STG: spark_facet(OLD, 2, 1)}, inputs=[OLD], event_time=JAN),
        column_event({STG: spark_facet(EXT, 3, 0, prefix="d")}, inputs=[EXT], event_time=MAR),
    ]
    folds = _folds(events)

    async def run() -> None:
        store = RedisGraphStore.from_url(redis_service.address, prefix=key_prefix)
        try:
            await store.mark_and_fold(
                encode_batch([(f.content_hash, OUTCOME_ACCEPTED) for f in folds], folds), "t"
            )
            everything = await column_snapshot(store)
            # January: 2 fields x (1 DIRECT + 1 INDIRECT); March: 3 fields x 1 DIRECT
            assert len(everything["columnEdges"]) == 2 * 2 + 3
            recent = await column_snapshot(store, FLOOR)
            assert [e["source"]["field"] for e in recent["columnEdges"]] == ["d0", "d1", "d2"]
            assert recent == _pure(folds).column_snapshot(FLOOR)
            assert await sweep_columns(store, FLOOR) == 4
            assert await column_edge_count(store) == 3
            assert await column_snapshot(store, FLOOR) == recent
            assert await column_snapshot(store) == recent  # the old ones are gone for good
        finally:
            await store.close()

    asyncio.run(run())


def test_deletes_of_the_pair_or_of_either_end_hide_column_edges(
    redis_service: Any, key_prefix: str
) -> None:
    facet = column_facet({"id": [((*EXT, "id"), [("DIRECT", "IDENTITY", False)])]})
    folds = _folds([column_event({STG: facet}, inputs=[EXT], event_time=JAN)])
    s, t = node_id(*EXT), node_id(*STG)
    after = "2026-01-11T00:00:00.000000Z"

    async def run() -> None:
        for i, request in enumerate(
            [
                DeleteRequest(s, t, after),
                DeleteRequest(s, None, after),
                DeleteRequest(None, t, after),
            ]
        ):
            store = RedisGraphStore.from_url(redis_service.address, prefix=f"{key_prefix}-{i}")
            try:
                await store.apply_deletes([request])  # before the event: still covers it
                await store.mark_and_fold(
                    encode_batch([(folds[0].content_hash, OUTCOME_ACCEPTED)], folds), "t"
                )
                assert await column_snapshot(store) == {"columnEdges": []}
                assert await column_edge_count(store) == 1  # hidden, not removed
            finally:
                await store.close()

    asyncio.run(run())


class _Backend:
    """What ``ColumnHandlers`` reads of a worker: its store and retention floor."""

    def __init__(self, store: RedisGraphStore) -> None:
        self.store = store

    def floor(self) -> str:
        return ""


def test_marquez_node_ids_with_colons_find_the_stored_field(
    redis_service: Any, key_prefix: str
) -> None:
    # a field with a colon, and a name with one whose field has none: both
    # addressable through datasetField:{ns}:{name}:{field}
    src, colon_name = ("postgres://db:5432", "public.src"), ("snowflake://acme", "RAW:ORDERS")
    facets = {
        STG: column_facet({"ts:utc": [((*src, "created:at"), [("DIRECT", "IDENTITY", False)])]}),
        colon_name: column_facet({"id": [((*src, "id"), [("DIRECT", "IDENTITY", False)])]}),
    }
    folds = _folds([column_event(facets, inputs=[src], event_time=JAN)])

    async def run() -> None:
        store = RedisGraphStore.from_url(redis_service.address, prefix=key_prefix)
        try:
            await store.mark_and_fold(
                encode_batch([(f.content_hash, OUTCOME_ACCEPTED) for f in folds], folds), "t"
            )
            h = ColumnHandlers(_Backend(store))  # type: ignore[arg-type]
            for node, field, upstream in (
                (f"datasetField:{STG[0]}:{STG[1]}:ts:utc", "ts:utc", "created:at"),
                (f"datasetField:{colon_name[0]}:RAW:ORDERS:id", "id", "id"),
            ):
                answer = await h.marquez({"nodeId": node, "depth": "1"})
                fields = {n["data"]["field"]: n for n in answer.body["graph"]}
                assert set(fields) == {field, upstream}
                (inp,) = fields[field]["data"]["inputFields"]
                assert (inp["namespace"], inp["dataset"], inp["field"]) == (*src, upstream)
        finally:
            await store.close()

    asyncio.run(run())


def test_a_column_pair_twice_in_one_batch_is_joined_once(
    redis_service: Any, key_prefix: str
) -> None:
    # The payload is not joined per column pair: the Lua fold joins the second
    # mention with what it wrote for the first, not with the stored value.
    direct, masked = ("DIRECT", "IDENTITY", False), ("DIRECT", "TRANSFORMATION", True)
    events = [
        column_event(
            {STG: column_facet({"id": [((*EXT, "id"), [ts])]})},
            inputs=[EXT],
            job=("spark", job),
            event_time=at,
        )
        for at, job, ts in ((MAR, "a", direct), (JAN, "b", masked), (MAR, "a", direct))
    ]
    folds = _folds(events)[:2]  # the third is the first again: one event

    async def run() -> None:
        store = RedisGraphStore.from_url(redis_service.address, prefix=key_prefix)
        try:
            await store.load_generation()
            await store.mark_and_fold(
                encode_batch([(f.content_hash, OUTCOME_ACCEPTED) for f in folds], folds), "t"
            )
            snap = await column_snapshot(store)
            (edge,) = snap["columnEdges"]
            # by hand: the earlier time first, the later last, both jobs and
            # both transformations (masking false first)
            assert (edge["firstSeen"], edge["lastSeen"]) == (
                "2026-01-10T00:00:00.000000Z",
                "2026-03-10T00:00:00.000000Z",
            )
            assert edge["jobs"] == [
                {"namespace": "spark", "name": "a"},
                {"namespace": "spark", "name": "b"},
            ]
            assert edge["transformations"] == [
                {"type": "DIRECT", "subtype": "IDENTITY", "masking": False},
                {"type": "DIRECT", "subtype": "TRANSFORMATION", "masking": True},
            ]
            assert await column_edge_count(store) == 1
            assert snap == _pure(folds).column_snapshot()
        finally:
            await store.close()

    asyncio.run(run())
