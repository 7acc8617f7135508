"""Ingest gateway benchmark: events/s through the HTTP gateway against the worker's live
rate, measured in one run on the same message mix.

``make bench-ingest`` runs this file. It starts its own Tansu broker and Redis, makes
``processor.samples.realistic_mix(N)`` (N = 50,000 by default), then measures:

(w) the worker's live rate on that mix: the topic is filled and ``python -m processor
    worker`` consumes it, timed through its ``/metrics`` (``bench.measure_pipeline``, the
    pipeline phase of ``make bench-pipeline``);
(s) single events: ``python -m processor ingest`` as a subprocess, and C keep-alive
    connections (C = 256) each POSTing one event per request to ``/api/v1/lineage``
    until the mix is sent;
(b) batches: the same mix in batches of B events (B = 500) to ``/api/v1/lineage/batch``
    over 16 connections (8 could land unevenly on two gateway processes: the kernel
    spreads connections by a hash).

Phases s and b run once per gateway process count of ``--gateway-processes`` (default
``1,0``: one process, then the gateway's default of one per core), each on a topic of
its own. The load comes from ``http_load``: its C client (``http_load.c``, built with
the machine's ``cc``; the Python client when there is none, ``--client`` chooses), 2
threads (processes of the Python client), each an ``epoll`` loop over its connections,
requests built before the clock starts; a single-event connection sends its next
request only once it has the answer to the last.
For each phase the table gives the CPU time per event, and the cores busy on
average, of the clients, the gateway (all its processes) and the broker, so a
rate can be read against what the machine had left for the gateway.

A phase's rate is events answered / time from the first request to the last answer;
latency is per request (p50, p99). Events that fail steps 1-3 (the mix's invalid_json and
invalid_event share) are answered 400 and count as answered, not published (a batch
cannot hold bytes that are not JSON: phase b sends the rest of the mix); every other
answer must be a 2xx (else the phase fails), the gateway's published counter must equal
them, and the topic's end offsets must equal the counter (every 2xx is on the topic).
Targets: single events at least the worker's rate (the gateway is never the
bottleneck), batches at least 3x it. Results: a table on stdout and
``bench/results/ingest.json``; subprocess logs in ``bench/results/logs/``.

Flags: ``--events N``, ``--partitions P`` (4), ``--concurrency C``, ``--batch-size B``,
``--batch-connections``, ``--gateway-processes``, ``--clients K`` (2), ``--client
auto|c|python``, ``--seed``,
``--skip w,s,b``. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import http_load
from procs import CHILDREN, free_port, http_get, spawn, stop, tail

import bench as pipeline

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LOGS = RESULTS / "logs"
sys.path.insert(0, str(ROOT))

TARGET_SINGLE = 1.0  # x the worker's live rate
TARGET_BATCH = 3.0


class BenchError(Exception):
    """A measurement could not be made; the message says why."""


def _gateway(bootstrap: str, topic: str, name: str, processes: int) -> tuple[Any, int, Path]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    env.update(
        LINEAGE_KAFKA_BOOTSTRAP=bootstrap,
        LINEAGE_INPUT_TOPICS=topic,
        LINEAGE_INGEST_PORT=str(port),
        LINEAGE_INGEST_HOST="127.0.0.1",
        LINEAGE_INGEST_PROCESSES=str(processes),
        LINEAGE_LOG_LEVEL="warning",
    )
    log = LOGS / f"ingest-{name}.log"
    proc = spawn([sys.executable, "-m", "processor", "ingest"], log, env)
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(OSError):
            if http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200:
                return proc, port, log
        if proc.poll() is not None or time.monotonic() > deadline:
            raise BenchError(f"the gateway did not get ready: {tail(log)}")
        time.sleep(0.1)


def _tree_cpu(pid: int | None) -> float:
    """CPU seconds of a process and its live children (0 when it is gone)."""
    import psutil

    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def measure_gateway(
    bootstrap: str,
    broker_pid: int | None,
    topic: str,
    values: list[bytes],
    *,
    batch: int,
    concurrency: int,
    processes: int,
    clients: int,
    client: str = "auto",
) -> dict[str, Any]:
    """Send ``values`` one per request (``batch`` 1) or in batches through a gateway
    of ``processes`` processes (0: its default); rate, latency and CPU."""
    name = f"{'single' if batch == 1 else 'batch'}-{processes}"
    proc, port, log = _gateway(bootstrap, topic, name, processes)
    path = "/api/v1/lineage" if batch == 1 else "/api/v1/lineage/batch"
    if batch == 1:
        bodies = [(1, v) for v in values]
    else:
        # Bytes that are not JSON cannot be an element of a JSON array: the mix's
        # invalid_json share goes to the single-event phase only.
        values = [v for v in values if _is_json(v)]
        chunks = [values[i : i + batch] for i in range(0, len(values), batch)]
        bodies = [(len(c), b"[" + b",".join(c) + b"]") for c in chunks]
    requests = http_load.build_requests(port, path, bodies)
    try:
        gateway0, broker0 = _tree_cpu(proc.pid), _tree_cpu(broker_pid)
        out = http_load.run_load(
            port,
            batch > 1,
            requests,
            processes=clients,
            connections=concurrency,
            client=client,
        )
        gateway_cpu = _tree_cpu(proc.pid) - gateway0
        broker_cpu = _tree_cpu(broker_pid) - broker0
        published = _published(port, out["events"] - out["refused"])
        gateway_processes = len(_children(proc.pid)) or 1
    finally:
        stop(proc)
    statuses = out["statuses"]
    bad = {s: n for s, n in statuses.items() if s >= 500 or (batch > 1 and s != 200)}
    if bad:
        raise BenchError(f"{name}: answers {statuses}: {tail(log)}")
    if published != out["events"] - out["refused"]:
        raise BenchError(
            f"{name}: {published:,.0f} published, expected {out['events'] - out['refused']:,}"
        )
    latencies = out["latencies"]
    elapsed, events = out["elapsed"], out["events"]
    return {
        "rate": events / elapsed,
        "events": events,
        "requests": len(latencies),
        "published": published,
        "refused": out["refused"],
        "statuses": statuses,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "gateway_processes": gateway_processes,
        # CPU per event in microseconds, and cores busy on average, by party.
        "cpu_us_per_event": {
            "client": 1e6 * out["client_cpu"] / events,
            "gateway": 1e6 * gateway_cpu / events,
            "broker": 1e6 * broker_cpu / events,
        },
        "cores": {
            "client": out["client_cpu"] / elapsed,
            "gateway": gateway_cpu / elapsed,
            "broker": broker_cpu / elapsed,
        },
        "concurrency": concurrency,
        "client_processes": clients,
        "client": out["client"],
        "batch_size": batch,
    }


def _published(port: int, expected: int) -> float:
    """The gateway's published counter, read until it is ``expected`` or for 2 s
    (each process writes its counts to the shared files once per turn of its loop)."""
    deadline = time.monotonic() + 2
    while True:
        _, body = http_get(f"http://127.0.0.1:{port}/metrics")
        published = pipeline.metric_sum(
            pipeline.parse_metrics(body.decode()), "lineage_ingest_events_published_total"
        )
        if published == expected or time.monotonic() > deadline:
            return published
        time.sleep(0.05)


def _children(pid: int) -> list[Any]:
    """The gateway's serving processes (none: it serves in its own process)."""
    import psutil

    try:
        kids = psutil.Process(pid).children()
    except psutil.Error:
        return []
    return [k for k in kids if "resource_tracker" not in " ".join(k.cmdline())]


