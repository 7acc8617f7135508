"""Throughput benchmark: the full pipeline against its two ceilings, and a rebuild from
the log, measured in one run.

``make bench`` runs this file. It starts its own Tansu broker and Redis
(``processor.devstack.services``, local binaries unless ``--backend``), creates the input,
dead-letter and control topics, fills the input topic with
``processor.samples.realistic_mix(N)`` (N = 200,000 by default; aiokafka producer, 1 MiB
batches, keys partitioned as Kafka clients do), then, on that same topic, measures:

(a) raw aiokafka ``getmany`` consumption of all N messages (fresh group, from earliest);
(b) a faust-streaming agent that does nothing (``bench/noop_agent.py``, a subprocess);
(c) the full pipeline, ``python -m processor worker`` as a subprocess, timed by polling its
    ``/metrics`` (every 50 ms near the first and last records, every 250 ms between) until
    ``lineage_events_consumed_total`` reaches N, then until
    ``GET /api/v1/graph/snapshot?hash=1`` answers;
(d) ``python -m processor rebuild`` (docs/design.md section 6) as a subprocess with the worker's
    LINEAGE_* environment, while phase c's worker stays up, idle, serving the graph it
    built: the rebuild reads the input and control topics from the beginning into a new
    generation and switches to it. Its rate is M / S from its own summary line
    ("switched to generation G after M messages in S s"; S starts before its consumer
    and ends at the switch); the wall time, spawn to exit (interpreter start-up, the
    grace before the drop, the drop of the old generation), is reported too. The
    worker's snapshot hash after the switch must equal the one before the rebuild: a
    mismatch, or a rebuild that does not switch, is a benchmark failure (exit code 1).

Each rate in a, b, c is (messages seen after the first observation) / (time from the first
observation to the last message), so the join of the consumer group and the start-up of
the subprocesses are not counted. ``--repeat K`` runs a, b, c, d K times in alternation
and reports medians (the machine is small and noisy). Redis is flushed before each
pipeline run, so every run does the same work. The worker's outcome counters are checked
against ``processor.samples.mix_composition(N)``. Results: a table on stdout (d next to c,
with d/c) and ``bench/results/latest.json``; subprocess logs in ``bench/results/logs/``.

Flags: ``--events N`` (200000; phase d is meant to run on at least 200,000), ``--partitions
P`` (4), ``--repeat K`` (1), ``--seed``, ``--skip a,b,c,d`` (d needs c), ``--backend
local|docker|auto``, ``--keep`` (after the report, keep the broker and Redis up until
Ctrl-C, e.g. to query the graph). Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from procs import CHILDREN as _CHILDREN
from procs import RssSampler as _RssSampler
from procs import cpu_of as _cpu_of
from procs import free_port as _free_port
from procs import http_get as _http_get
from procs import spawn as _spawn
from procs import stop as _stop
from procs import tail as _tail

# The broker's and Redis's process ids (local backend), for their CPU per event.
SERVICE_PIDS: dict[str, int | None] = {}


def _service_us(first: dict[str, float], last: dict[str, float], events: float) -> dict[str, float]:
    """Each service's CPU per event between two ``_cpu_of`` samples, in µs."""
    if events <= 0:
        return {}
    return {k: (last[k] - first[k]) / events * 1e6 for k in first if k in last}


def _own_and_children(pid: int) -> tuple[float, float] | None:
    """CPU seconds so far of a process itself and of its children (the rebuild
    and its classifier helpers), apart."""
    import psutil

    try:
        proc = psutil.Process(pid)
        times = proc.cpu_times()
        children = proc.children(recursive=True)
    except psutil.Error:
        return None
    helpers = 0.0
    for child in children:
        try:
            t = child.cpu_times()
        except psutil.Error:
            continue
        helpers += t.user + t.system
    return times.user + times.system, helpers


ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LOGS = RESULTS / "logs"
sys.path.insert(0, str(ROOT))

# docs/design.md section 10, measured on this kind of machine (2 cores, medians).
CEILINGS = {
    "getmany": {
        "rate": 99_000,
        "note": "aiokafka getmany from Tansu, 1.2 KB (167k/s large batches)",
    },
    "faust_noop": {"rate": 10_700, "note": "faust-streaming agent doing nothing"},
    "pydantic": {
        "rate": 117_000,
        "note": "pydantic v2 model_validate_json, 1.2 KB (56k/s at 4.7 KB)",
    },
    "orjson": {"rate": 372_000, "note": "orjson.loads, 1.2 KB"},
    "redis_lua": {"rate": 285_000, "note": "Redis SET NX EX, one Lua call per 500 keys"},
    "redis_pipelined": {"rate": 59_000, "note": "Redis SET NX EX, pipelined x500"},
    "redis_single": {"rate": 9_000, "note": "Redis SET NX EX, one by one"},
}
# issue 13's targets, printed next to what was measured
TARGET_C_OVER_B = 3.0
TARGET_C_OVER_A = 0.2
TARGET_D_OVER_A = 0.3
TARGET_CLASSIFY_US = 40.0  # helper CPU per event
# Redis key kinds that are dedup marks, not graph: the dedup window
# (docs/redis.md) and the former layout's ``seen:`` keys.
DEDUP_KINDS = ("dw", "dd", "dr", "di", "dt", "seen")
POLL_S = 0.05
# Each /metrics answer costs the worker a few milliseconds of CPU (and the bench
# as much to parse it): in the middle of a run, far from its first and last
# record, (c) polls this much more slowly, so the probe takes less of the two
# cores from what it measures; near both ends it polls every POLL_S.
SLOW_POLL_S = 0.25
STALL_S = 60.0
START_S = 120.0


