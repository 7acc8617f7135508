"""Throughput benchmark: the full pipeline against its two ceilings, measured in one run.

``make bench`` runs this file. It starts its own Tansu broker and Redis
(``processor.adapters.services``, local binaries unless ``--backend``), fills a topic with
``processor.samples.realistic_mix(N)`` (aiokafka producer, 1 MiB batches, keys partitioned
as Kafka clients do), then, on that same topic, measures:

(a) raw aiokafka ``getmany`` consumption of all N messages (fresh group, from earliest);
(b) a faust-streaming agent that does nothing (``bench/noop_agent.py``, a subprocess);
(c) the full pipeline, ``python -m processor worker`` as a subprocess, timed by polling its
    ``/metrics`` every 50 ms until ``lineage_events_consumed_total`` reaches N, then until
    ``GET /api/v1/graph/snapshot?hash=1`` answers.

Each rate is (messages seen after the first observation) / (time from the first
observation to the last message), so the join of the consumer group and the start-up of
the subprocesses are not counted. ``--repeat K`` runs a, b, c K times in alternation and
reports medians (the machine is small and noisy). Redis is flushed before each pipeline
run, so every run does the same work. The worker's outcome counters are checked against
``processor.samples.mix_composition(N)``. Results: a table on stdout and
``bench/results/latest.json``; subprocess logs in ``bench/results/logs/``.

Flags: ``--events N`` (100000), ``--partitions P`` (4), ``--repeat K`` (1), ``--seed``,
``--skip a,b,c``, ``--backend local|docker|auto``, ``--keep`` (after the report, keep the
broker and Redis up until Ctrl-C, e.g. to query the graph). Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LOGS = RESULTS / "logs"
sys.path.insert(0, str(ROOT))

# DESIGN.md section 10, measured on this kind of machine (2 cores, medians).
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
TARGET_C_OVER_B = 0.7
DEDUP_KINDS = ("seen",)  # Redis key kinds that are dedup marks, not graph
POLL_S = 0.05
STALL_S = 60.0
START_S = 120.0

_CHILDREN: list[subprocess.Popen[bytes]] = []


class BenchError(Exception):
    """A measurement could not be made; the message says why."""


# --------------------------------------------------------------------------- processes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True
        )
    _CHILDREN.append(proc)
    return proc


def _stop(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Stop a process this bench started (its own session), politely then firmly."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if proc in _CHILDREN:
        _CHILDREN.remove(proc)


def _tail(log: Path, lines: int = 3) -> str:
    """The last lines of a log, on one line (see the log file for the rest)."""
    try:
        text = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    except OSError:
        return ""
    kept = [line for line in text if line and not set(line) <= {"^", "~", " "}]
    where = log.relative_to(ROOT) if log.is_relative_to(ROOT) else log
    return f"{' | '.join(kept[-lines:])[-400:]} (log: {where})"


class _RssSampler:
    """Peak resident memory of a process and its children, sampled every 100 ms;
    also its CPU time, to tell busy (CPU-bound) from waiting."""

    def __init__(self, pid: int) -> None:
        import psutil

        self._proc = psutil.Process(pid)
        self._psutil = psutil
        self._next = 0.0
        self.peak = 0

    def sample(self) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + 0.1
        try:
            procs = [self._proc, *self._proc.children(recursive=True)]
            rss = sum(p.memory_info().rss for p in procs)
        except self._psutil.Error:
            return
        self.peak = max(self.peak, rss)

    def cpu_seconds(self) -> float | None:
        try:
            times = self._proc.cpu_times()
        except self._psutil.Error:
            return None
        return float(times.user + times.system)


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


def _http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, b""


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
    """Keys and ``MEMORY USAGE`` bytes by kind (``{prefix:g1}:KIND:...``), e.g. ``seen``
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


def measure_pipeline(
    bootstrap: str, redis_url: str, topic: str, n: int, run: int
) -> dict[str, Any]:
    """(c) ``python -m processor worker`` as a subprocess, timed through its /metrics."""
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
    env = {
        **os.environ,
        "LINEAGE_KAFKA_BOOTSTRAP": bootstrap,
        "LINEAGE_REDIS_URL": redis_url,
        "LINEAGE_INPUT_TOPICS": topic,
        "LINEAGE_DLQ_TOPIC": f"{topic}.dlq",
        "LINEAGE_WEB_PORT": str(port),
        "LINEAGE_GROUP_ID": f"bench-pipeline-{uuid.uuid4().hex[:8]}",
        # Tansu's group join takes about the session timeout: keep it short.
        "LINEAGE_KAFKA_SESSION_TIMEOUT_MS": "1000",
        "LINEAGE_KAFKA_HEARTBEAT_INTERVAL_MS": "100",
        "LINEAGE_LOG_LEVEL": "warning",
    }
    log = LOGS / f"pipeline-{run}.log"
    proc = _spawn([sys.executable, "-m", "processor", "worker"], log, env)
    rss = _RssSampler(proc.pid)
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    try:
        first = last = 0.0
        c0, consumed, progress = 0.0, 0.0, started
        cpu_first = cpu_last = None
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
                        consumed, last = seen, now
                        cpu_last = rss.cpu_seconds()
            wait = START_S if not consumed else STALL_S
            if time.monotonic() - progress > wait:
                raise BenchError(
                    f"pipeline stalled at {consumed:,.0f}/{n:,} consumed: {_tail(log)}"
                )
            time.sleep(POLL_S)
        snapshot_hash = None
        while snapshot_hash is None:
            rss.sample()
            with contextlib.suppress(OSError):
                status, body = _http_get(f"{base}/api/v1/graph/snapshot?hash=1", timeout=30)
                if status == 200:
                    snapshot_hash = body.decode(errors="replace").strip()[:200]
                    break
            if proc.poll() is not None or time.monotonic() - last > STALL_S:
                raise BenchError(f"snapshot did not answer: {_tail(log)}")
            time.sleep(POLL_S)
        snapshot_s = time.monotonic() - last
        status, body = _http_get(f"{base}/metrics")
        samples = parse_metrics(body.decode()) if status == 200 else samples
        rss.sample()
    finally:
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
        "snapshot_after_s": snapshot_s,
        "snapshot": snapshot_hash,
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