def _is_json(value: bytes) -> bool:
    import orjson

    try:
        orjson.loads(value)
    except orjson.JSONDecodeError:
        return False
    return True


def report(result: dict[str, Any]) -> None:
    worker = result.get("worker", {}).get("rate")
    print()
    print(
        f"{'phase':<36} {'events/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'x worker':>8}  "
        "CPU us/event client/gateway/broker (cores)"
    )
    if worker:
        cpu = result["worker"]["cpu_us_per_event"]
        used = " / ".join(f"{k} {v:.0f}" for k, v in cpu.items() if v is not None)
        print(f"{'w  worker, live (same mix)':<36} {worker:>9,.0f} {'':>7} {'':>7} {'':>8}  {used}")
    for phase in result.get("phases", []):
        target = TARGET_SINGLE if phase["batch_size"] == 1 else TARGET_BATCH
        ratio = f"{phase['rate'] / worker:.2f}x" if worker else ""
        flag = ""
        if worker and phase["rate"] / worker < target:
            flag = f"  !!! under {target:g}x"
        cpu, cores = phase["cpu_us_per_event"], phase["cores"]
        used = " / ".join(f"{cpu[k]:.0f} ({cores[k]:.2f})" for k in ("client", "gateway", "broker"))
        print(
            f"{phase['label']:<36} {phase['rate']:>9,.0f} {phase['p50_ms']:>7.1f} "
            f"{phase['p99_ms']:>7.1f} {ratio:>8}  {used}{flag}"
        )


