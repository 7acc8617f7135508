"""Query benchmark: upstream / downstream latency on lineage graphs of 1M and 3M edges.

``make bench-queries`` runs this file. It starts its own Redis
(``processor.devstack.services.start_redis`` in a temporary directory; ``--redis-url`` uses
an existing one instead), then:

1. **Load.** A synthetic but lineage-shaped graph is generated and folded in through the
   real fold: ``FoldEvent``s built directly (a content hash per event, a job per event, one
   or several input edges into one output), joined and encoded by
   ``core.fold_payload.encode_batch`` and folded by ``RedisGraphStore.mark_and_fold`` (the Lua
   script the worker runs), ``--batch`` events per call. Generation is streamed: only the
   node table (namespace, name, id) is held, never the events. The next batch is encoded
   while Redis folds the previous one. The graph, for ``--edges E`` edges and ``E/5``
   datasets:

   * external sources (5 %: Postgres, S3 landing, Kafka) feed an internal raw tier;
   * internal datasets in ``TIERS`` tiers (raw, staging, intermediate, marts), each
     reading a heavy-tailed number of inputs (mean ~5.8) from the one to three tiers
     before it, mostly near its own position (a domain), sometimes from one of a few
     hundred hub tables (dimensions: ``dim_date``-like, out-degree in the hundreds);
   * external exports (8 %) read from the last tiers.

   So paths are up to ``TIERS + 1`` hops long and depth-5 / depth-20 neighbourhoods hold
   thousands of nodes: the 1,000-node cap of the queries matters. Every (source, target)
   pair is generated once, so the graph ends at exactly ``E`` edges (checked with the
   store's edge count).

2. **Query.** For depths 1, 5 and 20, downstream and upstream, ``--queries`` start nodes
   (the same for every combination, stratified across sources / raw / staging / marts /
   exports) go one at a time through ``core.queries.upstream`` / ``downstream`` over
   ``RedisGraphReader`` with ``max_nodes=1000``, each timed with ``perf_counter``. Reported:
   p50 / p99 / max latency, mean nodes returned, fraction truncated, Redis round trips per
   query (pipelines and direct commands, counted on the reader's client) and Redis commands per
   query (INFO commandstats, before and after each combination), and the CPU a query
   costs the client (this process) and the Redis server (INFO cpu): steadier than the
   latencies on a shared machine.

3. **Growth.** ``--sizes 1000000,3000000`` (the default of ``make bench-queries``) loads
   and queries each size in turn on an emptied Redis, then prints, per depth and
   direction, the ratio of the larger graph's p50, Redis commands and answer size to the
   smaller's: the cost should follow the answer, not the graph.

4. **Event marks.** ``bench/marks_bench.py``: bytes per edge after 1, 10, 100 and 1,000
   events an edge (``--no-marks`` skips it).

The load also reports the Redis server's CPU time per folded event and edge (``INFO cpu``),
steadier than the rates on a shared machine.

Targets (the scale issue): p99 at most 30 ms at depth 5 and 40 ms at depth 20 (cap 1,000
nodes), at most 800 bytes of graph per edge.
Results: a table on stdout and ``bench/results/query-latest.json``.

Flags: ``--edges E`` (1000000), ``--sizes E1,E2`` (overrides ``--edges``), ``--queries Q``
(300), ``--batch B`` (2000 events),
``--seed``, ``--redis-url`` (use a running Redis; the ``--prefix`` must be unused there
unless ``--reuse``), ``--prefix`` (qbench; with several sizes, the size is appended),
``--reuse`` (skip loading when the prefix
already holds at least E edges), ``--keep`` (keep the Redis this bench started up until
Ctrl-C), ``--types T1,T2`` (filter every answer by type, docs/design.md section 5b: the
walk is the same, so this measures the filter's own cost), ``--no-marks``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import hashlib
import json
import math
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import marks_bench  # noqa: E402

from processor.adapters.redis_keys import Keyspace  # noqa: E402
from processor.adapters.redis_reader import RedisGraphReader  # noqa: E402
from processor.adapters.redis_store import RedisGraphStore  # noqa: E402
from processor.core.fold_payload import encode_batch  # noqa: E402
from processor.core.graph_reader import Direction  # noqa: E402
from processor.core.identity import node_id  # noqa: E402
from processor.core.pipeline import FoldEvent, NodeUpdate  # noqa: E402
from processor.core.queries import downstream, upstream  # noqa: E402
from processor.core.query_results import LineageResult  # noqa: E402

# p99 targets per depth (the scale issue): at most 30 ms at depth 5, 40 ms at depth 20.
TARGETS_P99_MS = {5: 30.0, 20: 40.0}
TARGET_BYTES_PER_EDGE = 800.0
_DEDUP_KINDS = ("dd", "dr", "di", "dt", "dw")  # the dedup window's keys (docs/redis.md)
MAX_NODES = 1000
DEPTHS = (1, 5, 20)
DIRECTIONS: tuple[Direction, ...] = ("downstream", "upstream")
MARQUEZ_NOTE = "Marquez users report 10-15 s for this query (the read-side issue)"

TIERS = 20  # internal tiers: 0 raw, 1-7 staging, 8-13 intermediate, 14-19 marts
SOURCE_SHARE = 0.05
EXPORT_SHARE = 0.08
HUBS_PER_TIER = 40  # in tiers 1-5: dimension tables many others read
HUB_PROB = 0.12  # chance that an input is a hub
WINDOW = 400  # an input is picked near the reader's own position in its tier

SOURCE_NS = (
    "postgres://crm-db.acme.internal:5432",
    "s3://partner-landing",
    "kafka://events-prod:9092",
)
INTERNAL_NS = "snowflake://acme-prod.eu-west-1"
EXPORT_NS = ("s3://acme-exports", "salesforce://acme", "bigquery://partner-share")
DOMAINS = ("sales", "finance", "marketing", "product", "ops", "hr", "risk", "support")
TIER_KIND = ["RAW"] + ["STG"] * 7 + ["INT"] * 6 + ["MART"] * 6
TYPES = ("TABLE", "VIEW", "TABLE", "TABLE", "MATERIALIZED_VIEW")


class Node(NamedTuple):
    namespace: str
    name: str
    id: str
    internal: bool
    type: str | None


class Graph(NamedTuple):
    """The node table of the synthetic graph (the edges are streamed, never held)."""

    sources: list[Node]
    tiers: list[list[Node]]
    exports: list[Node]
    hubs: list[Node]
    hub_tier: dict[str, int]


class CountingRedis(aioredis.Redis):
    """A client that counts its Redis round trips: the pipelines opened on it (the
    reader executes each one exactly once) plus the commands sent directly
    (script calls included)."""

    round_trips = 0

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Pipeline:
        self.round_trips += 1
        return super().pipeline(transaction=transaction, shard_hint=shard_hint)

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        self.round_trips += 1
        return await super().execute_command(*args, **options)


# --------------------------------------------------------------------------- the graph


def build_nodes(edges: int, rng: random.Random) -> Graph:
    total = max(100, edges // 5)
    n_sources = max(3, int(total * SOURCE_SHARE))
    n_exports = max(3, int(total * EXPORT_SHARE))
    per_tier = max(2, (total - n_sources - n_exports) // TIERS)

    def node(ns: str, name: str, internal: bool) -> Node:
        ty = rng.choice(TYPES) if internal and rng.random() < 0.3 else None
        return Node(ns, name, node_id(ns, name), internal, ty)

    sources = [
        node(SOURCE_NS[i % 3], f"{DOMAINS[i % len(DOMAINS)]}/src_{i:07d}", False)
        for i in range(n_sources)
    ]
    tiers = []
    for t in range(TIERS):
        kind = TIER_KIND[t]
        tier = []
        for i in range(per_tier):
            domain = DOMAINS[i * len(DOMAINS) // per_tier]  # contiguous domains
            tier.append(node(INTERNAL_NS, f"{kind}.{domain.upper()}.T{t:02d}_{i:07d}", True))
        tiers.append(tier)
    exports = [
        node(EXPORT_NS[i % 3], f"{DOMAINS[i % len(DOMAINS)]}/export_{i:07d}", False)
        for i in range(n_exports)
    ]
    hub_tier = {
        tiers[t][rng.randrange(per_tier)].id: t for t in range(1, 6) for _ in range(HUBS_PER_TIER)
    }
    by_id = {n.id: n for t in range(1, 6) for n in tiers[t]}
    return Graph(sources, tiers, exports, [by_id[h] for h in hub_tier], hub_tier)


def _in_degree(rng: random.Random, mean: float) -> int:
    # 1 + geometric: most datasets read a few inputs, a few read dozens.
    p = 1.0 / mean
    return 1 + min(60, int(math.log(1.0 - rng.random()) / math.log(1.0 - p)))


def _near(rng: random.Random, tier: list[Node], pos: float) -> Node:
    i = int(pos * len(tier)) + rng.randint(-WINDOW, WINDOW)
    return tier[min(len(tier) - 1, max(0, i))]


def _inputs(g: Graph, rng: random.Random, t: int, pos: float, k: int, own: Node) -> list[Node]:
    """``k`` distinct inputs of a dataset at relative position ``pos`` of tier ``t``."""
    chosen: dict[str, Node] = {}
    tries = 0
    while len(chosen) < k and tries < 4 * k:
        tries += 1
        r = rng.random()
        if t >= 2 and rng.random() < HUB_PROB:
            cand = rng.choice(g.hubs)
            if g.hub_tier[cand.id] >= t:
                continue
        else:
            back = 1 if r < 0.7 or t < 2 else (2 if r < 0.9 or t < 3 else 3)
            cand = _near(rng, g.tiers[t - back], pos)
        if cand.id != own.id:
            chosen[cand.id] = cand
    return list(chosen.values())


def _distinct(nodes: Iterable[Node]) -> list[Node]:
    return list({n.id: n for n in nodes}.values())


def plan_edges(g: Graph, edges: int, rng: random.Random) -> Iterator[tuple[Node, list[Node]]]:
    """(output, its inputs) per dataset, until ``edges`` edges; each pair exactly once."""
    left = edges
    for i, raw in enumerate(g.tiers[0]):  # raw reads one or two external sources
        k = 1 + (rng.random() < 0.5)
        pos = i / len(g.tiers[0])
        ins = _distinct(_near(rng, g.sources, pos) for _ in range(k))
        ins = ins[:left]
        left -= len(ins)
        yield raw, ins
    marts = [n for t in range(TIERS - 4, TIERS) for n in g.tiers[t]]
    for i, out in enumerate(g.exports):  # exports read one to three marts
        pos = i / len(g.exports)
        ins = _distinct(_near(rng, marts, pos) for _ in range(1 + rng.randrange(3)))
        ins = ins[:left]
        left -= len(ins)
        yield out, ins
    internal = sum(len(tier) for tier in g.tiers[1:])
    mean = max(1.05, left / internal * 1.04)  # a little over: the last nodes may get fewer
    for t in range(1, TIERS):
        for i, out in enumerate(g.tiers[t]):
            if left <= 0:
                return
            ins = _inputs(g, rng, t, i / len(g.tiers[t]), _in_degree(rng, mean), out)[:left]
            left -= len(ins)
            yield out, ins


def fold_events(g: Graph, edges: int, seed: int, rng: random.Random) -> Iterator[FoldEvent]:
    """The plan as accepted events: a job writes one output from some of its inputs; a
    third of the outputs are written by two jobs (their inputs split between them)."""
    t0 = 1_714_521_600  # 2024-05-01T00:00:00Z
    seq = 0
    for out, ins in plan_edges(g, edges, rng):
        if not ins:
            continue
        parts = [ins]
        if len(ins) > 1 and rng.random() < 0.33:
            cut = rng.randrange(1, len(ins))
            parts = [ins[:cut], ins[cut:]]
        for j, part in enumerate(parts):
            seq += 1
            when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0 + seq * 7))
            yield FoldEvent(
                content_hash=hashlib.sha256(f"qbench:{seed}:{seq}".encode()).hexdigest(),
                event_time=f"{when}.{seq % 1_000_000:06d}Z",
                run_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                job=("airflow://acme-prod", f"{out.name.lower()}.job{j}"),
                nodes=tuple(
                    NodeUpdate(n.id, n.namespace, n.name, n.internal, n.type) for n in (*part, out)
                ),
                edges=tuple((n.id, out.id) for n in part),
            )


# --------------------------------------------------------------------------- load


def _next_batch(events: Iterator[FoldEvent], size: int) -> tuple[list[FoldEvent], bytes]:
    chunk = [ev for _, ev in zip(range(size), events, strict=False)]
    return chunk, encode_batch([(ev.content_hash, "a") for ev in chunk], chunk) if chunk else b""


async def load(store: RedisGraphStore, g: Graph, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed + 1)
    token_prefix = f"qbench{os.getpid():x}"
    events = fold_events(g, args.edges, args.seed, rng)
    pending: asyncio.Task[list[bool]] | None = None
    n_events = n_edges = batches = 0
    encode_s = 0.0
    cpu0 = await _redis_cpu(store.client)
    t0 = last = time.perf_counter()
    print(f"loading {args.edges:,} edges through the fold ({args.batch:,} events a call)...")
    while True:
        # Built in a thread, so the event loop sends the previous batch and waits for
        # Redis meanwhile (a create_task alone would not run until the next await).
        te = time.perf_counter()
        chunk, payload = await asyncio.to_thread(_next_batch, events, args.batch)
        encode_s += time.perf_counter() - te
        if pending is not None:  # Redis folded the last batch while this one was built
            flags = await pending
            if not all(flags):
                raise RuntimeError("a fresh event was reported as already seen")
        if not chunk:
            break
        batches += 1
        pending = asyncio.create_task(store.mark_and_fold(payload, f"{token_prefix}.{batches}"))
        n_events += len(chunk)
        n_edges += sum(len(ev.edges) for ev in chunk)
        now = time.perf_counter()
        if now - last >= 5.0:
            last = now
            print(
                f"  {n_edges:>10,} edges, {n_events:>9,} events, {now - t0:6.1f} s, "
                f"{n_edges / (now - t0):,.0f} edges/s",
                flush=True,
            )
    elapsed = time.perf_counter() - t0
    redis_cpu = await _redis_cpu(store.client) - cpu0
    print(
        f"  Redis CPU {redis_cpu:.1f} s: {redis_cpu / n_events * 1e6:,.0f} us an event, "
        f"{redis_cpu / n_edges * 1e6:,.1f} us an edge (less noisy than the rates)"
    )
    print(
        f"  loaded {n_edges:,} edges ({n_events:,} events, {batches} fold calls) in "
        f"{elapsed:.1f} s: {n_edges / elapsed:,.0f} edges/s, {n_events / elapsed:,.0f} events/s "
        f"(Python generation + encode_batch {encode_s:.1f} s, overlapped with the fold)",
        flush=True,
    )
    return {
        "seconds": elapsed,
        "edges": n_edges,
        "events": n_events,
        "fold_calls": batches,
        "edges_per_s": n_edges / elapsed,
        "events_per_s": n_events / elapsed,
        "python_encode_s": encode_s,
        "redis_cpu_s": redis_cpu,
        "redis_cpu_us_per_event": redis_cpu / n_events * 1e6,
        "redis_cpu_us_per_edge": redis_cpu / n_edges * 1e6,
    }


async def _redis_cpu(client: aioredis.Redis) -> float:
    """The Redis server's CPU seconds so far (user + system, every thread)."""
    info = await client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


