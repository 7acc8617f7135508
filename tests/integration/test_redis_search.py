"""Dataset search and job lookups over the fold's indexes agree with brute force over
the folded graph, page by page and across chunk boundaries, and the indexes stay
exactly what the reference fold implies however often a batch is folded."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from typing import Any

import pytest

from processor.adapters import redis_search
from processor.adapters.redis_search import job_edges, search_datasets
from processor.adapters.redis_store import RedisGraphStore
from processor.core.control import DeleteRequest
from processor.core.fold import Graph
from processor.core.fold_payload import OUTCOME_ACCEPTED, encode_batch
from processor.core.identity import job_key_id, node_id
from processor.core.pipeline import FoldEvent, NodeUpdate
from processor.errors import RedisUnavailable
from tests.integration.test_redis_store import _folds

pytestmark = [pytest.mark.integration, pytest.mark.redis]

# Datasets with the separators, wildcards, braces, control characters, bidi marks
# and non-ASCII letters that must neither break the index nor its order.
ODD = [
    ("postgres://db:5432", "public.Orders"),
    ("postgres://db:5432", "public.orders"),
    ("postgres://db:5432", "public"),
    ("postgres://db", "public.orders.z"),
    ("s3://bucket*", "key/with*star"),
    ("kafka://{cluster}", "topic.{x}"),
    ("file", "line\nbreak"),
    ("file", "rtl\u200fmark"),
    ("bigquery://Proj", "Café.ÉTÉ"),
    ("bigquery://proj", "café.été"),
    ("bigquery://proj", "Straße"),
    ("bigquery://proj", "STRASSE"),
    ("emoji://\U0001f600", "\U0001f600 table"),
    ("a", "z"),
    ("a.b", "c"),
    ("A", "a"),
    (" ", " "),
]
# Not in ASCII order by accident: generated names interleave with the odd ones.
MANY = [(f"snowflake://acct{i % 3}", f"DB.SCHEMA_{i % 7}.T_{i:03d}") for i in range(150)]
DATASETS = ODD + MANY
ORPHAN = ("bigquery://proj", "typed.but.no.edge")  # a dataset no edge touches

NEEDLES = [
    "",
    "a",
    "A",
    "orders",
    "ORDERS",
    "public.orders",
    "é",
    "É",
    "café",
    "CAFÉ",
    "ß",
    "ss",
    ":",
    "*",
    "{",
    "}",
    "\n",
    "\u200f",
    "\U0001f600",
    "t_1",
    "schema_3.t_",
    " ",
    "no-such-thing",
    "typed.but",
    "a\0z",
]


def _ascii_lower(text: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


def _hash(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _event(
    i: int,
    job: tuple[str, str],
    edges: list[tuple[tuple[str, str], tuple[str, str]]],
    extra: tuple[tuple[str, str], ...] = (),
) -> FoldEvent:
    nodes = {d: None for pair in edges for d in pair} | dict.fromkeys(extra)
    return FoldEvent(
        content_hash=_hash("search", i, job, edges),
        event_time=f"2026-03-01T10:00:{i % 60:02d}.{i:06d}Z",
        run_id=None,
        job=job,
        nodes=tuple(
            NodeUpdate(node_id(*d), d[0], d[1], False, "TABLE" if d in extra else None)
            for d in nodes
        ),
        edges=tuple((node_id(*s), node_id(*t)) for s, t in edges),
    )


def _graph_events() -> list[FoldEvent]:
    """Every dataset of DATASETS on at least one edge; ORPHAN typed but on none."""
    events = []
    for i, (src, dst) in enumerate(itertools.pairwise(DATASETS)):
        extra = (ORPHAN,) if i == 3 else ()
        events.append(_event(i, ("airflow", f"job{i % 5}"), [(src, dst)], extra))
    return events


async def _fold(store: RedisGraphStore, folds: list[FoldEvent], token: str) -> None:
    marks = [(f.content_hash, OUTCOME_ACCEPTED) for f in folds]
    await store.mark_and_fold(encode_batch(marks, folds), token)


def _expected(needle: str) -> list[tuple[str, str]]:
    low = _ascii_lower(needle)
    return sorted(
        d for d in set(DATASETS) if low in _ascii_lower(d[0]) or low in _ascii_lower(d[1])
    )


@pytest.mark.parametrize("chunk", [3, 16, len(DATASETS), 5000])
def test_search_equals_brute_force_for_every_needle_and_page(
    redis_service: Any, key_prefix: str, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(redis_search, "SEARCH_CHUNK", chunk)

    async def run() -> None:
        store = RedisGraphStore.from_url(redis_service.address, prefix=key_prefix)
        try:
            await _fold(store, _graph_events(), "t")
            # Brute force over the folded graph itself, as read back from Redis.
            nodes, _ = await store.read_graph()
            graph = sorted((n.namespace, n.name) for n in nodes.values())
            assert graph == sorted(DATASETS)
            records = {(n.namespace, n.name): n for n in nodes.values()}
            for needle in NEEDLES:
                want = _expected(needle)
                pages = [(0, 1000), (0, 1), (0, 3), (2, 5), (len(want) - 1, 4), (len(want), 3)]
                for offset, limit in pages:
                    if offset < 0:
                        continue
                    page = await search_datasets(store, needle, offset=offset, limit=limit)
                    got = [(r.namespace, r.name) for r in page.datasets]
                    assert got == want[offset : offset + limit], (needle, offset, limit)
                    assert page.total == len(want), needle
                    assert (page.offset, page.limit) == (offset, limit)
                    assert list(page.datasets) == [records[d] for d in got]
        finally:
            await store.close()

    asyncio.run(run())


def test_search_matching_is_ascii_case_insensitive_only(
    redis_service: Any, key_prefix: str
) -> None:
    async def run() -> None:
        store = RedisGraphStore.from_url(redis_service.address, prefix=key_prefix)
        try:
            await _fold(store, _graph_events(), "t")

            async def names(text: str) -> list[str]:
                return [r.name for r in (await search_datasets(store, text)).datasets]

            # (namespace, name) order: "postgres://db" < "postgres://db:5432"; "O" < "o"
            assert await names("ORDERS") == ["public.orders.z", "public.Orders", "public.orders"]
            assert await names("café") == ["Café.ÉTÉ", "café.été"]  # C and c
            assert await names("été") == ["café.été"]  # É is not é
            assert await names("ÉTÉ") == ["Café.ÉTÉ"]
            assert await names("strasse") == ["STRASSE"]  # no Unicode case folding of ß
            assert await names("a\0z") == []  # a needle cannot straddle the separator
            assert await names("typed.but") == []  # a dataset no edge touches is not listed
        finally:
            await store.close()

    asyncio.run(run())


def test_empty_needle_pages_through_every_dataset_in_order(
    redis_service: Any, key_prefix: str
) -> None:
    async def run() -> None:
        store = RedisGraphStore.from_url(redis_service.address, prefix=key_prefix)
        try:
            empty = await search_datasets(store)
            assert (empty.datasets, empty.total) == ((), 0)
            await _fold(store, _graph_events(), "t")
            seen: list[tuple[str, str]] = []
            for offset in range(0, len(DATASETS) + 10, 10):
                page = await search_datasets(store, "", offset=offset, limit=10)
                assert page.total == len(DATASETS)
                seen += [(r.namespace, r.name) for r in page.datasets]
            assert seen == sorted(DATASETS)
            nodes, _ = await store.counts()
            assert nodes == len(DATASETS) == await store.client.zcard(store.base + "names")
        finally:
            await store.close()

    asyncio.run(run())


def test_a_dataset_whose_edges_are_deleted_is_still_listed(
    redis_service: Any, key_prefix: str
) -> None:
    src, dst = ("pg", "src"), ("pg", "dst")

    async def run() -> None:
        store = RedisGraphStore.from_url(redis_service.address, prefix=key_prefix)
        try:
            # The tombstone arrives first: the node hash holds only "dout" until the event.
            await store.apply_deletes([DeleteRequest(node_id(*src), None, "2027-01-01T00:00:00Z")])
            assert (await search_datasets(store, "src")).total == 0
            await _fold(store, [_event(1, ("j", "j"), [(src, dst)])], "t")
            page = await search_datasets(store, "SRC")
            assert [(r.namespace, r.name) for r in page.datasets] == [src]
            assert (await store.snapshot())["edges"] == []  # hidden, yet listed
        finally:
            await store.close()

    asyncio.run(run())


def test_job_edges_of_two_jobs_sharing_an_edge(redis_service: Any, key_prefix: str) -> None:
    a, b, c, d = (("pg", x) for x in "abcd")
    load = ("airflow://prod", 'load "orders" é')  # quote and non-ASCII: sha1 of the UTF-8
    export = ("dbt", "export")
    ids = {x: node_id(*x) for x in (a, b, c, d)}

    async def run() -> None:
        store = RedisGraphStore.from_url(redis_service.address, prefix=key_prefix)
        try:
            assert await job_edges(store, *load) == []
            await _fold(store, [_event(1, load, [(a, c), (b, c)])], "t1")
            await _fold(store, [_event(2, export, [(b, c), (b, d)])], "t2")
            assert await job_edges(store, *load) == sorted([(ids[a], ids[c]), (ids[b], ids[c])])
            assert await job_edges(store, *export) == sorted([(ids[b], ids[c]), (ids[b], ids[d])])
            assert await job_edges(store, "dbt", "unknown") == []
            assert await job_edges(store, "dbt", "EXPORT") == []  # job names are exact
            assert await store.client.exists(f"{store.base}j:{job_key_id(*load)}") == 1
        finally:
            await store.close()

    asyncio.run(run())


async def _indexes(store: RedisGraphStore) -> tuple[Any, dict[Any, Any]]:
    names = await store.client.zrange(store.base + "names", 0, -1)
    jobs = {}
    async for key in store.client.scan_iter(match=f"{store.base}j:*"):
        jobs[key] = set(await store.client.hkeys(key))
    return names, jobs


def _reference_indexes(
    folds: list[FoldEvent], base: str
) -> tuple[list[bytes], dict[bytes, set[bytes]]]:
    graph = Graph()
    for f in folds:
        graph.apply(f)
    touched = {n for e in graph.edges.values() for n in (e.source, e.target)}
    names = sorted(f"{graph.nodes[n].namespace}\0{graph.nodes[n].name}".encode() for n in touched)
    jobs: dict[bytes, set[bytes]] = {}
    for eid, e in graph.edges.items():
        for job in e.jobs:
            jobs.setdefault(f"{base}j:{job_key_id(*job)}".encode(), set()).add(eid.encode())
    return names, jobs


def test_the_indexes_are_what_the_reference_fold_implies_and_stay_so(
    redis_service: Any, key_prefix: str
) -> None:
    folds = _folds(800, seed=11)

    async def run() -> None:
        store = RedisGraphStore.from_url(redis_service.address, prefix=key_prefix)
        try:
            want = _reference_indexes(folds, store.base)
            assert len(want[0]) > 100
            assert len(want[1]) > 20
            for i in range(0, len(folds), 97):
                await _fold(store, folds[i : i + 97], f"a{i}")
            assert await _indexes(store) == want
            # Folded again: the same batch and token, other batches, and after the
            # dedup marks expired (the fold itself runs again on every edge).
            await _fold(store, folds[:97], "a0")
            await _fold(store, folds[::-1], "b")
            keys = [k async for k in store.client.scan_iter(match=f"{store.base}dd:*")]
            await store.client.delete(*keys)
            await _fold(store, folds, "c")
            assert await _indexes(store) == want
            nodes, _ = await store.counts()
            assert await store.client.zcard(store.base + "names") == nodes
        finally:
            await store.close()

    asyncio.run(run())


def test_bad_pages_and_an_unreachable_redis() -> None:
    async def run() -> None:
        store = RedisGraphStore.from_url("redis://127.0.0.1:1/0", timeout=1.0)
        try:
            with pytest.raises(ValueError, match="offset"):
                await search_datasets(store, "x", offset=-1)
            with pytest.raises(ValueError, match="limit"):
                await search_datasets(store, "", limit=0)
            for text in ("", "x"):
                with pytest.raises(RedisUnavailable):
                    await search_datasets(store, text)
            with pytest.raises(RedisUnavailable):
                await job_edges(store, "dbt", "x")
        finally:
            await store.close()

    asyncio.run(run())