def _cpu(med: dict[str, Any], what: str) -> str:
    util = med.get(f"{what}_cpu_util")
    return f"   (its CPU while consuming: {util:.2f} core)" if util else ""


def report(result: dict[str, Any]) -> None:
    med, runs, ce = result["median"], result["runs"], CEILINGS
    a, b, c = med["getmany"], med["faust_noop"], med["pipeline"]
    print(
        f"\nlineage-processor bench: {result['events']:,} events "
        f"(avg {result['avg_value_bytes']:,.0f} B), {result['partitions']} partitions, "
        f"{result['repeat']} run(s), medians; services: {result['services']}"
    )
    _row("", "measured", "ceiling (DESIGN.md section 10)")
    _row(
        "(a) aiokafka getmany", _rate(a), f"~{ce['getmany']['rate']:,}/s ({ce['getmany']['note']})"
    )
    _row("(b) faust no-op agent", _rate(b), f"~{ce['faust_noop']['rate']:,}/s{_cpu(med, 'noop')}")
    if c is None:
        reasons = sorted({r["pipeline"]["reason"] for r in runs if "reason" in r["pipeline"]})
        _row("(c) full pipeline", "n/a", f"pipeline: not available ({'; '.join(reasons)})")
    else:
        _row("(c) full pipeline", _rate(c), _cpu(med, "pipeline").strip())
        _row("c/a", f"{c / a:.3f}" if a else "n/a")
        verdict = "OK" if b and c / b >= TARGET_C_OVER_B else "BELOW TARGET"
        _row("c/b", f"{c / b:.3f}" if b else "n/a", f"target >= {TARGET_C_OVER_B}: {verdict}")
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


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="lineage-processor throughput benchmark")
    parser.add_argument("--events", type=int, default=100_000, help="messages (default 100000)")
    parser.add_argument("--partitions", type=int, default=4, help="topic partitions (default 4)")
    parser.add_argument("--repeat", type=int, default=1, help="run a, b, c K times, report medians")
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
        help="services: local binaries (default, as in DESIGN.md section 10) or containers",
    )
    parser.add_argument("--skip", default="", help="comma-separated phases to skip: a,b,c")
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
        from processor.adapters.kafka_admin import create_topics, end_offsets
        from processor.adapters.services import start_broker, start_redis

        broker = start_broker(workdir, backend=args.backend)
        services.append(broker)
        redis_svc = start_redis(workdir, backend=args.backend)
        services.append(redis_svc)
        bootstrap, redis_url = broker.address, redis_svc.address
        source = f"{args.backend} (broker {broker.backend}, redis {redis_svc.backend})"
        print(f"services: broker {bootstrap}, redis {redis_url} ({source})", flush=True)

        topic = "openlineage.bench"
        asyncio.run(create_topics(bootstrap, [topic, f"{topic}.dlq"], args.partitions))
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
        phases: list[tuple[str, str, Callable[[int], dict[str, Any]]]] = [
            ("a", "getmany", lambda i: asyncio.run(measure_getmany(bootstrap, topic, args.events))),
            ("b", "faust_noop", lambda i: measure_noop(bootstrap, topic, args.events, i)),
            (
                "c",
                "pipeline",
                lambda i: measure_pipeline(bootstrap, redis_url, topic, args.events, i),
            ),
        ]
        for i in range(args.repeat):
            run: dict[str, Any] = {}
            for letter, name, measure in phases:
                if letter in skip:
                    run[name] = {"reason": "skipped"}
                    continue
                print(f"run {i + 1}/{args.repeat} ({letter}) {name}...", end=" ", flush=True)
                try:
                    run[name] = measure(i)
                    rate = run[name]["rate"]
                    print(f"{rate:,.0f}/s" if rate else "n/a", flush=True)
                except BenchError as exc:
                    run[name] = {"reason": str(exc)}
                    label = "pipeline: not available" if letter == "c" else f"{name}: failed"
                    print(f"\n  {label} ({exc})", flush=True)
            runs.append(run)

        def med(phase: str, key: str = "rate") -> float | None:
            return _median(r[phase].get(key) for r in runs)

        a, b, c = med("getmany"), med("faust_noop"), med("pipeline")
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
                "pipeline_peak_rss_mib": med("pipeline", "peak_rss_mib"),
                "noop_peak_rss_mib": med("faust_noop", "peak_rss_mib"),
                "noop_cpu_util": med("faust_noop", "cpu_util"),
                "pipeline_cpu_util": med("pipeline", "cpu_util"),
                "redis_bytes_per_edge": med("pipeline", "redis_bytes_per_edge"),
                "redis_graph_bytes_per_edge": med("pipeline", "redis_graph_bytes_per_edge"),
            },
            "target_c_over_b": TARGET_C_OVER_B,
            "ceilings": CEILINGS,
            "runs": runs,
        }
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "latest.json").write_text(json.dumps(result, indent=2) + "\n")
        report(result)
        print(f"\nresults: {RESULTS / 'latest.json'}")
        if args.keep:
            print(f"\nbroker {bootstrap} and redis {redis_url} kept running; Ctrl-C stops them")
            while True:
                time.sleep(3600)
        return 0
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