# --------------------------------------------------------------------------- queries


async def pick_starts(
    url: str, prefix: str, generation: str, g: Graph, count: int, rng: random.Random
) -> dict[str, list[Node]]:
    """Start nodes stratified across layers (the same for every depth and direction),
    among the datasets the graph holds (a dataset no edge touches is not a node)."""
    groups = {
        "sources": g.sources,
        "raw": g.tiers[0],
        "staging": [n for t in range(1, 8) for n in g.tiers[t]],
        "intermediate": [n for t in range(8, 14) for n in g.tiers[t]],
        "marts": [n for t in range(14, TIERS) for n in g.tiers[t]],
        "exports": g.exports,
        "hubs": g.hubs,
    }
    share = {"sources": 1, "raw": 2, "staging": 3, "intermediate": 3, "marts": 3,
             "exports": 1, "hubs": 1}  # fmt: skip
    total = sum(share.values())
    client = aioredis.Redis.from_url(url)
    key = Keyspace(prefix, generation).nodes
    picked: dict[str, list[Node]] = {}
    try:
        for name, nodes in groups.items():
            want = max(1, count * share[name] // total)
            candidates = rng.sample(nodes, min(len(nodes), 3 * want))
            async with client.pipeline(transaction=False) as pipe:
                for n in candidates:
                    pipe.sismember(key, n.id)
                present = await pipe.execute()
            picked[name] = [n for n, ok in zip(candidates, present, strict=True) if ok][:want]
    finally:
        await client.aclose()
    return picked


def _pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def _commandstats(client: aioredis.Redis) -> int:
    stats = await client.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if isinstance(v, dict) and "calls" in v)