class BenchError(Exception):
    """A measurement could not be made; the message says why."""


# --------------------------------------------------------------------------- processes


# --------------------------------------------------------------------------- kafka


async def fill(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> float:
    """Produce every message in 1 MiB batches, partitioned by key as the default
    partitioner does (murmur2, like the Java client); returns the produce rate."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.partitioner import DefaultPartitioner

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks=1,
        max_batch_size=1 << 20,
        max_request_size=8 << 20,
        enable_idempotence=False,  # Tansu has no InitProducerId v0
        request_timeout_ms=60_000,
    )
    await producer.start()
    total = len(messages)
    step = max(1, total // 10)
    started = time.perf_counter()
    try:
        partitions = sorted(await producer.partitions_for(topic))
        partitioner = DefaultPartitioner()
        by_key: dict[bytes, int] = {}
        batches: dict[int, Any] = {}
        pending: list[asyncio.Future[Any]] = []
        for i, (key, value) in enumerate(messages, 1):
            part = by_key.get(key)
            if part is None:
                part = by_key[key] = partitioner(key, partitions, partitions)
            batch = batches.get(part)
            if batch is None:
                batch = batches[part] = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:  # full
                batch.close()
                pending.append(await producer.send_batch(batch, topic, partition=part))
                batch = batches[part] = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)
            if len(pending) >= 16:
                await asyncio.gather(*pending)
                pending.clear()
            if i % step == 0:
                print(f"  filled {i:>9,}/{total:,} ({100 * i // total:3d}%)", flush=True)
        for part, batch in batches.items():
            if batch.record_count():
                batch.close()
                pending.append(await producer.send_batch(batch, topic, partition=part))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    elapsed = time.perf_counter() - started
    print(f"  produced {total:,} messages in {elapsed:.1f} s ({total / elapsed:,.0f} msg/s)")
    return total / elapsed


async def measure_getmany(bootstrap: str, topic: str, n: int) -> dict[str, Any]:
    """(a) aiokafka getmany, fresh group, from earliest."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-getmany-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=1000,
        heartbeat_interval_ms=100,
        fetch_max_bytes=64 << 20,
        max_partition_fetch_bytes=16 << 20,
    )
    started = time.perf_counter()
    await consumer.start()
    try:
        count, first_batch, first = 0, 0, 0.0
        progress = time.perf_counter()
        while count < n:
            batches = await consumer.getmany(timeout_ms=200, max_records=20_000)
            now = time.perf_counter()
            got = sum(len(records) for records in batches.values())
            if got:
                progress = now
                if not count:
                    first, first_batch = now, got
                count += got
            elif now - progress > (START_S if not count else STALL_S):
                raise BenchError(f"getmany stalled at {count:,}/{n:,} messages")
        last = time.perf_counter()
    finally:
        await consumer.stop()
    return {
        "rate": (count - first_batch) / (last - first) if last > first else None,
        "events": count,
        "join_s": first - started,
    }


# --------------------------------------------------------------------------- faust no-op


def measure_noop(bootstrap: str, topic: str, n: int, run: int) -> dict[str, Any]:
    """(b) a faust agent doing nothing, as a subprocess; it times itself."""
    log = LOGS / f"noop-{run}.log"
    out = LOGS / f"noop-{run}.json"
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "noop_agent.py"),
        "--bootstrap",
        bootstrap,
        "--topic",
        topic,
        "--events",
        str(n),
        "--app-id",
        f"bench-noop-{uuid.uuid4().hex[:8]}",
        "--out",
        str(out),
    ]
    LOGS.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    proc = _spawn(cmd, log)
    rss = _RssSampler(proc.pid)
    deadline = time.monotonic() + START_S + n / 1000
    try:
        while proc.poll() is None:
            rss.sample()
            if time.monotonic() > deadline:
                raise BenchError(
                    f"faust no-op agent did not see {n:,} messages in time: {_tail(log)}"
                )
            time.sleep(POLL_S)
    finally:
        _stop(proc)
    lines = out.read_text().strip().splitlines() if out.exists() else []
    if proc.returncode != 0 or not lines:
        raise BenchError(f"faust no-op agent exited with code {proc.returncode}: {_tail(log)}")
    result: dict[str, Any] = json.loads(lines[-1])
    first, last = result["first"], result["last"]
    result["rate"] = (result["events"] - 1) / (last - first) if last > first else None
    result["peak_rss_mib"] = rss.peak / 2**20
    return result