def _counts(text: str) -> list[int]:
    counts = [int(x) for x in text.split(",") if x.strip()]
    if not counts or min(counts) < 0:
        raise SystemExit(f"--gateway-processes: counts, e.g. 1,0 (0: the default), not {text!r}")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="lineage-processor ingest gateway benchmark")
    parser.add_argument("--events", type=int, default=50_000, help="messages (default 50000)")
    parser.add_argument("--partitions", type=int, default=4, help="topic partitions (default 4)")
    parser.add_argument(
        "--concurrency", type=int, default=256, help="single-event connections (256)"
    )
    parser.add_argument("--batch-size", type=int, default=500, help="events per batch request")
    parser.add_argument(
        "--batch-connections", type=int, default=16, help="batch-route connections (default 16)"
    )
    parser.add_argument(
        "--gateway-processes",
        default="1,0",
        help="gateway process counts to measure, comma-separated (0: the gateway's "
        "default, one per core; default 1,0)",
    )
    parser.add_argument("--clients", type=int, default=2, help="client processes (default 2)")
    parser.add_argument(
        "--client",
        choices=http_load.CLIENTS,
        default="auto",
        help="load generator: the C one when cc builds it (auto), c, or python",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the message mix")
    parser.add_argument("--skip", default="", help="comma-separated phases to skip: w,s,b")
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    counts = _counts(args.gateway_processes)

    def _terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    workdir = Path(tempfile.mkdtemp(prefix="lineage-ingest-bench-"))
    services: list[Any] = []
    LOGS.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"events": args.events, "partitions": args.partitions, "phases": []}
    try:
        from processor.adapters.kafka_admin import create_topics
        from processor.devstack.services import start_broker, start_redis
        from processor.samples import realistic_mix

        broker = start_broker(workdir, backend="local")
        services.append(broker)
        redis_svc = start_redis(workdir, backend="local")
        services.append(redis_svc)
        bootstrap = broker.address
        plan = [(phase, count) for phase in ("s", "b") if phase not in skip for count in counts]
        topics = ["ingest.worker", "ingest.worker.dlq", "ingest.worker.control"]
        topics += [f"ingest.{phase}.{count}" for phase, count in plan]
        asyncio.run(create_topics(bootstrap, topics, args.partitions))
        print(f"generating {args.events:,} messages (realistic_mix, seed {args.seed})...")
        messages = realistic_mix(args.events, seed=args.seed)
        values = [v for _, v in messages if v]
        if "w" not in skip:
            print("w: the worker's live rate on the mix...", flush=True)
            asyncio.run(pipeline.fill(bootstrap, "ingest.worker", messages))
            redis0 = _tree_cpu(redis_svc.pid)
            live = pipeline.measure_pipeline(
                bootstrap, redis_svc.address, "ingest.worker", args.events, 0
            )
            redis_cpu = _tree_cpu(redis_svc.pid) - redis0
            result["worker"] = {
                "rate": live["rate"],
                "events": live["events"],
                # CPU per event of the worker process, its classifier helpers and
                # Redis (over the whole run, the group join included).
                "cpu_us_per_event": {
                    "worker": live["worker_us_per_event"],
                    "helpers": live["classify_us_per_event"],
                    "redis": 1e6 * redis_cpu / max(1, live["events"]),
                },
            }
        for phase, count in plan:
            single = phase == "s"
            batch = 1 if single else args.batch_size
            connections = args.concurrency if single else args.batch_connections
            shown = "default" if count == 0 else str(count)
            print(
                f"{phase}: {'single events' if single else f'batches of {batch}'}, "
                f"{connections} connections from {args.clients} client threads or processes, "
                f"gateway processes: {shown}...",
                flush=True,
            )
            topic = f"ingest.{phase}.{count}"
            measured = measure_gateway(
                bootstrap,
                broker.pid,
                topic,
                values,
                batch=batch,
                concurrency=connections,
                processes=count,
                clients=args.clients,
                client=args.client,
            )
            print(f"   client: {measured['client']}", flush=True)
            on_topic = asyncio.run(_records_on(bootstrap, topic))
            if on_topic != measured["published"]:
                raise BenchError(
                    f"{topic}: {on_topic:,} records on the topic, "
                    f"{measured['published']:,.0f} acknowledged"
                )
            route = "/api/v1/lineage" if single else "/api/v1/lineage/batch"
            measured["label"] = f"{phase}  {route} x{measured['gateway_processes']}"
            result["phases"].append(measured)
        report(result)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "ingest.json").write_text(json.dumps(result, indent=2) + "\n")
        return 0
    except (BenchError, pipeline.BenchError) as exc:
        print(f"ingest bench failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        for proc in list(CHILDREN):
            stop(proc)
        for service in reversed(services):
            service.stop()


async def _records_on(bootstrap: str, topic: str) -> int:
    """Records on a topic the bench wrote only through the gateway (its end offsets)."""
    from processor.adapters.log_reader import end_offsets

    return sum((await end_offsets(bootstrap, topic)).values())


if __name__ == "__main__":
    sys.exit(main())