async def run_queries(
    url: str,
    prefix: str,
    generation: str,
    starts: dict[str, list[Node]],
    types: frozenset[str] | None = None,
) -> list[dict[str, Any]]:
    client = CountingRedis(
        connection_pool=aioredis.ConnectionPool.from_url(url, socket_timeout=30.0)
    )
    admin = aioredis.Redis.from_url(url)
    store = RedisGraphStore(client, prefix=prefix)
    store.generation = generation
    reader = RedisGraphReader(store)
    flat = [(group, n) for group, nodes in starts.items() for n in nodes]
    try:
        for _, n in flat[:20]:  # warm-up: connections, script cache, allocator
            await downstream(reader, n.namespace, n.name, 2, MAX_NODES)
        rows = []
        for depth in DEPTHS:
            for direction in DIRECTIONS:
                query = downstream if direction == "downstream" else upstream
                lat: list[float] = []
                sizes: list[int] = []
                edges: list[int] = []
                trips: list[int] = []
                truncated = 0
                by_group: dict[str, list[float]] = {}
                cmds_before = await _commandstats(admin)
                redis_cpu0, client_cpu0 = await _redis_cpu(admin), time.process_time()
                for group, n in flat:
                    rt0 = client.round_trips
                    t0 = time.perf_counter()
                    res: LineageResult = await query(
                        reader, n.namespace, n.name, depth, MAX_NODES, types=types
                    )
                    ms = (time.perf_counter() - t0) * 1000
                    lat.append(ms)
                    by_group.setdefault(group, []).append(ms)
                    trips.append(client.round_trips - rt0)
                    sizes.append(len(res.nodes))
                    edges.append(len(res.edges))
                    truncated += res.truncated
                client_cpu = time.process_time() - client_cpu0
                redis_cpu = await _redis_cpu(admin) - redis_cpu0
                cmds = await _commandstats(admin) - cmds_before - 1  # minus the INFO itself
                row = {
                    "depth": depth,
                    "direction": direction,
                    "queries": len(flat),
                    "p50_ms": _pct(lat, 0.50),
                    "p99_ms": _pct(lat, 0.99),
                    "max_ms": max(lat),
                    "mean_ms": statistics.fmean(lat),
                    "mean_nodes": statistics.fmean(sizes),
                    "max_nodes": max(sizes),
                    "mean_edges": statistics.fmean(edges),
                    "truncated_fraction": truncated / len(flat),
                    "round_trips_mean": statistics.fmean(trips),
                    "round_trips_max": max(trips),
                    "redis_commands_per_query": cmds / len(flat),
                    # CPU per query: steadier than latencies on a shared machine.
                    "client_cpu_ms_per_query": client_cpu / len(flat) * 1000,
                    "redis_cpu_ms_per_query": redis_cpu / len(flat) * 1000,
                    "p99_ms_by_group": {k: _pct(v, 0.99) for k, v in by_group.items()},
                    "p50_ms_by_group": {k: _pct(v, 0.50) for k, v in by_group.items()},
                }
                rows.append(row)
                print(
                    f"  depth {depth:>2} {direction:<10}  p50 {row['p50_ms']:7.1f} ms  "
                    f"p99 {row['p99_ms']:7.1f} ms  max {row['max_ms']:7.1f} ms  "
                    f"nodes {row['mean_nodes']:7.1f}  truncated {row['truncated_fraction']:5.1%}  "
                    f"round trips {row['round_trips_mean']:5.1f}  "
                    f"cmds/query {row['redis_commands_per_query']:,.0f}  "
                    f"CPU/query client {row['client_cpu_ms_per_query']:.1f} ms, "
                    f"Redis {row['redis_cpu_ms_per_query']:.1f} ms",
                    flush=True,
                )
        return rows
    finally:
        await client.aclose()
        await admin.aclose()


