"""The Redis reader answers every query as the reference fold does: random
events, deletes and retention floors folded into the real Redis, then
upstream / downstream / paths from every dataset compared with the same
queries over the in-memory graph (``EdgeRecord.shown`` decides visibility)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processor.adapters.redis_reader import RedisGraphReader
from processor.adapters.redis_store import RedisGraphStore
from processor.core.control import DeleteRequest
from processor.core.fold import Graph
from processor.core.fold_payload import OUTCOME_ACCEPTED, encode_batch
from processor.core.graph_reader import Direction, Level, Pair, Walk, walk_levels
from processor.core.identity import node_id
from processor.core.queries import downstream, paths, upstream
from processor.core.snapshot import EdgeRecord, NodeRecord
from tests.property.test_delete_laws import deletes
from tests.property.test_fold_laws import DATASETS, TIMES, Spec, specs

pytestmark = [pytest.mark.integration, pytest.mark.redis]

_COUNTER = itertools.count()


class GraphReader:
    """The reference: the query port over the pure fold's records."""

    def __init__(self, graph: Graph, floor: str) -> None:
        self.nodes: Mapping[str, NodeRecord] = graph.node_records()
        self.edges_by_pair = {(e.source, e.target): e for e in graph.edge_records()}
        self.shown = [e for e in self.edges_by_pair.values() if e.shown(floor)]

    async def resolve(self, namespace: str, name: str) -> NodeRecord | None:
        return self.nodes.get(node_id(namespace, name))

    async def expand(
        self, node_ids: Sequence[str], direction: Direction, known: Collection[str], room: int
    ) -> Level:
        links: dict[str, list[str]] = {}
        for e in self.shown:
            near, far = (e.source, e.target) if direction == "downstream" else (e.target, e.source)
            if near in node_ids:
                links.setdefault(near, []).append(far)
        new = sorted({o for os in links.values() for o in os} - set(known))
        kept = set(new[: max(room, 0)])
        inside = {nid: [o for o in os if o in known or o in kept] for nid, os in links.items()}
        return Level(inside, {o: self.nodes[o] for o in kept}, len(new) > room)

    async def walk(
        self, roots: Mapping[str, NodeRecord], direction: Direction, depth: int, max_nodes: int
    ) -> Walk:
        return await walk_levels(self, roots, direction, depth, max_nodes)

    async def edges(self, pairs: Sequence[Pair]) -> dict[Pair, EdgeRecord]:
        return {p: self.edges_by_pair[p] for p in pairs if p in self.edges_by_pair}

    async def job_edges(self, namespace: str, name: str) -> list[Pair]:
        return [p for p, e in self.edges_by_pair.items() if (namespace, name) in e.jobs]


async def _answers(reader: Any) -> list[Any]:
    out: list[Any] = []
    for key in DATASETS:
        if await reader.resolve(*key) is None:
            out.append(None)
            continue
        for depth in (1, 3):
            out.append(await downstream(reader, *key, depth, max_nodes=4))
            out.append(await upstream(reader, *key, depth))
        for other in DATASETS:
            if await reader.resolve(*other) is not None:
                out.append(await paths(reader, key, other, 4))
    return out


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[Spec], list[DeleteRequest]]:
    """Events, and deletes of which about half name an edge that exists."""
    spec_list = draw(specs())
    dels = draw(deletes())
    edges = [e for s in spec_list for e in s.edges]
    for _ in range(draw(st.integers(0, 3)) if edges else 0):
        src, dst = draw(st.sampled_from(edges))
        dels.append(DeleteRequest(node_id(*src), node_id(*dst), draw(st.sampled_from(TIMES))))
    return spec_list, dels


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case=cases(), floor=st.sampled_from(["", *TIMES]))
def test_redis_queries_equal_the_reference(
    redis_service: Any,
    key_prefix: str,
    case: tuple[list[Spec], list[DeleteRequest]],
    floor: str,
) -> None:
    spec_list, dels = case
    folds = [s.fold_event() for s in spec_list]
    graph = Graph()
    for f in folds:
        graph.apply(f)
    for d in dels:
        graph.delete(d)

    async def run() -> None:
        prefix = f"{key_prefix}:{next(_COUNTER)}"
        store = RedisGraphStore.from_url(redis_service.address, prefix=prefix)
        try:
            if folds:
                marks = [(f.content_hash, OUTCOME_ACCEPTED) for f in folds]
                await store.mark_and_fold(encode_batch(marks, folds), "t")
            await store.apply_deletes(dels)
            got = await _answers(RedisGraphReader(store, floor=floor))
            assert got == await _answers(GraphReader(graph, floor))
        finally:
            await store.close()

    asyncio.run(run())
