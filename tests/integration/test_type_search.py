"""Types in Redis: dataset search by type across the index's chunk boundaries,
the overview's counts by type and most connected datasets, and the HTTP
handlers' type filters and their 400s, on a real Redis."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest

from processor.adapters import redis_search
from processor.adapters.http_graph import GraphHandlers, answer
from processor.adapters.http_overview import type_counts
from processor.adapters.redis_overview import OverviewCache, read_overview
from processor.adapters.redis_search import search_datasets
from processor.adapters.redis_store import RedisGraphStore
from processor.core.control import DeleteRequest
from processor.core.fold_payload import OUTCOME_ACCEPTED, encode_batch
from processor.core.identity import node_id
from processor.core.pipeline import FoldEvent, NodeUpdate

pytestmark = [pytest.mark.integration, pytest.mark.redis]

Dataset = tuple[str, str]
# 40 datasets, their types given by hand in blocks of the name order, so that
# every type's members are spread over many chunks of 3 or 7. None: no
# datasetType, so the side's default ("External Node": every one is external).
KINDS = ["MODEL", "TABLE", "FEATURE_VIEW", None, "MODEL_VERSION"]
DATASETS: list[Dataset] = [(f"s3://ml{i % 2}", f"d{i:02d}") for i in range(40)]
TYPE_OF: dict[Dataset, str | None] = {d: KINDS[i % 5] for i, d in enumerate(DATASETS)}
HUB: Dataset = ("s3://ml0", "d00")  # a MODEL with an edge to each of d01..d06


def _shown(d: Dataset) -> str:
    return TYPE_OF[d] or "External Node"


def _event(i: int, src: Dataset, dst: Dataset) -> FoldEvent:
    return FoldEvent(
        content_hash=hashlib.sha256(f"types {i}".encode()).hexdigest(),
        event_time=f"2026-03-01T10:00:{i % 60:02d}.000000Z",
        run_id=None,
        job=("airflow", f"job{i}"),
        nodes=tuple(NodeUpdate(node_id(*d), d[0], d[1], False, TYPE_OF[d]) for d in (src, dst)),
        edges=((node_id(*src), node_id(*dst)),),
    )


def _events() -> list[FoldEvent]:
    """A chain d01 -> d02 -> ... -> d39 and the hub d00 -> d01..d06."""
    chain = [(DATASETS[i], DATASETS[i + 1]) for i in range(1, 39)]
    hub = [(HUB, DATASETS[i]) for i in range(1, 7)]
    return [_event(i, s, t) for i, (s, t) in enumerate(chain + hub)]


async def _folded(url: str, prefix: str) -> RedisGraphStore:
    store = RedisGraphStore.from_url(url, prefix=prefix)
    folds = _events()
    marks = [(f.content_hash, OUTCOME_ACCEPTED) for f in folds]
    await store.mark_and_fold(encode_batch(marks, folds), "t")
    return store


SEARCHES: list[tuple[str, frozenset[str]]] = [
    ("", frozenset({"MODEL"})),
    ("", frozenset({"MODEL", "FEATURE_VIEW"})),
    ("", frozenset({"External Node"})),
    ("", frozenset({"NO_SUCH_TYPE"})),
    ("ml1", frozenset({"TABLE", "MODEL_VERSION"})),
    ("D1", frozenset({"MODEL"})),
    ("a\0b", frozenset({"MODEL"})),
]


@pytest.mark.parametrize("chunk", [3, 7, 5000])
def test_search_by_type_across_chunks(
    redis_service: Any, key_prefix: str, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(redis_search, "SEARCH_CHUNK", chunk)

    async def run() -> None:
        store = await _folded(redis_service.address, key_prefix)
        try:
            for text, types in SEARCHES:
                low = text.lower()
                want = sorted(
                    d
                    for d in DATASETS
                    if _shown(d) in types and (low in d[0].lower() or low in d[1].lower())
                )
                for offset, limit in [(0, 1000), (0, 1), (1, 3), (5, 4), (len(want), 2)]:
                    page = await search_datasets(
                        store, text, offset=offset, limit=limit, types=types
                    )
                    got = [(r.namespace, r.name) for r in page.datasets]
                    assert got == want[offset : offset + limit], (text, types, offset)
                    assert page.total == len(want), (text, types)
                    assert all(_shown(d) in types for d in got)
        finally:
            await store.close()

    asyncio.run(run())


def test_overview_counts_by_type_and_most_connected(redis_service: Any, key_prefix: str) -> None:
    async def run() -> None:
        store = await _folded(redis_service.address, key_prefix)
        try:
            whole = await read_overview(store, chunk=7)
            # 40 datasets, 5 kinds in turn: 8 of each; ties by name.
            assert whole.types == (
                ("External Node", 8),
                ("FEATURE_VIEW", 8),
                ("MODEL", 8),
                ("MODEL_VERSION", 8),
                ("TABLE", 8),
            )
            assert (whole.counted, whole.total, whole.complete) == (40, 40, True)
            # The hub has 6 edges; d02..d06 have 3 (the hub's, chain in and
            # out); d01 2 (no chain edge in), the rest of the chain 2, d39 one.
            # Equal degrees in (namespace, name) order: s3://ml0 holds the even ones.
            degrees = [(c.record.name, c.degree) for c in whole.most_connected]
            assert degrees[:6] == [
                ("d00", 6),
                ("d02", 3),
                ("d04", 3),
                ("d06", 3),
                ("d03", 3),
                ("d05", 3),
            ]
            assert degrees[6:] == [("d08", 2), ("d10", 2), ("d12", 2), ("d14", 2)]
            # Edge i was seen at 10:00:i: the hub's six (i = 38..43) are the newest,
            # then the chain's last ones (d38 -> d39 is i = 37).
            recent = [(e.source.name, e.target.name, e.last_seen) for e in whole.recent]
            assert recent[:7] == [
                ("d00", f"d0{k}", f"2026-03-01T10:00:{37 + k}.000000Z") for k in range(6, 0, -1)
            ] + [("d38", "d39", "2026-03-01T10:00:37.000000Z")]
            assert [r[:2] for r in recent[7:]] == [("d37", "d38"), ("d36", "d37"), ("d35", "d36")]
            # Bounded: the first 12 in (namespace, name) order only.
            part = await read_overview(store, max_datasets=12, chunk=5)
            assert (part.counted, part.complete) == (12, False)
            # A delete of every edge out of the hub hides its six; the retention
            # floor hides the chain's edges seen before it.
            await store.apply_deletes([DeleteRequest(node_id(*HUB), None, "2026-03-02T00:00:00Z")])
            later = await read_overview(store, "2026-03-01T10:00:33.000000Z")
            assert [(e.source.name, e.target.name) for e in later.recent] == [
                ("d38", "d39"),
                ("d37", "d38"),
                ("d36", "d37"),
                ("d35", "d36"),
            ]
            assert sum(n for _, n in part.types) == 12
            # The status's counts never wait: none until a first read in the
            # background has finished, then that read's.
            cache = OverviewCache(ttl=60)
            backend: Any = _Backend(store)
            assert type_counts(backend, cache) is None
            for _ in range(200):
                await asyncio.sleep(0.01)
                if (counts := type_counts(backend, cache)) is not None:
                    break
            assert counts == {"datasets": dict(whole.types), "complete": True}
        finally:
            await store.close()

    asyncio.run(run())


class _Backend:
    """What the HTTP handlers need from the worker: its store, no retention."""

    def __init__(self, store: RedisGraphStore) -> None:
        self.store = store

    def floor(self, as_of: str | None = None) -> str:
        return ""


def test_http_handlers_filter_by_type_and_refuse_empty_types(
    redis_service: Any, key_prefix: str
) -> None:
    async def run() -> None:
        store = await _folded(redis_service.address, key_prefix)
        try:
            h = GraphHandlers(_Backend(store))  # type: ignore[arg-type]
            ns, name = DATASETS[1]
            # d01 -> d02 (1) -> ... -> d39 (38 hops, more than the depth cap of 20):
            # within 20 hops, d02..d21; MODELs among them are d05, d10, d15, d20.
            got = await answer(h.impact, {"namespace": ns, "name": name, "types": "MODEL"})
            assert got.status == 200
            assert [(n["name"], n["distance"]) for n in got.body["nodes"]] == [
                ("d05", 4),
                ("d10", 9),
                ("d15", 14),
                ("d20", 19),
            ]
            got = await answer(
                h.downstream, {"namespace": ns, "name": name, "depth": "5", "types": "MODEL"}
            )
            assert [(n["name"], n["distance"]) for n in got.body["nodes"]] == [
                ("d01", 0),
                ("d05", 4),
            ]
            assert got.body["edges"] == []
            d06 = f"dataset:{DATASETS[6][0]}:d06"
            got = await answer(h.marquez_lineage, {"nodeId": d06, "depth": "1", "types": "TABLE"})
            # d06 (a TABLE, kept as the root): up d05 and d00 (MODELs), down d07
            # (a FEATURE_VIEW): no other TABLE, so no edge and no job either.
            assert [n["id"] for n in got.body["graph"]] == [d06]
            got = await answer(h.datasets, {"q": "d1", "types": "MODEL,TABLE", "limit": "50"})
            # d10..d19 hold "d1"; MODEL or TABLE: d10, d15, d11, d16, in
            # (namespace, name) order: s3://ml0 d10, d16, then s3://ml1 d11, d15.
            assert [d["name"] for d in got.body["datasets"]] == ["d10", "d16", "d11", "d15"]
            assert got.body["total"] == 4
            for handler, query in [
                (h.impact, {"namespace": ns, "name": name, "types": ""}),
                (h.upstream, {"namespace": ns, "name": name, "types": "MODEL,"}),
                (h.datasets, {"types": ""}),
                (h.marquez_lineage, {"nodeId": f"dataset:{ns}:{name}", "types": ",,"}),
            ]:
                bad = await answer(handler, query)
                assert bad.status == 400
                assert bad.body["parameter"] == "types"
        finally:
            await store.close()

    asyncio.run(run())