# --------------------------------------------------------------------------- main


async def _flush(url: str) -> None:
    client = aioredis.Redis.from_url(url, socket_timeout=600.0)
    try:
        await client.flushall(asynchronous=True)
    finally:
        await client.aclose()


async def graph_and_memory(
    url: str, args: argparse.Namespace, g: Graph, workdir_redis: bool
) -> dict[str, Any]:
    store = RedisGraphStore.from_url(url, prefix=args.prefix, timeout=120.0)
    try:
        existing = await store.client.exists(store.pointer)
        generation = await store.load_generation()
        _, edges_before = await store.counts()
        mem_before = int((await store.client.info("memory"))["used_memory"])
        loaded: dict[str, Any] | None = None
        if existing and edges_before >= args.edges and args.reuse:
            print(f"reusing {edges_before:,} edges under prefix {args.prefix!r}")
        elif existing and edges_before and not workdir_redis:
            raise SystemExit(
                f"prefix {args.prefix!r} already holds {edges_before:,} edges in {url}: "
                "pass --reuse (if it is this bench's graph) or another --prefix"
            )
        else:
            loaded = await load(store, g, args)
        nodes, edges = await store.counts()
        info = await store.client.info("memory")
        mem_after = int(info["used_memory"])
        # The dedup window is not graph: its keys (docs/redis.md) are measured apart.
        seen_keys, seen_total = 0, 0.0
        async for key in store.client.scan_iter(match=store.base + "d*", count=10_000):
            if key.decode()[len(store.base) :][:2] in _DEDUP_KINDS:
                seen_keys += 1
                seen_total += int(await store.client.memory_usage(key, samples=0) or 0)
        delta = mem_after - mem_before
        ok = edges >= args.edges
        print(
            f"graph: {edges:,} edges, {nodes:,} nodes (RedisGraphStore.counts); "
            f"{'OK' if ok else 'BELOW TARGET'} (>= {args.edges:,})"
        )
        if loaded:
            print(
                f"Redis used_memory {mem_after / 2**20:,.1f} MiB (+{delta / 2**20:,.1f} MiB): "
                f"{delta / max(1, edges):,.0f} B per edge with dedup marks, "
                f"~{(delta - seen_total) / max(1, edges):,.0f} B per edge without "
                f"(dedup window {seen_total / 2**20:,.1f} MiB in {seen_keys} keys)"
            )
        else:
            print(f"Redis used_memory {mem_after / 2**20:,.1f} MiB (graph reused)")
        if not ok:
            raise SystemExit("the graph holds fewer edges than asked")
        return {
            "generation": generation,
            "load": loaded,
            "graph_nodes": nodes,
            "graph_edges": edges,
            "redis_used_memory_before": mem_before,
            "redis_used_memory_after": mem_after,
            "redis_used_memory_human": info.get("used_memory_human"),
            "redis_bytes_per_edge": delta / max(1, edges) if loaded else None,
            "redis_graph_bytes_per_edge": (delta - seen_total) / max(1, edges) if loaded else None,
            "dedup_marks_bytes_estimate": seen_total,
        }
    finally:
        await store.close()