# --------------------------------------------------------------------------- pipeline


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Prometheus text format: (name, labels, value) per sample."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name, _, rest = head.partition("{")
        labels = {}
        for part in rest.rstrip("}").split('",'):
            if "=" in part:
                k, _, v = part.partition("=")
                labels[k.strip().strip(",")] = v.strip().strip('"')
        with contextlib.suppress(ValueError):
            samples.append((name.strip(), labels, float(value)))
    return samples


def metric_sum(samples: Iterable[tuple[str, dict[str, str], float]], name: str) -> float:
    return sum(v for n, _, v in samples if n == name)


def _by_label(
    samples: Iterable[tuple[str, dict[str, str], float]], name: str, label: str
) -> dict[str, float]:
    return {lab.get(label, ""): v for n, lab, v in samples if n == name and v}


def _poll_interval(left: float, done: float, seconds: float) -> float:
    """The wait before the next poll of (c): SLOW_POLL_S while, at the rate so
    far, more than four slow polls' worth of records are left."""
    if done <= 0 or seconds <= 0:
        return POLL_S
    return SLOW_POLL_S if left / (done / seconds) > 4 * SLOW_POLL_S else POLL_S


def _pipeline_unavailable() -> str | None:
    import importlib.util

    for module in ("processor.__main__", "processor.cli", "processor.app"):
        try:
            if importlib.util.find_spec(module) is None:
                return f"{module} does not exist yet"
        except ImportError as exc:
            return f"{module}: {exc}"
    return None


def redis_breakdown(redis_url: str) -> dict[str, dict[str, int]]:
    """Keys and ``MEMORY USAGE`` bytes by kind (``{prefix:g1}:KIND:...``), e.g. ``dd``
    for dedup marks; the rest is the graph. Excludes allocator and expiry overheads."""
    import redis

    kinds: dict[str, dict[str, int]] = {}
    r = redis.Redis.from_url(redis_url)
    try:
        batch: list[bytes] = []

        def flush() -> None:
            pipe = r.pipeline(transaction=False)
            for key in batch:
                pipe.memory_usage(key, samples=0)
            for key, size in zip(batch, pipe.execute(), strict=True):
                text = key.decode(errors="replace")
                rest = text.split("}:", 1)[1] if "}:" in text else text
                kind = kinds.setdefault(rest.split(":", 1)[0], {"keys": 0, "bytes": 0})
                kind["keys"] += 1
                kind["bytes"] += int(size or 0)
            batch.clear()

        for key in r.scan_iter(count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                flush()
        flush()
    finally:
        r.close()
    return kinds


def pipeline_env(bootstrap: str, redis_url: str, topic: str, port: int) -> dict[str, str]:
    """The worker's environment; ``rebuild`` (phase d) runs with the same one."""
    return {
        **os.environ,
        "LINEAGE_KAFKA_BOOTSTRAP": bootstrap,
        "LINEAGE_REDIS_URL": redis_url,
        "LINEAGE_INPUT_TOPICS": topic,
        "LINEAGE_DLQ_TOPIC": f"{topic}.dlq",
        "LINEAGE_CONTROL_TOPIC": f"{topic}.control",
        "LINEAGE_WEB_PORT": str(port),
        "LINEAGE_GROUP_ID": f"bench-pipeline-{uuid.uuid4().hex[:8]}",
        # Tansu's group join takes about the session timeout: keep it short.
        "LINEAGE_KAFKA_SESSION_TIMEOUT_MS": "1000",
        "LINEAGE_KAFKA_HEARTBEAT_INTERVAL_MS": "100",
        "LINEAGE_LOG_LEVEL": "warning",
    }


def _snapshot_digest(base: str, timeout: float = 60.0) -> dict[str, Any] | None:
    """``GET /api/v1/graph/snapshot?hash=1``: ``{"sha256", "nodes", "edges", "asOf"}``,
    or None while the worker does not answer 200."""
    with contextlib.suppress(OSError, ValueError):
        status, body = _http_get(f"{base}/api/v1/graph/snapshot?hash=1", timeout=timeout)
        if status == 200:
            answer: dict[str, Any] = json.loads(body)
            return answer
    return None


def measure_pipeline(
    bootstrap: str,
    redis_url: str,
    topic: str,
    n: int,
    run: int,
    keep: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """(c) ``python -m processor worker`` as a subprocess, timed through its /metrics.

    With ``keep``, a worker that got through is left running, idle, and described in
    ``keep`` (``proc``, ``base``, ``env``, ``log``, ``sha256``) for phase d."""
    import redis

    reason = _pipeline_unavailable()
    if reason:
        raise BenchError(reason)
    r = redis.Redis.from_url(redis_url)
    try:
        r.flushall()
        mem_before = int(r.info("memory")["used_memory"])
    finally:
        r.close()
    port = _free_port()
    env = pipeline_env(bootstrap, redis_url, topic, port)
    log = LOGS / f"pipeline-{run}.log"
    proc = _spawn([sys.executable, "-m", "processor", "worker"], log, env)
    rss = _RssSampler(proc.pid)
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    try:
        first = last = 0.0
        c0, consumed, progress = 0.0, 0.0, started
        cpu_first = cpu_last = helper_first = helper_last = None
        services_first: dict[str, float] = {}
        services_last: dict[str, float] = {}
        samples: list[tuple[str, dict[str, str], float]] = []
        while consumed < n:
            if proc.poll() is not None:
                raise BenchError(f"worker exited with code {proc.returncode}: {_tail(log)}")
            rss.sample()
            with contextlib.suppress(OSError):
                status, body = _http_get(f"{base}/metrics")
                if status == 200:
                    samples = parse_metrics(body.decode())
                    now = time.monotonic()
                    seen = metric_sum(samples, "lineage_events_consumed_total")
                    if seen > consumed:
                        progress = now
                        if not consumed:
                            first, c0, cpu_first = now, seen, rss.cpu_seconds()
                            helper_first = rss.children_cpu_seconds()
                            services_first = _cpu_of(SERVICE_PIDS)
                        consumed, last = seen, now
                        cpu_last = rss.cpu_seconds()
                        helper_last = rss.children_cpu_seconds()
                        services_last = _cpu_of(SERVICE_PIDS)
            wait = START_S if not consumed else STALL_S
            if time.monotonic() - progress > wait:
                raise BenchError(
                    f"pipeline stalled at {consumed:,.0f}/{n:,} consumed: {_tail(log)}"
                )
            time.sleep(_poll_interval(n - consumed, consumed - c0, last - first))
        snapshot_hash = None
        while snapshot_hash is None:
            rss.sample()
            snapshot_hash = _snapshot_digest(base, timeout=30)
            if snapshot_hash is not None:
                break
            if proc.poll() is not None or time.monotonic() - last > STALL_S:
                raise BenchError(f"snapshot did not answer: {_tail(log)}")
            time.sleep(POLL_S)
        snapshot_s = time.monotonic() - last
        status, body = _http_get(f"{base}/metrics")
        samples = parse_metrics(body.decode()) if status == 200 else samples
        rss.sample()
        if keep is not None:
            keep.update(proc=proc, base=base, env=env, log=log, sha256=snapshot_hash["sha256"])
    finally:
        if keep is None or keep.get("proc") is not proc:
            _stop(proc, grace=20.0)
    r = redis.Redis.from_url(redis_url)
    try:
        mem_after = int(r.info("memory")["used_memory"])
    finally:
        r.close()
    edges = metric_sum(samples, "lineage_graph_edges")
    delta = mem_after - mem_before
    kinds = redis_breakdown(redis_url)
    graph_bytes = sum(v["bytes"] for k, v in kinds.items() if k not in DEDUP_KINDS)
    return {
        "rate": (consumed - c0) / (last - first) if last > first else None,
        "events": consumed,
        "join_s": first - started,
        "cpu_util": (cpu_last - cpu_first) / (last - first)
        if cpu_first is not None and cpu_last is not None and last > first
        else None,
        # CPU per event, from /proc: the worker process, and its classifier helpers
        "worker_us_per_event": (cpu_last - cpu_first) / (consumed - c0) * 1e6
        if cpu_first is not None and cpu_last is not None and consumed > c0
        else None,
        "classify_us_per_event": (helper_last - helper_first) / (consumed - c0) * 1e6
        if helper_first is not None and helper_last is not None and consumed > c0
        else None,
        # the broker's and Redis's CPU per event while the worker consumed
        "services_us_per_event": _service_us(services_first, services_last, consumed - c0),
        "snapshot_after_s": snapshot_s,
        "snapshot": snapshot_hash,
        "group_id": env["LINEAGE_GROUP_ID"],
        "peak_rss_mib": rss.peak / 2**20,
        "redis_used_memory_before": mem_before,
        "redis_used_memory_after": mem_after,
        "graph_edges": edges,
        "graph_nodes": metric_sum(samples, "lineage_graph_nodes"),
        "redis_bytes_per_edge": delta / edges if edges else None,
        "redis_keys_by_kind": kinds,
        "redis_graph_bytes_per_edge": graph_bytes / edges if edges else None,
        "outcomes": {
            "accepted": metric_sum(samples, "lineage_events_accepted_total"),
            "duplicate": metric_sum(samples, "lineage_events_duplicate_total"),
            "ignored": _by_label(samples, "lineage_events_ignored_total", "event_type"),
            "rejected": _by_label(samples, "lineage_events_rejected_total", "reason"),
            "edges_folded": metric_sum(samples, "lineage_edges_folded_total"),
            "edges_skipped": _by_label(samples, "lineage_edges_skipped_total", "reason"),
        },
    }


# --------------------------------------------------------------------------- rebuild

REBUILD_STARTED = re.compile(r"rebuilding generation (\S+) from the log \(current: (\S+)\)")
REBUILD_SWITCHED = re.compile(
    r"switched to generation (\S+) after ([\d,]+) messages in ([\d,.]+) s"
)
REBUILD_DROPPED = re.compile(r"dropped ([\d,]+) keys of generation (\S+)\s*$", re.MULTILINE)
FOLLOW_S = 15.0  # the worker reads the generation pointer every second


def _worker_generation(base: str) -> str | None:
    """The generation the worker's reads follow (its ``lineage_generation`` gauge)."""
    with contextlib.suppress(OSError):
        status, body = _http_get(f"{base}/metrics")
        if status == 200:
            for name, _, value in parse_metrics(body.decode()):
                if name == "lineage_generation":
                    return str(int(value))
    return None


def measure_rebuild(live: dict[str, Any], n: int, run: int) -> dict[str, Any]:
    """(d) ``python -m processor rebuild`` beside phase c's worker, which stays up (idle)
    and keeps serving; same LINEAGE_* environment, so the same prefix, topics (the control
    topic too) and settings. The rate is the rebuild's own summary line, "switched to
    generation G after M messages in S s": M / S, S counted from before its consumer
    starts to the switch, so neither the interpreter's start-up nor the old generation's
    drop is in it; the wall time (spawn to exit) is reported beside it. The worker's
    snapshot hash must be the same after the switch as before the rebuild."""
    worker = live.get("proc")
    if worker is None:
        raise BenchError("needs phase c's live graph (phase c skipped or failed)")
    base, env = live["base"], live["env"]
    if worker.poll() is not None:
        raise BenchError(f"the live worker exited before the rebuild: {_tail(live['log'])}")
    before = _snapshot_digest(base)
    if before is None:
        raise BenchError(f"the live worker's snapshot did not answer: {_tail(live['log'])}")
    gen_before = _worker_generation(base)
    log = LOGS / f"rebuild-{run}.log"
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = _spawn([sys.executable, "-m", "processor", "rebuild"], log, env)
    rss = _RssSampler(proc.pid)
    deadline = started + START_S + n / 500
    size, progress = 0, started
    began_at = switched_at = None
    services_began: dict[str, float] = {}
    services_switched: dict[str, float] = {}
    own_began = own_switched = None
    try:
        while proc.poll() is None:
            rss.sample()
            now = time.monotonic()
            grown = log.stat().st_size if log.exists() else 0
            if grown != size:
                size, progress = grown, now
                text = log.read_text(errors="replace")
                if began_at is None and REBUILD_STARTED.search(text):
                    began_at = now
                    services_began = _cpu_of(SERVICE_PIDS)
                    own_began = _own_and_children(proc.pid)
                if switched_at is None and REBUILD_SWITCHED.search(text):
                    switched_at = now
                    services_switched = _cpu_of(SERVICE_PIDS)
                    own_switched = _own_and_children(proc.pid)
            elif now - progress > STALL_S:
                raise BenchError(f"rebuild printed nothing for {STALL_S:.0f} s: {_tail(log)}")
            if now > deadline:
                raise BenchError(
                    f"rebuild did not finish in {deadline - started:.0f} s: {_tail(log)}"
                )
            if worker.poll() is not None:
                raise BenchError(f"the live worker exited during the rebuild: {_tail(live['log'])}")
            time.sleep(POLL_S)
    finally:
        _stop(proc)
    wall = time.monotonic() - started
    after_usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after_usage.ru_utime - usage.ru_utime) + (after_usage.ru_stime - usage.ru_stime)
    text = log.read_text(errors="replace")
    if proc.returncode != 0:
        raise BenchError(f"rebuild exited with code {proc.returncode}: {_tail(log)}")
    found = REBUILD_SWITCHED.search(text)
    if found is None:
        raise BenchError(f"rebuild exited 0 without switching: {_tail(log)}")
    generation = found.group(1)
    messages = int(found.group(2).replace(",", ""))
    seconds = float(found.group(3).replace(",", ""))
    start = REBUILD_STARTED.search(text)
    previous = start.group(2) if start else gen_before
    dropped = next(
        (
            int(m.group(1).replace(",", ""))
            for m in REBUILD_DROPPED.finditer(text)
            if m.group(2) == previous
        ),
        None,
    )
    # The worker's reads follow the pointer within a second; then the hash must match.
    follow_start = time.monotonic()
    while _worker_generation(base) != generation:
        if time.monotonic() - follow_start > FOLLOW_S:
            raise BenchError(
                f"the live worker did not follow generation {generation} in {FOLLOW_S:.0f} s"
            )
        time.sleep(POLL_S)
    followed_s = time.monotonic() - follow_start
    after = _snapshot_digest(base)
    if after is None:
        raise BenchError("the live worker's snapshot did not answer after the switch")
    same = all(before[k] == after[k] for k in ("sha256", "nodes", "edges"))
    return {
        "rate": messages / seconds if seconds > 0 else None,
        "events": messages,
        "messages": messages,
        "seconds": seconds,
        "wall_s": wall,
        "startup_s": began_at - started if began_at is not None else None,
        "switch_seen_s": switched_at - started if switched_at is not None else None,
        "after_switch_s": wall - (switched_at - started) if switched_at is not None else None,
        "generation_before": previous,
        # from the rebuild's start line to its switch line (log polled every 50 ms)
        "services_us_per_event": _service_us(services_began, services_switched, messages),
        # the rebuild process and its classifier helpers (their start-up included)
        "own_us_per_event": (
            {
                "rebuild": (own_switched[0] - own_began[0]) / messages * 1e6,
                "helpers": (own_switched[1] - own_began[1]) / messages * 1e6,
            }
            if own_began and own_switched and messages
            else {}
        ),
        "generation": generation,
        "dropped_keys": dropped,
        "worker_followed_s": followed_s,
        "hash_after_c": live.get("sha256"),
        "hash_before": before["sha256"],
        "hash_after": after["sha256"],
        "nodes_before": before["nodes"],
        "nodes_after": after["nodes"],
        "edges_before": before["edges"],
        "edges_after": after["edges"],
        "hash_match": same,
        "cpu_s": cpu,
        "cpu_util": cpu / wall if wall > 0 else None,
        "peak_rss_mib": rss.peak / 2**20,
    }


# --------------------------------------------------------------------------- report


def outcome_check(outcomes: dict[str, Any], composition: dict[str, int]) -> dict[str, Any]:
    """(measured, expected) per outcome, the expectation from ``mix_composition``."""
    rejected = outcomes["rejected"]
    return {
        "accepted": (outcomes["accepted"], composition["mixed"]),
        "duplicate": (outcomes["duplicate"], composition["duplicate"]),
        "ignored": (sum(outcomes["ignored"].values()), composition["non_complete"]),
        "rejected by the mix rule": (
            sum(v for k, v in rejected.items() if k.startswith("mix_rule")),
            composition["same_side"],
        ),
        "rejected as invalid": (
            sum(v for k, v in rejected.items() if k in ("invalid_json", "invalid_event")),
            composition["invalid"],
        ),
    }


def _median(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def _rate(value: float | None) -> str:
    return f"{value:,.0f}/s" if value else "n/a"


def _row(label: str, value: str, note: str = "") -> None:
    print(f"  {label:<26}{value:>16}   {note}".rstrip())


def _target(label: str, ratio: float | None, target: float) -> None:
    if ratio is None:
        _row(label, "n/a", f"target >= {target}")
        return
    verdict = "OK" if ratio >= target else "BELOW TARGET"
    _row(label, f"{ratio:.3f}", f"target >= {target}: {verdict}")


def _cpu(med: dict[str, Any], what: str) -> str:
    util = med.get(f"{what}_cpu_util")
    return f"   (its CPU while consuming: {util:.2f} core)" if util else ""


def rebuild_failures(runs: list[dict[str, Any]]) -> list[str]:
    """Why phase d failed, per run: a rebuild that did not switch, a hash that changed."""
    out = []
    for i, run in enumerate(runs, 1):
        d = run.get("rebuild", {})
        if "rate" in d and not d["hash_match"]:
            out.append(
                f"run {i}: snapshot hash {d['hash_before']} before the rebuild, "
                f"{d['hash_after']} after it (nodes {d['nodes_before']} -> {d['nodes_after']}, "
                f"edges {d['edges_before']} -> {d['edges_after']})"
            )
        elif "reason" in d and d["reason"] != "skipped" and not d["reason"].startswith("needs"):
            out.append(f"run {i}: {d['reason']}")
    return out


def _rebuild_line(d: dict[str, Any]) -> str:
    """Phase d's outcome on one line, as it finishes."""
    verdict = (
        "snapshot hash identical"
        if d["hash_match"]
        else f"!!! SNAPSHOT HASH MISMATCH: {d['hash_before']} before, {d['hash_after']} after"
    )
    return (
        f"  {d['messages']:,} messages in {d['seconds']:.1f} s (wall {d['wall_s']:.1f} s), "
        f"generation {d['generation_before']} -> {d['generation']}; {verdict}"
    )


def report_rebuild(result: dict[str, Any]) -> None:
    """The (d) rows of the table."""
    med, runs = result["median"], result["runs"]
    done = [r["rebuild"] for r in runs if "rate" in r.get("rebuild", {})]
    if not done:
        reasons = sorted({r["rebuild"]["reason"] for r in runs if "reason" in r["rebuild"]})
        _row("(d) rebuild from the log", "n/a", "; ".join(reasons))
        return
    last = done[-1]
    _row(
        "(d) rebuild from the log",
        _rate(med["rebuild"]),
        f"{last['messages']:,} messages in {med['rebuild_seconds']:.1f} s "
        f"(its summary line{'s, median' if len(done) > 1 else ''})",
    )
    which = " (last run)" if len(done) > 1 else ""
    startup = last["startup_s"] or 0.0
    after = last["after_switch_s"] or 0.0
    _row(
        "  rebuild wall time",
        f"{med['rebuild_wall_s']:.1f} s",
        f"spawn to exit{which}: start-up {startup:.1f} s, after the switch {after:.1f} s "
        f"(grace + drop of {last['dropped_keys'] or 0:,} old keys); "
        f"its CPU {last['cpu_s']:.1f} s, peak RSS {last['peak_rss_mib']:.0f} MiB",
    )
    if all(r["hash_match"] for r in done):
        _row(
            "  snapshot hash",
            "identical",
            f"{last['hash_after'][:16]}... before and after, generation "
            f"{last['generation_before']} -> {last['generation']} "
            f"(worker followed in {last['worker_followed_s']:.1f} s)",
        )
    else:
        _row("  snapshot hash", "MISMATCH", "!!! the rebuilt graph differs from the live one")


def report(result: dict[str, Any]) -> None:
    med, runs, ce = result["median"], result["runs"], CEILINGS
    a, b, c = med["getmany"], med["faust_noop"], med["pipeline"]
    print(
        f"\nlineage-processor bench: {result['events']:,} events "
        f"(avg {result['avg_value_bytes']:,.0f} B), {result['partitions']} partitions, "
        f"{result['repeat']} run(s), medians; services: {result['services']}"
    )
    _row("", "measured", "ceiling (docs/design.md section 10)")
    _row(
        "(a) aiokafka getmany", _rate(a), f"~{ce['getmany']['rate']:,}/s ({ce['getmany']['note']})"
    )
    _row("(b) faust no-op agent", _rate(b), f"~{ce['faust_noop']['rate']:,}/s{_cpu(med, 'noop')}")
    if c is None:
        reasons = sorted({r["pipeline"]["reason"] for r in runs if "reason" in r["pipeline"]})
        _row("(c) full pipeline", "n/a", f"pipeline: not available ({'; '.join(reasons)})")
    else:
        _row("(c) full pipeline", _rate(c), _cpu(med, "pipeline").strip())
        report_rebuild(result)
        d = med["rebuild"]
        _target("c/a", c / a if a else None, TARGET_C_OVER_A)
        _target("c/b", c / b if b else None, TARGET_C_OVER_B)
        _target("d/a", d / a if a and d else None, TARGET_D_OVER_A)
        _row("d/c", f"{d / c:.3f}" if d else "n/a", "rebuild from the log vs live pipeline")
        helper = med.get("classify_us_per_event")
        _row(
            "classification CPU",
            f"{helper:.1f} us/event" if helper else "n/a",
            f"target <= {TARGET_CLASSIFY_US:.0f}: "
            + ("OK" if helper and helper <= TARGET_CLASSIFY_US else "ABOVE TARGET")
            + " (the helper processes, from /proc)",
        )
        worker_us = med.get("worker_us_per_event")
        _row(
            "worker process CPU",
            f"{worker_us:.1f} us/event" if worker_us else "n/a",
            "(faust, the hot path, Redis and broker calls)",
        )
        own = next((r["rebuild"].get("own_us_per_event") for r in runs if "rebuild" in r), None)
        if own:
            _row(
                "(d) rebuild / helpers CPU",
                f"{own['rebuild']:.1f} / {own['helpers']:.1f} us/event",
                "(from its start line to its switch; the helpers' start-up included)",
            )
        for phase, label in (("pipeline", "(c)"), ("rebuild", "(d)")):
            per = next((r[phase].get("services_us_per_event") for r in runs if phase in r), None)
            if per:
                _row(
                    f"{label} broker / Redis CPU",
                    " / ".join(f"{per.get(k, 0):.1f}" for k in ("broker", "redis")) + " us/event",
                    "(their processes, from /proc, while it consumed)",
                )
        noop_rss = med["noop_peak_rss_mib"] or 0
        _row(
            "worker peak RSS",
            f"{med['pipeline_peak_rss_mib']:.1f} MiB",
            f"(faust no-op agent: {noop_rss:.1f} MiB)",
        )
        last = next(r["pipeline"] for r in reversed(runs) if "rate" in r["pipeline"])
        before, after = last["redis_used_memory_before"], last["redis_used_memory_after"]
        _row("Redis used_memory", f"{before / 2**20:.1f} MiB", "before the run")
        _row("", f"{after / 2**20:.1f} MiB", f"after (+{(after - before) / 2**20:.1f} MiB)")
        per_edge = med["redis_bytes_per_edge"]
        _row(
            "Redis delta per edge",
            f"{per_edge:,.0f} B" if per_edge else "n/a",
            f"edges {last['graph_edges']:,.0f}, nodes {last['graph_nodes']:,.0f} "
            "(the delta includes dedup keys)",
        )
        kinds = last["redis_keys_by_kind"]
        graph_per_edge = med["redis_graph_bytes_per_edge"]
        _row(
            "  graph keys only",
            f"{graph_per_edge:,.0f} B" if graph_per_edge else "n/a",
            "MEMORY USAGE of the non-dedup keys, per edge",
        )
        print(
            "  Redis keys by kind: "
            + ", ".join(
                f"{k} {v['keys']:,} ({v['bytes'] / 2**20:.1f} MiB)"
                for k, v in sorted(kinds.items())
            )
        )
        _row("snapshot answered", f"{last['snapshot_after_s']:.2f} s", "after the last message")
        print(f"  outcomes (last run): {json.dumps(last['outcomes'])}")
        checks = outcome_check(last["outcomes"], result["composition"])
        print(
            "  outcomes vs the mix:  "
            + ", ".join(
                f"{k} {got:,.0f}/{want:,}{'' if got == want else ' MISMATCH'}"
                for k, (got, want) in checks.items()
            )
        )
    others = [v for k, v in ce.items() if k not in ("getmany", "faust_noop")]
    print("  other ceilings: " + "; ".join(f"{v['note']} ~{v['rate']:,}/s" for v in others))
    failures = rebuild_failures(runs)
    if failures:
        print("\n" + "!" * 78)
        print("!!! BENCHMARK FAILURE: phase (d) rebuild")
        for line in failures:
            print(f"!!!   {line}")
        print("!" * 78)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="lineage-processor throughput benchmark")
    parser.add_argument("--events", type=int, default=200_000, help="messages (default 200000)")
    parser.add_argument("--partitions", type=int, default=4, help="topic partitions (default 4)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run a, b, c, d K times, report medians"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the message mix")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="after the report, keep broker and Redis up until Ctrl-C",
    )
    parser.add_argument(
        "--backend",
        default="local",
        choices=("local", "docker", "auto"),
        help="services: local binaries (default, as in docs/design.md section 10) or containers",
    )
    parser.add_argument(
        "--skip", default="", help="comma-separated phases to skip: a,b,c,d (d needs c)"
    )
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}

    def _terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started ignoring it
    workdir = Path(tempfile.mkdtemp(prefix="lineage-bench-"))
    services: list[Any] = []
    LOGS.mkdir(parents=True, exist_ok=True)
    try:
        from processor.adapters.kafka_admin import create_topics
        from processor.adapters.log_reader import end_offsets
        from processor.devstack.services import start_broker, start_redis

        broker = start_broker(workdir, backend=args.backend)
        services.append(broker)
        redis_svc = start_redis(workdir, backend=args.backend)
        services.append(redis_svc)
        SERVICE_PIDS.update(broker=broker.pid, redis=redis_svc.pid)
        bootstrap, redis_url = broker.address, redis_svc.address
        source = f"{args.backend} (broker {broker.backend}, redis {redis_svc.backend})"
        print(f"services: broker {bootstrap}, redis {redis_url} ({source})", flush=True)

        topic = "openlineage.bench"
        # The control topic too: the worker consumes it and the rebuild reads it.
        topics = [topic, f"{topic}.dlq", f"{topic}.control"]
        asyncio.run(create_topics(bootstrap, topics, args.partitions))
        from processor.samples import mix_composition, realistic_mix

        print(
            f"generating {args.events:,} messages (realistic_mix, seed {args.seed})...", flush=True
        )
        t0 = time.perf_counter()
        messages = realistic_mix(args.events, seed=args.seed)
        avg = sum(len(v) for _, v in messages) / max(1, len(messages))
        print(
            f"  generated in {time.perf_counter() - t0:.1f} s, avg value {avg:,.0f} B", flush=True
        )
        print(f"filling topic {topic} ({args.partitions} partitions)...", flush=True)
        produce_rate = asyncio.run(fill(bootstrap, topic, messages))
        del messages
        stored = sum(asyncio.run(end_offsets(bootstrap, topic)).values())
        if stored != args.events:
            raise BenchError(f"the topic holds {stored:,} messages, expected {args.events:,}")

        runs: list[dict[str, Any]] = []
        live: dict[str, Any] = {}  # phase c's worker, kept up (idle) for phase d
        phases: list[tuple[str, str, Callable[[int], dict[str, Any]]]] = [
            ("a", "getmany", lambda i: asyncio.run(measure_getmany(bootstrap, topic, args.events))),
            ("b", "faust_noop", lambda i: measure_noop(bootstrap, topic, args.events, i)),
            (
                "c",
                "pipeline",
                lambda i: measure_pipeline(
                    bootstrap, redis_url, topic, args.events, i, None if "d" in skip else live
                ),
            ),
            ("d", "rebuild", lambda i: measure_rebuild(live, args.events, i)),
        ]
        for i in range(args.repeat):
            run: dict[str, Any] = {}
            try:
                for letter, name, measure in phases:
                    if letter in skip:
                        run[name] = {"reason": "skipped"}
                        continue
                    print(f"run {i + 1}/{args.repeat} ({letter}) {name}...", end=" ", flush=True)
                    try:
                        run[name] = measure(i)
                        rate = run[name]["rate"]
                        print(f"{rate:,.0f}/s" if rate else "n/a", flush=True)
                        if letter == "d":
                            print(_rebuild_line(run[name]), flush=True)
                    except BenchError as exc:
                        run[name] = {"reason": str(exc)}
                        label = "pipeline: not available" if letter == "c" else f"{name}: failed"
                        if letter == "d" and str(exc).startswith("needs"):
                            label = "rebuild: not run"
                        print(f"\n  {label} ({exc})", flush=True)
            finally:
                if live.get("proc") is not None:
                    _stop(live["proc"], grace=20.0)
                live.clear()
            runs.append(run)

        def med(phase: str, key: str = "rate") -> float | None:
            return _median(r[phase].get(key) for r in runs)

        a, b, c, d = med("getmany"), med("faust_noop"), med("pipeline"), med("rebuild")
        result = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "events": args.events,
            "partitions": args.partitions,
            "repeat": args.repeat,
            "seed": args.seed,
            "avg_value_bytes": avg,
            "composition": mix_composition(args.events),
            "produce_rate": produce_rate,
            "services": source,
            "cpu_count": os.cpu_count(),
            "median": {
                "getmany": a,
                "faust_noop": b,
                "pipeline": c,
                "c_over_a": c / a if a and c else None,
                "c_over_b": c / b if b and c else None,
                "rebuild": d,
                "d_over_c": d / c if c and d else None,
                "d_over_a": d / a if a and d else None,
                "classify_us_per_event": med("pipeline", "classify_us_per_event"),
                "worker_us_per_event": med("pipeline", "worker_us_per_event"),
                "rebuild_seconds": med("rebuild", "seconds"),
                "rebuild_wall_s": med("rebuild", "wall_s"),
                "rebuild_cpu_util": med("rebuild", "cpu_util"),
                "rebuild_peak_rss_mib": med("rebuild", "peak_rss_mib"),
                "pipeline_peak_rss_mib": med("pipeline", "peak_rss_mib"),
                "noop_peak_rss_mib": med("faust_noop", "peak_rss_mib"),
                "noop_cpu_util": med("faust_noop", "cpu_util"),
                "pipeline_cpu_util": med("pipeline", "cpu_util"),
                "redis_bytes_per_edge": med("pipeline", "redis_bytes_per_edge"),
                "redis_graph_bytes_per_edge": med("pipeline", "redis_graph_bytes_per_edge"),
            },
            "targets": {
                "c_over_b": TARGET_C_OVER_B,
                "c_over_a": TARGET_C_OVER_A,
                "d_over_a": TARGET_D_OVER_A,
                "classify_us_per_event": TARGET_CLASSIFY_US,
            },
            "ceilings": CEILINGS,
            "runs": runs,
        }
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "latest.json").write_text(json.dumps(result, indent=2) + "\n")
        report(result)
        print(f"\nresults: {RESULTS / 'latest.json'}")
        failed = bool(rebuild_failures(runs))
        if args.keep:
            print(f"\nbroker {bootstrap} and redis {redis_url} kept running; Ctrl-C stops them")
            while True:
                time.sleep(3600)
        return 1 if failed else 0
    except BenchError as exc:
        print(f"\nbench failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # finish cleaning up
        for proc in list(_CHILDREN):
            _stop(proc, grace=5.0)
        for svc in reversed(services):
            with contextlib.suppress(Exception):
                svc.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)


if __name__ == "__main__":
    sys.exit(main())
