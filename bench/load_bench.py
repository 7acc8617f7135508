"""Load benchmark: end-to-end latency at a steady rate, a memory soak, and the
pipeline's throughput with one and with two workers, measured in one run.

``make bench-load`` runs this file (``make bench`` runs it after the throughput and
query benchmarks). It starts its own Tansu broker and Redis
(``processor.devstack.services``, local binaries unless ``--backend``), and runs
real workers (``python -m processor worker``) as subprocesses, each phase on
fresh topics (``--partitions``, 4) and a flushed Redis:

latency
    One worker (``--latency-workers`` for more, in one group);
    ``processor.samples.realistic_mix`` published at ``--rate``
    (2,000/s) for ``--latency-seconds`` (60) after a 5 s warm-up, by an aiokafka
    producer (acks=all, keys partitioned as Kafka clients do) that sends each
    message at its scheduled time, the messages due every 5 ms as one batch per
    partition (a client's ``linger.ms`` = 5). A thread polls the current generation's
    ``folded`` hash in Redis every ``--poll-ms`` (2): the fold writes the highest
    offset it folded per partition in the same Lua call as the edges, so the
    moment a partition's folded offset reaches a message's offset is the moment
    its edges are visible to every query. Latency = that moment minus the
    message's *scheduled* send time (so a producer falling behind cannot hide
    queueing), over the accepted events (the first copy of each COMPLETE event
    that passes the mix rule). Reports p50, p99 and max; target p99 < 300 ms
    (< 100 ms at ``--rate`` 200 or less).
soak
    One worker; the same mix at ``--soak-rate`` (500/s) for ``--soak-seconds``
    (600). The worker's resident memory, its classifier helper included, is
    sampled every 5 s. After ``--warmup-seconds`` (120) the median of the next
    minute's samples is the baseline; growth is the median of the last minute's
    over it (target: no more than 5%), the peak is reported too, and so is the
    consumer lag sampled with it: a worker that falls behind holds fetched
    records, which is backlog, not a leak. The worker process and its helpers
    (its children) are sampled apart as well, and reported the same way.
scale
    ``--events`` (100,000) messages of the mix, consumed by one worker and then
    by two workers in one consumer group. The workers start first on the empty
    topic and wait until each holds its partitions; then the topic is filled.
    Rate = messages / (last consumed - first consumed), from the workers'
    ``/metrics`` summed, polled every 50 ms. Both runs must end at the same
    snapshot hash.

``--worker-prefix`` puts a command that execs the worker before its command line
(a heap profiler's ``env LD_PRELOAD=...``). ``--skip latency,soak,scale`` skips
phases; ``--quick`` shortens everything (10 s latency, 60 s soak with 20 s
warm-up, 20,000 events) to try the bench out.
Results: a table on stdout and ``bench/results/load.json`` (a phase skipped
keeps its result from the previous run there, with its own ``measured_at``);
worker logs in ``bench/results/logs/``. Exit code 1 when a phase fails to measure (a worker
dies, a message is never folded, the two scale runs differ).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from procs import CHILDREN, free_port, http_get, spawn, stop, tail

from bench import BenchError, metric_sum, parse_metrics, pipeline_env

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LOGS = RESULTS / "logs"
sys.path.insert(0, str(ROOT))

TARGET_P99_MS = 300.0  # at 2,000/s (issue 13)
TARGET_P99_LOW_RATE_MS = 100.0  # at 200/s and below
LOW_RATE = 200.0
TARGET_RSS_GROWTH = 0.05


def p99_target(rate: float) -> float:
    """The p99 target at ``rate`` events/s."""
    return TARGET_P99_LOW_RATE_MS if rate <= LOW_RATE else TARGET_P99_MS


WARMUP_LATENCY_S = 5.0
TICK_S = 0.005
RSS_EVERY_S = 5.0
CHUNK = 10_000  # messages generated at a time: the soak never holds its whole stream


# --------------------------------------------------------------------------- messages


def stream(seed: int) -> Iterator[tuple[bytes, bytes, bool]]:
    """An endless realistic mix: (key, value, accepted first copy?), in chunks.

    Each chunk is ``realistic_mix(CHUNK, seed + k)``: its own run ids, so no event
    of one chunk duplicates another's; within a chunk the mix's own duplicates,
    rejections and ignored events stay.
    """
    from processor.core.pipeline import Accepted, Classified, Limits, classify
    from processor.core.rules import MixRule
    from processor.samples import realistic_mix

    rule, limits = MixRule("mixed", ["snowflake://*"]), Limits()
    seen: set[str] = set()
    k = 0
    while True:
        for key, value in realistic_mix(CHUNK, seed=seed + k):
            c = classify(value, rule, limits)
            accepted = False
            if isinstance(c, Classified):
                accepted = c.content_hash not in seen and isinstance(c.outcome, Accepted)
                seen.add(c.content_hash)
            yield key, value, accepted
        k += 1


# --------------------------------------------------------------------------- workers


class Worker:
    """One ``python -m processor worker`` subprocess and its HTTP endpoints."""

    def __init__(self, env: dict[str, str], name: str) -> None:
        self.port = free_port()
        self.env = {**env, "LINEAGE_WEB_PORT": str(self.port)}
        self.log = LOGS / f"load-{name}.log"
        self.base = f"http://127.0.0.1:{self.port}"
        cmd = [*WORKER_PREFIX, sys.executable, "-m", "processor", "worker"]
        self.proc = spawn(cmd, self.log, self.env)

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise BenchError(f"worker exited with code {self.proc.returncode}: {tail(self.log)}")

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(OSError):
                if http_get(f"{self.base}/readyz")[0] == 200:
                    return
            time.sleep(0.1)
        raise BenchError(f"worker not ready within {timeout:.0f} s: {tail(self.log)}")

    def samples(self) -> list[tuple[str, dict[str, str], float]]:
        status, body = http_get(f"{self.base}/metrics")
        if status != 200:
            raise OSError(f"/metrics answered {status}")
        return parse_metrics(body.decode())

    def consumed(self) -> float:
        return metric_sum(self.samples(), "lineage_events_consumed_total")

    def snapshot_hash(self) -> str:
        status, body = http_get(f"{self.base}/api/v1/graph/snapshot?hash=1", timeout=60.0)
        if status != 200:
            raise BenchError(f"snapshot answered {status}")
        return str(json.loads(body)["sha256"])

    def rss(self) -> int | None:
        import psutil

        try:
            root = psutil.Process(self.proc.pid)
            return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
        except psutil.Error:
            return None

    def rss_parts(self) -> tuple[int, int] | None:
        """The worker process's own RSS and its helpers' (children's) together."""
        import psutil

        try:
            root = psutil.Process(self.proc.pid)
            helpers = sum(p.memory_info().rss for p in root.children(recursive=True))
            return root.memory_info().rss, helpers
        except psutil.Error:
            return None

    def stop(self) -> None:
        stop(self.proc, grace=20.0)


EXTRA_ENV: dict[str, str] = {}  # --env KEY=VALUE: settings for every worker of the run
# --worker-prefix: a command that execs the worker (e.g. ``env LD_PRELOAD=...`` for a
# heap profiler), so that its pid stays the worker's.
WORKER_PREFIX: list[str] = []


def worker_env(bootstrap: str, redis_url: str, topic: str, group: str) -> dict[str, str]:
    env = pipeline_env(bootstrap, redis_url, topic, 0)
    env["LINEAGE_GROUP_ID"] = group
    env.update(EXTRA_ENV)
    return env


def fresh_topics(bootstrap: str, name: str, partitions: int) -> str:
    from processor.adapters.kafka_admin import create_topics

    topic = f"openlineage.load.{name}.{uuid.uuid4().hex[:6]}"
    asyncio.run(create_topics(bootstrap, [topic, f"{topic}.dlq", f"{topic}.control"], partitions))
    return topic


def flush(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        client.flushall()
    finally:
        client.close()


# --------------------------------------------------------------------------- producer


async def produce_steady(
    bootstrap: str,
    topic: str,
    messages: Sequence[tuple[bytes, bytes, bool]],
    rate: float,
    on_tick: Any = None,
) -> list[tuple[float, int, int, bool]]:
    """Send ``messages`` at ``rate`` a second, each at its scheduled time.

    Every ``TICK_S`` the messages now due go out as one batch per partition, as
    a client with ``linger.ms`` = 5 sends them; one ``send`` per message would
    cost the producer more CPU than the worker it measures, on a 2-core machine.
    Returns (scheduled perf_counter time, partition, offset, accepted) per message.
    ``on_tick(i, total)`` is called about once a second (progress, sampling).
    """
    from aiokafka import AIOKafkaProducer
    from aiokafka.partitioner import DefaultPartitioner

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=False,  # Tansu has no InitProducerId v0
        request_timeout_ms=30_000,
        max_batch_size=1 << 20,
    )
    await producer.start()
    # per batch: its future, then (scheduled time, accepted) of each of its records
    batches: list[tuple[asyncio.Future[Any], int, list[tuple[float, bool]]]] = []
    total = len(messages)
    try:
        partitions = sorted(await producer.partitions_for(topic))
        partitioner = DefaultPartitioner()
        start = time.perf_counter() + 0.05
        next_tick = start
        i = 0
        while i < total:
            now = time.perf_counter()
            due_until = min(total, int((now - start) * rate) + 1)
            if due_until <= i:
                await asyncio.sleep(max(0.0, start + i / rate - now))
                continue
            open_batches: dict[int, tuple[Any, list[tuple[float, bool]]]] = {}
            for j in range(i, due_until):
                key, value, accepted = messages[j]
                part = partitioner(key, partitions, partitions)
                if part not in open_batches:
                    open_batches[part] = (producer.create_batch(), [])
                batch, meta = open_batches[part]
                if batch.append(key=key, value=value, timestamp=None) is None:  # full
                    batch.close()
                    future = await producer.send_batch(batch, topic, partition=part)
                    batches.append((future, part, meta))
                    batch, meta = producer.create_batch(), []
                    open_batches[part] = (batch, meta)
                    batch.append(key=key, value=value, timestamp=None)
                meta.append((start + j / rate, accepted))
            for part, (batch, meta) in open_batches.items():
                batch.close()
                future = await producer.send_batch(batch, topic, partition=part)
                batches.append((future, part, meta))
            if now >= next_tick:
                next_tick += 1.0
                if on_tick is not None:
                    on_tick(i, total)
            i = due_until
            await asyncio.sleep(TICK_S)
        results = await asyncio.gather(*(f for f, _, _ in batches))
    finally:
        await producer.stop()
    sent = [
        (due, part, result.offset + k, accepted)
        for (_, part, meta), result in zip(batches, results, strict=True)
        for k, (due, accepted) in enumerate(meta)
    ]
    sent.sort()
    return sent


def prepare(seed: int, count: int) -> list[tuple[bytes, bytes, bool]]:
    """``count`` messages of ``stream(seed)``, made before the clock starts, so
    that making them never delays a send."""
    print(f"  generating {count:,} messages...", flush=True)
    made = stream(seed)
    return [next(made) for _ in range(count)]


class FoldedPoller(threading.Thread):
    """Polls the current generation's ``folded`` hash: when each partition's
    highest folded offset changed, as (perf_counter time, offset) lists."""

    def __init__(self, redis_url: str, topic: str, poll_s: float, prefix: str = "lineage") -> None:
        super().__init__(daemon=True)
        import redis

        from processor.adapters.redis_keys import Keyspace

        self.client = redis.Redis.from_url(redis_url)
        self.keys = Keyspace(prefix)
        self.prefix, self.topic, self.poll_s = prefix, topic, poll_s
        self.seen: dict[int, list[tuple[float, int]]] = {}
        self.polls = 0
        self._halt = threading.Event()

    def run(self) -> None:
        generation = None
        while not self._halt.is_set():
            if generation is None:
                raw = self.client.get(self.keys.pointer)
                generation = raw.decode() if raw else None
            if generation is not None:
                now_offsets = self.client.hgetall(self.keys.at(generation).folded)
                now = time.perf_counter()
                self.polls += 1
                for place, value in now_offsets.items():
                    topic, _, part = place.decode().rpartition("/")
                    if topic != self.topic:
                        continue
                    history = self.seen.setdefault(int(part), [])
                    offset = int(value)
                    if not history or offset > history[-1][1]:
                        history.append((now, offset))
            time.sleep(self.poll_s)

    def visible_at(self, partition: int, offset: int) -> float | None:
        """First poll time at which ``offset`` of ``partition`` was folded."""
        history = self.seen.get(partition, [])
        i = bisect_left([o for _, o in history], offset)
        return history[i][0] if i < len(history) else None

    def covers(self, wanted: dict[int, int]) -> bool:
        return all((h := self.seen.get(p)) is not None and h[-1][1] >= o for p, o in wanted.items())

    def stop(self) -> None:
        self._halt.set()
        self.join(5)
        self.client.close()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --------------------------------------------------------------------------- phases


def measure_latency(
    bootstrap: str, redis_url: str, args: argparse.Namespace, seed: int
) -> dict[str, Any]:
    messages = prepare(seed, int(args.rate * (WARMUP_LATENCY_S + args.latency_seconds)))
    flush(redis_url)
    topic = fresh_topics(bootstrap, "latency", args.partitions)
    group = f"load-{uuid.uuid4().hex[:6]}"
    workers = [
        Worker(worker_env(bootstrap, redis_url, topic, group), f"lat-{i}")
        for i in range(args.latency_workers)
    ]
    worker = workers[0]
    try:
        for w in workers:
            w.wait_ready()
        if len(workers) > 1:
            time.sleep(2.0)  # let the group settle: a late join would rebalance mid-run
        poller = FoldedPoller(redis_url, topic, args.poll_ms / 1000)
        poller.start()

        def tick(i: int, total: int) -> None:
            for w in workers:
                w.check_alive()
            if i and i % (int(args.rate) * 10) < args.rate:
                print(f"  sent {i:,}/{total:,}", flush=True)

        started = time.perf_counter()
        sent = asyncio.run(produce_steady(bootstrap, topic, messages, args.rate, tick))
        produce_s = time.perf_counter() - started
        wanted: dict[int, int] = {}
        for _, part, offset, accepted in sent:
            if accepted:
                wanted[part] = max(wanted.get(part, -1), offset)
        deadline = time.monotonic() + 60
        while not poller.covers(wanted):
            worker.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"not every accepted event was folded within 60 s: {wanted}")
            time.sleep(0.05)
        poller.stop()
        with contextlib.suppress(OSError):  # for reading batch sizes and times afterwards
            (LOGS / "load-lat.metrics").write_bytes(http_get(f"{worker.base}/metrics")[1])
        measured_from = sent[0][0] + WARMUP_LATENCY_S
        latencies = []
        windows: dict[int, list[float]] = {}  # 5 s windows: steady, or a backlog growing
        for due, part, offset, accepted in sent:
            if accepted and due >= measured_from:
                seen_at = poller.visible_at(part, offset)
                assert seen_at is not None
                latencies.append((seen_at - due) * 1000)
                windows.setdefault(int((due - measured_from) // 5), []).append(latencies[-1])
        if not latencies:
            raise BenchError("no accepted event in the measured window")
        return {
            "rate": args.rate,
            "achieved_rate": len(sent) / produce_s,
            "seconds": args.latency_seconds,
            "messages": len(sent),
            "accepted_measured": len(latencies),
            "p50_ms": _pct(latencies, 0.50),
            "p90_ms": _pct(latencies, 0.90),
            "p99_ms": _pct(latencies, 0.99),
            "max_ms": max(latencies),
            "mean_ms": statistics.fmean(latencies),
            "poll_ms": args.poll_ms,
            "polls": poller.polls,
            "workers": len(workers),
            "worker_cpu_s": sum(_cpu_seconds(w) or 0.0 for w in workers),
            "p99_ms_by_5s": [round(_pct(w, 0.99)) for _, w in sorted(windows.items())],
        }
    finally:
        for w in workers:
            w.stop()


def _cpu_seconds(worker: Worker) -> float | None:
    import psutil

    try:
        root = psutil.Process(worker.proc.pid)
        procs = [root, *root.children(recursive=True)]
        return float(sum(p.cpu_times().user + p.cpu_times().system for p in procs))
    except psutil.Error:
        return None


def measure_soak(
    bootstrap: str, redis_url: str, args: argparse.Namespace, seed: int
) -> dict[str, Any]:
    messages = prepare(seed, int(args.soak_rate * args.soak_seconds))
    flush(redis_url)
    topic = fresh_topics(bootstrap, "soak", args.partitions)
    worker = Worker(worker_env(bootstrap, redis_url, topic, f"load-{uuid.uuid4().hex[:6]}"), "soak")
    samples: list[tuple[float, int]] = []
    parts: list[tuple[float, int, int]] = []  # (t, worker, helpers): which one grows
    lags: list[float] = []
    try:
        worker.wait_ready()
        start = time.monotonic()
        next_sample = start

        def tick(i: int, total: int) -> None:
            nonlocal next_sample
            worker.check_alive()
            now = time.monotonic()
            if now >= next_sample:
                next_sample += RSS_EVERY_S
                split = worker.rss_parts()
                rss = None if split is None else sum(split)
                if split is not None and rss is not None:
                    samples.append((now - start, rss))
                    parts.append((now - start, *split))
                # A worker falling behind buffers fetched records: growth that is
                # backlog, not a leak. The lag says which.
                with contextlib.suppress(OSError):
                    lags.append(metric_sum(worker.samples(), "lineage_consumer_lag_messages"))
                if len(samples) % 12 == 1:
                    print(
                        f"  {now - start:5.0f} s: sent {i:,}/{total:,}, "
                        f"RSS {rss / 2**20 if rss else 0:.0f} MiB"
                        + (f" (worker {split[0] / 2**20:.1f})" if split else ""),
                        flush=True,
                    )

        sent = asyncio.run(produce_steady(bootstrap, topic, messages, args.soak_rate, tick))
        deadline = time.monotonic() + 60
        while worker.consumed() < len(sent):
            worker.check_alive()
            if time.monotonic() > deadline:
                done = worker.consumed()
                raise BenchError(f"the worker did not catch up: {done:.0f}/{len(sent)}")
            time.sleep(0.2)
        warm = args.warmup_seconds
        base = [r for t, r in samples if warm <= t < warm + 60]
        last = [r for t, r in samples if t >= samples[-1][0] - 60]
        after = [r for t, r in samples if t >= warm]
        if not base or not last:
            raise BenchError("too few RSS samples: make --soak-seconds longer than the warm-up")
        baseline, final = statistics.median(base), statistics.median(last)

        def window(i: int, lo: float, hi: float) -> float:
            return statistics.median(p[i] for p in parts if lo <= p[0] < hi) / 2**20

        end = parts[-1][0] - 60
        per_process = {
            name: {
                "baseline_mib": round(window(i, warm, warm + 60), 1),
                "final_mib": round(window(i, end, end + 61), 1),
            }
            for i, name in ((1, "worker"), (2, "helpers"))
        }
        return {
            "rate": args.soak_rate,
            "seconds": args.soak_seconds,
            "messages": len(sent),
            "warmup_s": warm,
            "samples": len(samples),
            "rss_start_mib": samples[0][1] / 2**20,
            "rss_baseline_mib": baseline / 2**20,
            "rss_final_mib": final / 2**20,
            "rss_peak_after_warmup_mib": max(after) / 2**20,
            "growth": final / baseline - 1,
            "lag_max": max(lags, default=None),
            "lag_median": statistics.median(lags) if lags else None,
            "series_mib": [(round(t), round(r / 2**20, 1)) for t, r in samples],
            "per_process": per_process,
            "series_worker_helpers_mib": [
                (round(t), round(w / 2**20, 1), round(h / 2**20, 1)) for t, w, h in parts
            ],
        }
    finally:
        worker.stop()


def measure_scale(
    bootstrap: str, redis_url: str, args: argparse.Namespace, seed: int, count: int
) -> dict[str, Any]:
    from bench import fill
    from processor.samples import realistic_mix

    flush(redis_url)
    topic = fresh_topics(bootstrap, f"scale{count}", args.partitions)
    group = f"load-{uuid.uuid4().hex[:6]}"
    workers = [
        Worker(worker_env(bootstrap, redis_url, topic, group), f"scale{count}-{i}")
        for i in range(count)
    ]
    try:
        for w in workers:
            w.wait_ready()
        time.sleep(2.0)  # let the group settle: a late join would rebalance mid-run
        messages = realistic_mix(args.events, seed=seed)
        filler = threading.Thread(target=lambda: asyncio.run(fill(bootstrap, topic, messages)))
        filler.start()
        first = last = 0.0
        c0 = consumed = 0.0
        deadline = time.monotonic() + 600
        while consumed < args.events:
            for w in workers:
                w.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"{count} worker(s): {consumed:.0f}/{args.events} in 600 s")
            with contextlib.suppress(OSError):
                now_consumed = sum(w.consumed() for w in workers)
                now = time.monotonic()
                if now_consumed and not first:
                    first, c0 = now, now_consumed
                if now_consumed > consumed:
                    consumed, last = now_consumed, now
            time.sleep(0.05)
        filler.join()
        hashes = {w.snapshot_hash() for w in workers}
        if len(hashes) != 1:
            raise BenchError(f"workers of one group serve different graphs: {hashes}")
        per_worker = [w.consumed() for w in workers]
        return {
            "workers": count,
            "events": args.events,
            "rate": (consumed - c0) / (last - first) if last > first else None,
            "seconds": last - first,
            "per_worker": per_worker,
            "sha256": hashes.pop(),
        }
    finally:
        for w in workers:
            w.stop()


# --------------------------------------------------------------------------- report


def report(result: dict[str, Any]) -> None:
    print(f"\nload benchmark ({result['services']}, {result['cpu_count']} cores)")
    lat = result.get("latency", {})
    if "p99_ms" in lat:
        target = p99_target(lat["rate"])
        ok = "meets" if lat["p99_ms"] < target else "MISSES"
        print(
            f"  latency at {lat['rate']:,.0f}/s for {lat['seconds']:.0f} s, "
            f"{lat.get('workers', 1)} worker(s) "
            f"({lat['accepted_measured']:,} accepted events, poll {lat['poll_ms']:g} ms):"
        )
        print(
            f"    p50 {lat['p50_ms']:.0f} ms, p90 {lat['p90_ms']:.0f} ms, "
            f"p99 {lat['p99_ms']:.0f} ms, max {lat['max_ms']:.0f} ms "
            f"({ok} the p99 < {target:.0f} ms target; "
            f"p99/target {lat['p99_ms'] / target:.2f})"
        )
        print(f"    producer achieved {lat['achieved_rate']:,.0f}/s")
        if lat.get("p99_ms_by_5s"):
            print(f"    p99 by 5 s window (ms): {' '.join(map(str, lat['p99_ms_by_5s']))}")
    elif lat:
        print(f"  latency: {lat.get('reason')}")
    soak = result.get("soak", {})
    if "growth" in soak:
        ok = "meets" if soak["growth"] <= TARGET_RSS_GROWTH else "MISSES"
        print(
            f"  soak at {soak['rate']:,.0f}/s for {soak['seconds']:.0f} s "
            f"({soak['messages']:,} messages, {soak['samples']} RSS samples):"
        )
        print(
            f"    RSS {soak['rss_start_mib']:.0f} MiB at start, "
            f"{soak['rss_baseline_mib']:.0f} MiB after {soak['warmup_s']:.0f} s warm-up, "
            f"{soak['rss_final_mib']:.0f} MiB at the end (growth {100 * soak['growth']:+.1f}%, "
            f"{ok} the {100 * TARGET_RSS_GROWTH:.0f}% target), "
            f"peak {soak['rss_peak_after_warmup_mib']:.0f} MiB"
        )
        for name, part in soak.get("per_process", {}).items():
            print(
                f"    {name}: {part['baseline_mib']:.1f} MiB after warm-up, "
                f"{part['final_mib']:.1f} MiB at the end "
                f"({100 * (part['final_mib'] / part['baseline_mib'] - 1):+.1f}%)"
            )
        if soak.get("lag_max") is not None:
            print(
                f"    consumer lag: median {soak['lag_median']:,.0f}, "
                f"max {soak['lag_max']:,.0f} messages"
            )
    elif soak:
        print(f"  soak: {soak.get('reason')}")
    one, two = result.get("scale1", {}), result.get("scale2", {})
    for run in (one, two):
        if run.get("rate"):
            print(
                f"  throughput, {run['workers']} worker(s): {run['rate']:,.0f}/s "
                f"({run['events']:,} messages in {run['seconds']:.1f} s; "
                f"per worker {', '.join(f'{c:,.0f}' for c in run['per_worker'])})"
            )
        elif run:
            print(f"  throughput: {run.get('reason')}")
    if one.get("rate") and two.get("rate"):
        print(
            f"    2 workers / 1 worker: {two['rate'] / one['rate']:.2f} "
            f"(same graph: {one['sha256'] == two['sha256']})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="lineage-processor load benchmark")
    parser.add_argument("--rate", type=float, default=2000.0, help="latency phase rate (/s)")
    parser.add_argument("--latency-seconds", type=float, default=60.0)
    parser.add_argument("--poll-ms", type=float, default=2.0, help="folded-offset poll interval")
    parser.add_argument(
        "--latency-workers", type=int, default=1, help="workers in the latency phase's group"
    )
    parser.add_argument("--soak-rate", type=float, default=500.0)
    parser.add_argument("--soak-seconds", type=float, default=600.0)
    parser.add_argument("--warmup-seconds", type=float, default=120.0)
    parser.add_argument("--events", type=int, default=100_000, help="scale phase messages")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip", default="", help="comma-separated: latency,soak,scale")
    parser.add_argument("--quick", action="store_true", help="short runs, to try the bench")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="LINEAGE_X=V",
        help="a worker setting for every phase (repeatable), e.g. LINEAGE_BATCH_TIMEOUT_MS=50",
    )
    parser.add_argument("--backend", default="local", choices=("local", "docker", "auto"))
    parser.add_argument(
        "--worker-prefix",
        default="",
        help="words put before the worker's command, a command that execs it "
        "(e.g. 'env LD_PRELOAD=/usr/lib/heaptrack/libheaptrack_preload.so "
        "DUMP_HEAPTRACK_OUTPUT=/tmp/worker.raw')",
    )
    args = parser.parse_args(argv)
    WORKER_PREFIX[:] = shlex.split(args.worker_prefix)
    if args.quick:
        args.latency_seconds, args.soak_seconds, args.warmup_seconds = 10.0, 60.0, 20.0
        args.events = 20_000
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    for pair in args.env:
        name, sep, value = pair.partition("=")
        if not sep or not name.startswith("LINEAGE_"):
            parser.error(f"--env wants LINEAGE_NAME=VALUE, got {pair!r}")
        EXTRA_ENV[name] = value

    def _terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    workdir = Path(tempfile.mkdtemp(prefix="lineage-load-"))
    services: list[Any] = []
    LOGS.mkdir(parents=True, exist_ok=True)
    failed = False
    try:
        from processor.devstack.services import start_broker, start_redis

        broker = start_broker(workdir, backend=args.backend)
        services.append(broker)
        redis_svc = start_redis(workdir, backend=args.backend)
        services.append(redis_svc)
        bootstrap, redis_url = broker.address, redis_svc.address
        result: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "worker_env": EXTRA_ENV,
            "services": f"broker {broker.backend}, redis {redis_svc.backend}",
            "cpu_count": os.cpu_count(),
            "partitions": args.partitions,
            "targets": {"p99_ms": p99_target(args.rate), "rss_growth": TARGET_RSS_GROWTH},
        }
        phases: list[tuple[str, str, Any]] = [
            ("latency", "latency", lambda: measure_latency(bootstrap, redis_url, args, args.seed)),
            ("soak", "soak", lambda: measure_soak(bootstrap, redis_url, args, args.seed + 1000)),
            (
                "scale",
                "scale1",
                lambda: measure_scale(bootstrap, redis_url, args, args.seed + 2000, 1),
            ),
            (
                "scale",
                "scale2",
                lambda: measure_scale(bootstrap, redis_url, args, args.seed + 2000, 2),
            ),
        ]
        for phase, name, measure in phases:
            if phase in skip:
                continue
            print(f"{name}...", flush=True)
            try:
                result[name] = measure()
                result[name]["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            except BenchError as exc:
                failed = True
                result[name] = {"reason": str(exc)}
                print(f"  {name} failed: {exc}", flush=True)
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / "load.json"
        # A run that skips phases keeps the previous run's results for them
        # (each phase carries its own ``measured_at``).
        with contextlib.suppress(OSError, ValueError):
            previous = json.loads(path.read_text())
            for _, name, _ in phases:
                if name not in result and name in previous:
                    result[name] = previous[name]
        path.write_text(json.dumps(result, indent=2) + "\n")
        report(result)
        print(f"\nresults: {RESULTS / 'load.json'}")
        return 1 if failed else 0
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        for proc in list(CHILDREN):
            stop(proc, grace=5.0)
        for svc in reversed(services):
            with contextlib.suppress(Exception):
                svc.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