def report(result: dict[str, Any]) -> None:
    print(
        f"\nlineage-processor query bench: {result['graph']['graph_edges']:,} edges, "
        f"{result['graph']['graph_nodes']:,} nodes, {result['queries_per_combination']} "
        f"start nodes per depth and direction, max_nodes={MAX_NODES}"
    )
    load_ = result["graph"]["load"]
    if load_:
        print(
            f"  load (fold, Lua): {load_['seconds']:.1f} s, {load_['edges_per_s']:,.0f} edges/s, "
            f"{load_['events_per_s']:,.0f} events/s"
        )
    print(f"  {'depth':>5} {'dir':<10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'nodes':>7} {'trunc':>6} {'trips':>6} {'cmds':>7} "
          f"{'cpu ms':>7} {'redis ms':>8}")  # fmt: skip
    for r in result["rows"]:
        print(
            f"  {r['depth']:>5} {r['direction']:<10} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} "
            f"{r['max_ms']:8.1f} {r['mean_nodes']:7.1f} {r['truncated_fraction']:6.1%} "
            f"{r['round_trips_mean']:6.1f} {r['redis_commands_per_query']:7,.0f} "
            f"{r['client_cpu_ms_per_query']:7.1f} {r['redis_cpu_ms_per_query']:8.1f}"
        )
    per_edge = result["graph"]["redis_bytes_per_edge"]
    if per_edge:
        print(
            f"  Redis memory per edge: {per_edge:,.0f} B "
            f"(~{result['graph']['redis_graph_bytes_per_edge']:,.0f} B without dedup marks)"
        )
    load_cpu = load_["redis_cpu_us_per_event"] if load_ else None
    if load_cpu:
        print(
            f"  fold: Redis CPU {load_cpu:,.0f} us an event, "
            f"{load_['redis_cpu_us_per_edge']:.1f} us an edge"
        )
    for depth, target in TARGETS_P99_MS.items():
        worst = max(r["p99_ms"] for r in result["rows"] if r["depth"] == depth)
        verdict = "MET" if worst <= target else "NOT MET"
        print(
            f"  target p99 <= {target:.0f} ms at depth {depth} (cap {MAX_NODES}): "
            f"{verdict} (worst direction p99 {worst:.1f} ms)"
        )
    print(f"  for comparison: {MARQUEZ_NOTE}")


