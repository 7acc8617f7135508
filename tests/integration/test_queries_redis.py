"""Lineage queries against the real Redis store: folded events read back as
upstream / downstream / impact / paths; a lineage walk is one round trip after
the root's, whatever its depth (paths: one per level plus one for the edges'
attributes)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from processor.adapters.redis_reader import RedisGraphReader
from processor.adapters.redis_store import RedisGraphStore
from processor.core.control import DeleteRequest
from processor.core.fold_payload import OUTCOME_ACCEPTED, encode_batch
from processor.core.identity import node_id
from processor.core.pipeline import Accepted, Classified, FoldEvent, Limits, classify
from processor.core.queries import downstream, impact, paths, upstream
from processor.core.query_results import QueryEdge
from processor.core.rules import MixRule
from processor.errors import NodeNotFound, RedisUnavailable
from tests.events import default_run_id, ol_event

pytestmark = [pytest.mark.integration, pytest.mark.redis]

PG, SF = "postgres://db", "snowflake://acme"
RAW, STG, MART_A, MART_B, REPORT = (
    (PG, "raw.orders"),
    (SF, "STG.ORDERS"),
    (SF, "MART.A"),
    (SF, "MART.B"),
    (SF, "REPORT"),
)
T1, T2, T3 = "2026-03-01T10:00:00Z", "2026-03-02T10:00:00Z", "2026-03-03T10:00:00Z"
N1, N2, N3 = (t.replace("Z", ".000000Z") for t in (T1, T2, T3))
RULE = MixRule("any", [f"{SF}*"])

EVENTS = [
    ol_event(job=("etl", "load"), inputs=[RAW], outputs=[STG], event_time=T1),
    ol_event(job=("etl", "load"), inputs=[RAW], outputs=[STG], event_time=T2),
    ol_event(job=("dbt", "marts"), inputs=[STG], outputs=[MART_A, MART_B], event_time=T2),
    ol_event(job=("dbt", "a_only"), inputs=[STG], outputs=[MART_A], event_time=T3),
    ol_event(
        job=("bi", "report"),
        inputs=[MART_A, MART_B],
        outputs=[REPORT],
        event_time=T3,
        dataset_types={REPORT: "VIEW"},
    ),
    ol_event(job=("loop", "back"), inputs=[REPORT], outputs=[STG], event_time=T1),
]


def _folds(values: Sequence[bytes]) -> list[FoldEvent]:
    out = []
    for value in values:
        c = classify(value, RULE, Limits())
        assert isinstance(c, Classified)
        assert isinstance(c.outcome, Accepted), c.outcome
        out.append(c.outcome.fold)
    return out


async def _fold(store: RedisGraphStore, values: Sequence[bytes]) -> None:
    folds = _folds(values)
    marks = [(f.content_hash, OUTCOME_ACCEPTED) for f in folds]
    await store.mark_and_fold(encode_batch(marks, folds), "t")


class Trips:
    """Counts round trips of a client: pipelines executed plus direct commands."""

    def __init__(self, client: Any) -> None:
        self.count = 0
        pipeline, execute_command = client.pipeline, client.execute_command

        def counted_pipeline(*args: Any, **kwargs: Any) -> Any:
            pipe = pipeline(*args, **kwargs)
            execute = pipe.execute

            async def counted_execute(*a: Any, **k: Any) -> Any:
                self.count += 1
                return await execute(*a, **k)

            pipe.execute = counted_execute
            return pipe

        async def counted_command(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await execute_command(*args, **kwargs)

        client.pipeline = counted_pipeline
        client.execute_command = counted_command


def _pairs(edges: Sequence[QueryEdge]) -> list[tuple[str, str]]:
    return [(e.source[1], e.target[1]) for e in edges]


def test_queries_over_folded_events(redis_service: Any, key_prefix: str) -> None:
    async def run() -> None:
        store = RedisGraphStore.from_url(redis_service.address, prefix=key_prefix)
        try:
            await _fold(store, EVENTS)
            reader = RedisGraphReader(store)
            await downstream(reader, *RAW)  # loads the scripts: EVALSHA from here on
            trips = Trips(store.client)

            down = await downstream(reader, *RAW)
            assert [(n.namespace, n.name, n.type, n.internal, n.distance) for n in down.nodes] == [
                (PG, "raw.orders", "External Node", False, 0),
                (SF, "STG.ORDERS", "TABLE", True, 1),
                (SF, "MART.A", "TABLE", True, 2),
                (SF, "MART.B", "TABLE", True, 2),
                (SF, "REPORT", "VIEW", True, 3),
            ]
            assert _pairs(down.edges) == [
                ("raw.orders", "STG.ORDERS"),
                ("MART.A", "REPORT"),
                ("MART.B", "REPORT"),
                ("REPORT", "STG.ORDERS"),
                ("STG.ORDERS", "MART.A"),
                ("STG.ORDERS", "MART.B"),
            ]
            assert down.edges[0] == QueryEdge(
                source=RAW,
                target=STG,
                jobs=(("etl", "load"),),
                first_seen=N1,
                last_seen=N2,
                last_run_id=default_run_id(("etl", "load"), T2),
                events=2,
            )
            stg_a = down.edges[4]
            assert stg_a.jobs == (("dbt", "a_only"), ("dbt", "marts"))
            assert (stg_a.first_seen, stg_a.last_seen, stg_a.events) == (N2, N3, 2)
            assert stg_a.last_run_id == default_run_id(("dbt", "a_only"), T3)
            # resolve + the walk (4 levels: raw, STG, marts, REPORT, whose only
            # child is known, and the kept edges' attributes)
            assert trips.count == 1 + 1
            assert not down.truncated

            trips.count = 0
            up = await upstream(reader, *REPORT, depth=2)
            assert [(n.name, n.distance) for n in up.nodes] == [
                ("REPORT", 0),
                ("MART.A", 1),
                ("MART.B", 1),
                ("STG.ORDERS", 2),
            ]
            assert _pairs(up.edges) == [
                ("MART.A", "REPORT"),
                ("MART.B", "REPORT"),
                ("STG.ORDERS", "MART.A"),
                ("STG.ORDERS", "MART.B"),
            ]
            assert trips.count == 1 + 1

            hit = await impact(reader, *STG)
            assert [(n.name, n.distance) for n in hit.datasets] == [
                ("MART.A", 1),
                ("MART.B", 1),
                ("REPORT", 2),
            ]

            found = await paths(reader, RAW, REPORT)
            assert found.distance == 3
            assert [_pairs(p) for p in found.paths] == [
                [("raw.orders", "STG.ORDERS"), ("STG.ORDERS", "MART.A"), ("MART.A", "REPORT")],
                [("raw.orders", "STG.ORDERS"), ("STG.ORDERS", "MART.B"), ("MART.B", "REPORT")],
            ]
            assert (await paths(reader, REPORT, RAW)).paths == ()

            with pytest.raises(NodeNotFound):
                await downstream(reader, SF, "NOPE")
        finally:
            await store.close()

    asyncio.run(run())


def test_a_wide_level_is_one_round_trip_and_truncates(redis_service: Any, key_prefix: str) -> None:
    hub, sink = (PG, "hub"), (SF, "SINK")
    middle = [(SF, f"M{i:03d}") for i in range(300)]
    events = [
        ol_event(job=("fan", "out"), inputs=[hub], outputs=middle, event_time=T1),
        ol_event(job=("fan", "in"), inputs=middle, outputs=[sink], event_time=T2),
    ]

    async def run() -> None:
        store = RedisGraphStore.from_url(redis_service.address, prefix=key_prefix)
        try:
            await _fold(store, events)
            reader = RedisGraphReader(store)
            await downstream(reader, *hub, depth=1)  # loads the scripts
            trips = Trips(store.client)

            down = await downstream(reader, *hub)
            assert len(down.nodes) == 302
            assert len(down.edges) == 600
            assert down.nodes[-1].name == "SINK"
            # resolve; the walk: hub, the 300 middles at once, the sink (no
            # children), the 600 edges' attributes, in one script call.
            assert trips.count == 1 + 1

            trips.count = 0
            cut = await downstream(reader, *hub, max_nodes=51)
            assert cut.truncated
            # The contract cuts in node id order: the 50 middles with the smallest ids.
            by_id = sorted(middle, key=lambda ds: node_id(*ds))[:50]
            assert [n.name for n in cut.nodes[1:]] == sorted(name for _, name in by_id)
            assert len(cut.edges) == 50
            assert trips.count == 1 + 1

            trips.count = 0
            up = await upstream(reader, *sink)
            assert [(n.name, n.distance) for n in (up.nodes[0], up.nodes[1], up.nodes[-1])] == [
                ("SINK", 0),
                ("M000", 1),
                ("hub", 2),
            ]
            assert trips.count == 1 + 1
        finally:
            await store.close()

    asyncio.run(run())


def test_deleted_edges_are_not_traversed(redis_service: Any, key_prefix: str) -> None:
    async def run() -> None:
        store = RedisGraphStore.from_url(redis_service.address, prefix=key_prefix)
        try:
            await _fold(store, EVENTS)
            reader = RedisGraphReader(store)
            stg, mart_a = node_id(*STG), node_id(*MART_A)
            # Every edge into MART.A, then the edge STG -> MART.B, deleted after T3.
            later = "2026-03-04T00:00:00.000000Z"
            await store.apply_deletes(
                [DeleteRequest(None, mart_a, later), DeleteRequest(stg, node_id(*MART_B), later)]
            )
            down = await downstream(reader, *STG)
            assert [(n.name, n.distance) for n in down.nodes] == [("STG.ORDERS", 0)]
            assert down.edges == ()
            up = await upstream(reader, *REPORT)
            assert [n.name for n in up.nodes] == ["REPORT", "MART.A", "MART.B"]
        finally:
            await store.close()

    asyncio.run(run())


def test_redis_errors_become_redis_unavailable(redis_service: Any, key_prefix: str) -> None:
    async def run() -> None:
        store = RedisGraphStore.from_url("redis://127.0.0.1:1/0", prefix=key_prefix, timeout=1)
        try:
            with pytest.raises(RedisUnavailable):
                await downstream(RedisGraphReader(store), *RAW)
        finally:
            await store.close()

    asyncio.run(run())
