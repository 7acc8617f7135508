"""The bench's broker alone: does its CPU grow with the log at a steady rate?

``make bench-load`` shows the produce-to-graph windows rising over a minute at
2,000 events/s while the broker's CPU climbs to a core (docs/benchmarks.md,
"Load"). This probe takes the processor out: it starts its own broker
(``processor.devstack.services.start_broker``, Tansu locally), sends ``--size``
byte values at ``--rate`` a second in sends of ten to a 4-partition topic
(linger 5 ms) and, unless ``--produce-only``, reads them back with a plain
aiokafka consumer calling ``getmany`` (fetch wait ``--fetch-wait-ms``,
``--fetch-min-bytes``). Every 5 s it prints the broker's CPU from /proc, in
cores. A flat line with ``--produce-only`` and a rising one with the consumer
put the growth in the broker's fetches. ``--topic-config retention.ms=10000``
(repeatable) creates the topic with those configs first, to see whether the
broker drops old batches.

    python bench/broker_fetch_probe.py [--seconds 60] [--produce-only]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from processor.devstack.services import start_broker

TOPIC = "probe"
WINDOW_S = 5
TICKS_A_SECOND = 200
TICK_S = 1 / TICKS_A_SECOND
PARTITIONS = 4


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def create_topic(bootstrap: str, configs: dict[str, str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1, topic_configs=configs)])
    finally:
        await admin.close()


async def probe(bootstrap: str, pid: int, args: argparse.Namespace) -> None:
    if args.topic_config:
        await create_topic(bootstrap, dict(kv.split("=", 1) for kv in args.topic_config))
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, linger_ms=5
    )
    await producer.start()
    reading = not args.produce_only
    stop = asyncio.Event()

    async def consume() -> None:
        consumer = AIOKafkaConsumer(
            TOPIC,
            bootstrap_servers=bootstrap,
            fetch_max_wait_ms=args.fetch_wait_ms,
            fetch_min_bytes=args.fetch_min_bytes,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            while not stop.is_set():
                await consumer.getmany(timeout_ms=100)
        finally:
            await consumer.stop()

    reader = asyncio.create_task(consume()) if reading else None
    value = b"x" * args.size
    per_tick = max(1, round(args.rate / TICKS_A_SECOND))
    sent, last_cpu, last_at = 0, cpu_seconds(pid), time.perf_counter()
    try:
        for second in range(int(args.seconds)):
            for _ in range(TICKS_A_SECOND):
                for _ in range(per_tick):
                    await producer.send(TOPIC, value, key=b"%d" % sent)
                    sent += 1
                await asyncio.sleep(TICK_S)
            if (second + 1) % WINDOW_S == 0:
                now_cpu, now = cpu_seconds(pid), time.perf_counter()
                cores = (now_cpu - last_cpu) / (now - last_at)
                print(f"  {second + 1:4d} s  {sent:9,} sent  broker {cores:.2f} core", flush=True)
                last_cpu, last_at = now_cpu, now
    finally:
        stop.set()
        if reader is not None:
            await reader
        await producer.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=2000.0, help="values a second")
    parser.add_argument("--size", type=int, default=1800, help="bytes a value")
    parser.add_argument("--produce-only", action="store_true")
    parser.add_argument("--fetch-wait-ms", type=int, default=100)
    parser.add_argument("--fetch-min-bytes", type=int, default=1)
    parser.add_argument(
        "--topic-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="create the topic with this config first (repeatable)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fetch-probe-") as workdir:
        broker = start_broker(Path(workdir), backend="local")
        try:
            if broker.pid is None:
                raise SystemExit("the probe reads the broker's CPU from /proc: local backend only")
            mode = "produce only" if args.produce_only else "produce and getmany"
            configs = ", ".join(args.topic_config) or "auto-created topic"
            print(f"broker fetch probe: {args.rate:,.0f}/s of {args.size} B, {mode}; {configs}")
            asyncio.run(probe(broker.address, broker.pid, args))
        finally:
            broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
