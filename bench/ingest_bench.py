"""Ingest gateway benchmark: events/s through the HTTP gateway against the worker's live
rate, measured in one run on the same message mix.

``make bench-ingest`` runs this file. It starts its own Tansu broker and Redis, makes
``processor.samples.realistic_mix(N)`` (N = 50,000 by default), then measures:

(w) the worker's live rate on that mix: the topic is filled and ``python -m processor
    worker`` consumes it, timed through its ``/metrics`` (``bench.measure_pipeline``, the
    pipeline phase of ``make bench-pipeline``);
(s) single events: ``python -m processor ingest`` as a subprocess, and C concurrent
    keep-alive clients (C = 64) each POSTing one event per request to ``/api/v1/lineage``
    until the mix is sent;
(b) batches: the same mix in batches of B events (B = 500) to ``/api/v1/lineage/batch``
    from 4 concurrent clients.

A phase's rate is events answered / time from the first request to the last answer;
latency is per request (p50, p99). Events that fail steps 1-3 (the mix's invalid_json and
invalid_event share) are answered 400 and count as answered, not published (a batch
cannot hold bytes that are not JSON: phase b sends the rest of the mix); every other
answer must be a 2xx (else the phase fails), and the gateway's published counter is
checked against them. Targets: single events at least the worker's rate (the gateway is
never the bottleneck), batches at least 3x it. The clients are light (hand-made HTTP/1.1
on asyncio streams) but share the machine with the gateway and the broker, as
producers on the same host would. Results: a table on stdout and
``bench/results/ingest.json``; subprocess logs in ``bench/results/logs/``.

Flags: ``--events N``, ``--partitions P`` (4), ``--concurrency C``, ``--batch-size B``,
``--seed``, ``--skip w,s,b``. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter, deque
from pathlib import Path
from typing import Any

from procs import CHILDREN, RssSampler, free_port, http_get, spawn, stop, tail

import bench as pipeline

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LOGS = RESULTS / "logs"
sys.path.insert(0, str(ROOT))

TARGET_SINGLE = 1.0  # x the worker's live rate
TARGET_BATCH = 3.0
_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


class BenchError(Exception):
    """A measurement could not be made; the message says why."""


def _gateway(bootstrap: str, topic: str, name: str) -> tuple[Any, int, Path]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    env.update(
        LINEAGE_KAFKA_BOOTSTRAP=bootstrap,
        LINEAGE_INPUT_TOPICS=topic,
        LINEAGE_INGEST_PORT=str(port),
        LINEAGE_INGEST_HOST="127.0.0.1",
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


async def _client(
    port: int, path: str, bodies: deque[tuple[int, bytes]], out: dict[str, Any]
) -> None:
    """One keep-alive connection sending ``bodies`` until none is left."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\nContent-Length: "
    ).encode()
    try:
        while bodies:
            count, body = bodies.popleft()
            started = time.perf_counter()
            writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
            header = await reader.readuntil(b"\r\n\r\n")
            match = _LENGTH.search(header)
            answer = await reader.readexactly(int(match.group(1))) if match else b""
            out["latencies"].append(time.perf_counter() - started)
            status = int(header[9:12])
            out["statuses"][status] += 1
            out["events"] += count
            if path.endswith("/batch") and status == 200:
                out["refused"] += json.loads(answer)["summary"]["failed"]
            elif 400 <= status < 500:
                out["refused"] += count
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def measure_gateway(
    bootstrap: str,
    topic: str,
    values: list[bytes],
    *,
    batch: int,
    concurrency: int,
) -> dict[str, Any]:
    """Send ``values`` one per request (``batch`` 1) or in batches; rate and latency."""
    name = "single" if batch == 1 else "batch"
    proc, port, log = _gateway(bootstrap, topic, name)
    path = "/api/v1/lineage" if batch == 1 else "/api/v1/lineage/batch"
    if batch == 1:
        bodies = deque((1, v) for v in values)
    else:
        # Bytes that are not JSON cannot be an element of a JSON array: the mix's
        # invalid_json share goes to the single-event phase only.
        values = [v for v in values if _is_json(v)]
        chunks = [values[i : i + batch] for i in range(0, len(values), batch)]
        bodies = deque((len(c), b"[" + b",".join(c) + b"]") for c in chunks)
    out: dict[str, Any] = {"latencies": [], "statuses": Counter(), "events": 0, "refused": 0}
    cpu = RssSampler(proc.pid)
    try:
        cpu0 = cpu.cpu_seconds()
        started = time.perf_counter()

        async def run() -> None:
            await asyncio.gather(*(_client(port, path, bodies, out) for _ in range(concurrency)))

        asyncio.run(run())
        elapsed = time.perf_counter() - started
        cpu1 = cpu.cpu_seconds()
        _, body = http_get(f"http://127.0.0.1:{port}/metrics")
        published = pipeline.metric_sum(
            pipeline.parse_metrics(body.decode()), "lineage_ingest_events_published_total"
        )
    finally:
        stop(proc)
    statuses = dict(out["statuses"])
    bad = {s: n for s, n in statuses.items() if s >= 500 or (batch > 1 and s != 200)}
    if bad:
        raise BenchError(f"{name}: answers {statuses}: {tail(log)}")
    if published != out["events"] - out["refused"]:
        raise BenchError(
            f"{name}: {published:,.0f} published, expected {out['events'] - out['refused']:,}"
        )
    latencies = sorted(out["latencies"])
    return {
        "rate": out["events"] / elapsed,
        "events": out["events"],
        "requests": len(latencies),
        "published": published,
        "refused": out["refused"],
        "statuses": statuses,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "gateway_cpu_util": (cpu1 - cpu0) / elapsed if cpu0 is not None and cpu1 else None,
        "concurrency": concurrency,
        "batch_size": batch,
    }


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
    print(f"{'phase':<34} {'events/s':>10} {'p50 ms':>8} {'p99 ms':>8}  note")
    if worker:
        print(f"{'w  worker, live (same mix)':<34} {worker:>10,.0f}")
    for key, label, target in (
        ("single", "s  POST /api/v1/lineage", TARGET_SINGLE),
        ("batch", "b  POST /api/v1/lineage/batch", TARGET_BATCH),
    ):
        phase = result.get(key)
        if not phase:
            continue
        note = f"{phase['requests']:,} requests, gateway CPU {phase['gateway_cpu_util'] or 0:.0%}"
        if worker:
            ratio = phase["rate"] / worker
            flag = "ok" if ratio >= target else f"!!! below the target of {target:g}x"
            note += f", {ratio:.2f}x the worker ({flag})"
        print(
            f"{label:<34} {phase['rate']:>10,.0f} {phase['p50_ms']:>8.1f} "
            f"{phase['p99_ms']:>8.1f}  {note}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="lineage-processor ingest gateway benchmark")
    parser.add_argument("--events", type=int, default=50_000, help="messages (default 50000)")
    parser.add_argument("--partitions", type=int, default=4, help="topic partitions (default 4)")
    parser.add_argument("--concurrency", type=int, default=64, help="single-event clients")
    parser.add_argument("--batch-size", type=int, default=500, help="events per batch request")
    parser.add_argument("--seed", type=int, default=0, help="seed of the message mix")
    parser.add_argument("--skip", default="", help="comma-separated phases to skip: w,s,b")
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}

    def _terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    workdir = Path(tempfile.mkdtemp(prefix="lineage-ingest-bench-"))
    services: list[Any] = []
    LOGS.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"events": args.events, "partitions": args.partitions}
    try:
        from processor.adapters.kafka_admin import create_topics
        from processor.devstack.services import start_broker, start_redis
        from processor.samples import realistic_mix

        broker = start_broker(workdir, backend="local")
        services.append(broker)
        redis_svc = start_redis(workdir, backend="local")
        services.append(redis_svc)
        bootstrap = broker.address
        topics = ["ingest.worker", "ingest.worker.dlq", "ingest.worker.control"]
        topics += ["ingest.single", "ingest.batch"]
        asyncio.run(create_topics(bootstrap, topics, args.partitions))
        print(f"generating {args.events:,} messages (realistic_mix, seed {args.seed})...")
        messages = realistic_mix(args.events, seed=args.seed)
        values = [v for _, v in messages if v]
        if "w" not in skip:
            print("w: the worker's live rate on the mix...", flush=True)
            asyncio.run(pipeline.fill(bootstrap, "ingest.worker", messages))
            live = pipeline.measure_pipeline(
                bootstrap, redis_svc.address, "ingest.worker", args.events, 0
            )
            result["worker"] = {"rate": live["rate"], "events": live["events"]}
        if "s" not in skip:
            print(f"s: single events, {args.concurrency} clients...", flush=True)
            result["single"] = measure_gateway(
                bootstrap, "ingest.single", values, batch=1, concurrency=args.concurrency
            )
        if "b" not in skip:
            print(f"b: batches of {args.batch_size}, 4 clients...", flush=True)
            result["batch"] = measure_gateway(
                bootstrap, "ingest.batch", values, batch=args.batch_size, concurrency=4
            )
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


if __name__ == "__main__":
    sys.exit(main())