def report_growth(results: list[dict[str, Any]]) -> None:
    """How the cost grows from the smallest graph to each larger one: per depth and
    direction, the ratio of p50, of Redis commands and of the answer's nodes."""
    if len(results) < 2:
        return
    base = results[0]
    print(
        f"\ngrowth against {base['graph']['graph_edges']:,} edges (ratio of p50 / commands / nodes)"
    )
    for other in results[1:]:
        print(f"  {other['graph']['graph_edges']:,} edges:")
        for r0, r1 in zip(base["rows"], other["rows"], strict=True):
            p50 = r1["p50_ms"] / r0["p50_ms"]
            cmds = r1["redis_commands_per_query"] / max(1.0, r0["redis_commands_per_query"])
            nodes = r1["mean_nodes"] / max(1.0, r0["mean_nodes"])
            print(
                f"    depth {r0['depth']:>2} {r0['direction']:<10} p50 x{p50:.2f}"
                f"  cmds x{cmds:.2f}  nodes x{nodes:.2f}"
            )


def run_size(url: str, args: argparse.Namespace, service: Any) -> dict[str, Any]:
    """Load (or reuse) a graph of ``args.edges`` edges and query it."""
    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    g = build_nodes(args.edges, rng)
    n_nodes = len(g.sources) + sum(map(len, g.tiers)) + len(g.exports)
    print(
        f"node table: {n_nodes:,} datasets ({len(g.sources):,} sources, {TIERS} tiers of "
        f"{len(g.tiers[0]):,}, {len(g.exports):,} exports, {len(g.hubs)} hubs) in "
        f"{time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    graph = asyncio.run(graph_and_memory(url, args, g, service is not None))
    rng2 = random.Random(args.seed + 2)
    starts = asyncio.run(pick_starts(url, args.prefix, graph["generation"], g, args.queries, rng2))
    n_starts = sum(map(len, starts.values()))
    print(f"querying from {n_starts} start nodes, max_nodes={MAX_NODES}...", flush=True)
    types = frozenset(args.types.split(",")) if args.types else None
    # The generator's node table (hundreds of thousands of objects) is the
    # bench's, not a server's: frozen, the collector's full passes skip it
    # instead of adding tens of milliseconds to whichever query they land in.
    gc.collect()
    gc.freeze()
    rows = asyncio.run(run_queries(url, args.prefix, graph["generation"], starts, types))
    target = all(
        r["p99_ms"] <= TARGETS_P99_MS[r["depth"]] for r in rows if r["depth"] in TARGETS_P99_MS
    )
    return {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "edges_asked": args.edges,
        "seed": args.seed,
        "batch_events": args.batch,
        "cpu_count": os.cpu_count(),
        "redis": "started (services.start_redis)" if service else "--redis-url",
        "queries_per_combination": n_starts,
        "start_groups": {k: len(v) for k, v in starts.items()},
        "max_nodes": MAX_NODES,
        "graph": graph,
        "rows": rows,
        "targets_p99_ms": TARGETS_P99_MS,
        "target_met": target,
        "comparison": MARQUEZ_NOTE,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="lineage-processor query latency benchmark")
    parser.add_argument("--edges", type=int, default=1_000_000, help="edges (default 1000000)")
    parser.add_argument("--queries", type=int, default=300, help="start nodes (default 300)")
    parser.add_argument("--batch", type=int, default=2000, help="events per fold call (2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the graph and the starts")
    parser.add_argument("--redis-url", default=None, help="use this Redis instead of starting one")
    parser.add_argument("--prefix", default="qbench", help="key prefix (default qbench)")
    parser.add_argument("--reuse", action="store_true", help="reuse a loaded graph of the prefix")
    parser.add_argument("--keep", action="store_true", help="keep the started Redis up until ^C")
    parser.add_argument(
        "--sizes",
        default=None,
        help="comma-separated edge counts measured one after the other in one run "
        "(e.g. 1000000,3000000: how the cost grows with the graph); overrides --edges",
    )
    parser.add_argument(
        "--no-marks", action="store_true", help="skip the bytes-per-edge-by-events measurement"
    )
    parser.add_argument(
        "--types", default=None, help="filter every answer to these types (e.g. TABLE,MODEL)"
    )
    args = parser.parse_args(argv)

    def _terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    workdir = Path(tempfile.mkdtemp(prefix="lineage-qbench-"))
    service: Any = None
    try:
        url = args.redis_url
        if url is None:
            from processor.devstack.services import start_redis

            service = start_redis(workdir)
            url = service.address
            print(f"redis {url} ({service.backend}, data in {workdir})", flush=True)
        sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else [args.edges]
        # First, on a Redis that holds nothing else yet (it scans for its own keys).
        marks = None if args.no_marks else asyncio.run(marks_bench.measure(url))
        results = []
        prefix = args.prefix
        for size in sizes:
            args.edges = size
            if len(sizes) > 1:
                args.prefix = f"{prefix}{size}"
            results.append(run_size(url, args, service))
            if service is not None and size != sizes[-1] and not args.keep:
                asyncio.run(_flush(url))  # each size measured on an empty Redis
        RESULTS.mkdir(parents=True, exist_ok=True)
        latest = {**results[-1], "sizes": results, "marks": marks} if len(results) > 1 else {
            **results[0], "marks": marks}  # fmt: skip
        (RESULTS / "query-latest.json").write_text(json.dumps(latest, indent=2) + "\n")
        for result in results:
            report(result)
        report_growth(results)
        if marks:
            marks_bench.report(marks)
        print(f"\nresults: {RESULTS / 'query-latest.json'}")
        if args.keep and service is not None:
            print(f"\nredis {url} kept running (prefix {args.prefix!r}); Ctrl-C stops it")
            while True:
                time.sleep(3600)
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        if service is not None:
            with contextlib.suppress(Exception):
                service.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
