"""The live-worker half of ``bench/column_bench.py``: the column mix on and off
through the real broker and ``python -m processor worker``, in the same run.

It reuses the throughput benchmark's harness (``bench/bench.py``: ``fill`` and
``measure_pipeline``, which starts the worker as a subprocess, times it through
its ``/metrics`` from the first event consumed to the last, and takes its CPU
and its classifier helpers' from /proc). Each mix gets its own input topic; the
runs alternate off, on. ``measure_pipeline`` flushes Redis before each run.
"""

from __future__ import annotations

import asyncio
import importlib.util
import statistics
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent


def _throughput() -> ModuleType:
    """``bench/bench.py`` as a module (it imports ``procs`` from its directory)."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    spec = importlib.util.spec_from_file_location("throughput_bench", HERE / "bench.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _redis_cpu(url: str) -> float:
    """Redis's CPU seconds so far (INFO cpu), to charge the Lua fold to the run."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        info = client.info("cpu")
    finally:
        client.close()
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def _cost(on: float | None, off: float | None) -> float | None:
    return 1 - on / off if on and off else None


def measure_live(
    workdir: Path, redis_url: str, mixes: dict[str, list[bytes]], runs: int, partitions: int = 4
) -> dict[str, Any]:
    """Rate and CPU per event (worker, its classifier helpers and Redis) of the
    live worker on each mix (``{"off": [...], "on": [...]}``)."""
    tb = _throughput()
    import redis

    from processor.adapters.kafka_admin import create_topics
    from processor.devstack.services import start_broker

    # measure_pipeline flushes Redis with a short timeout: the fold runs'
    # prefixes before it can take longer
    client = redis.Redis.from_url(redis_url, socket_timeout=600)
    try:
        client.flushall()
    finally:
        client.close()
    broker = start_broker(workdir / "broker")
    try:
        bootstrap = broker.address
        topics = {}
        for name, values in mixes.items():
            topic = f"columns.{name}"
            topics[name] = topic
            asyncio.run(
                create_topics(bootstrap, [topic, f"{topic}.dlq", f"{topic}.control"], partitions)
            )
            keyed = [(b"%d" % (i % 997), v) for i, v in enumerate(values)]
            asyncio.run(tb.fill(bootstrap, topic, keyed))
        out: dict[str, list[dict[str, Any]]] = {name: [] for name in mixes}
        for r in range(runs):
            for name, values in mixes.items():
                before = _redis_cpu(redis_url)
                res = tb.measure_pipeline(bootstrap, redis_url, topics[name], len(values), r)
                res["redis_us_per_event"] = (_redis_cpu(redis_url) - before) / len(values) * 1e6
                cpu = (
                    (res.get("worker_us_per_event") or 0)
                    + (res.get("classify_us_per_event") or 0)
                    + res["redis_us_per_event"]
                )
                out[name].append({"rate": res["rate"], "cpu_us_per_event": cpu, "raw": res})
                print(
                    f"  live run {r} {name:4s} {res['rate'] or 0:8.0f} events/s, "
                    f"{cpu:6.0f} us CPU an event (worker "
                    f"{res.get('worker_us_per_event') or 0:.0f} + helpers "
                    f"{res.get('classify_us_per_event') or 0:.0f} + Redis "
                    f"{res['redis_us_per_event']:.0f})",
                    flush=True,
                )
    finally:
        broker.stop()
    rate = {k: statistics.median(x["rate"] or 0 for x in v) for k, v in out.items()}
    cpu = {k: statistics.median(x["cpu_us_per_event"] for x in v) for k, v in out.items()}
    return {
        "runs": {
            k: [
                {
                    "rate": x["rate"],
                    "cpu": x["cpu_us_per_event"],
                    "worker_us": x["raw"].get("worker_us_per_event"),
                    "helpers_us": x["raw"].get("classify_us_per_event"),
                    "redis_us": x["raw"].get("redis_us_per_event"),
                }
                for x in v
            ]
            for k, v in out.items()
        },
        "median_rate": rate,
        "median_cpu_us_per_event": cpu,
        "cost": _cost(rate.get("on"), rate.get("off")),
        # CPU per event is less noisy than rates on a shared machine
        "cpu_cost": 1 - cpu["off"] / cpu["on"] if cpu.get("on") and cpu.get("off") else None,
    }
