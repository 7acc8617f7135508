"""Dedup window benchmark: bytes per event, and the fold's cost, against the former layout.

``make bench-queries`` runs this file after ``bench/query_bench.py``. It starts its own Redis
(``processor.devstack.services.start_redis`` in a temporary directory; ``--redis-url`` uses an
existing one instead), then measures, in one run, the dedup window (``lua/dedup_window.lua``,
docs/redis.md) next to the layout it replaced (a ``seen:<hash>`` string per event, SET NX EX:
``bench/dedup_legacy_fold.lua``):

1. **Memory.** For each rate (10,000, 1,000,000 and 20,000,000 events a day) ``--events N``
   (200,000) distinct events are marked through the fold script (marks only, no lineage: the
   memory measured is the window's), in the batches a worker gathers in half a second at that
   rate (1, 6 and 116 events), the clock passed to the script advancing as at that rate. The
   flags a call keeps for its retries (``dt:``) are deleted an hour of that clock after the
   call, as Redis expires them (the bench's clock runs faster than Redis's). Reported: Redis
   ``used_memory`` after minus before, per event, for both layouts, and the window's set
   count and encodings. An event is held between the TTL and the TTL plus one bucket width
   (a seventh of the TTL), so the window holds on average 1 + 1/14 TTLs of events.
2. **Fold cost.** ``processor.samples.realistic_mix(M)`` (``--fold-events``, 20,000) is
   classified and encoded as the worker does (``core.batch_plan.classify_batch``, batches of
   500) and folded into a fresh prefix by each script, alternating, ``--repeat`` times (3).
   Reported per script: Redis CPU per event (INFO ``used_cpu_user + used_cpu_sys``, the less
   noisy figure on a shared machine), Redis commands per event (INFO commandstats) and the
   wall-clock fold rate (medians), and the ratios window / former.

Results: a table on stdout and ``bench/results/dedup-latest.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from processor.adapters.redis_keys import Keyspace
from processor.adapters.redis_scripts import FOLD_PARTS, fold_source, source
from processor.core.batch_plan import classify_batch
from processor.core.dedup_window import BUCKETS_PER_TTL
from processor.core.fold_payload import encode_batch
from processor.core.pipeline import Limits
from processor.core.rules import MixRule
from processor.samples import realistic_mix

HERE = Path(__file__).parent
DAY = 86400
TTL = 7 * DAY
RATES = (10_000, 1_000_000, 20_000_000)
TICKET_SECONDS = 3600  # how long lua/fold.lua keeps a call's flags
PIPELINE = 500
BUCKETS = BUCKETS_PER_TTL  # --buckets


def legacy_source() -> str:
    """The former fold: its marks part, then the current graph and column parts."""
    parts = [(HERE / "dedup_legacy_fold.lua").read_text()]
    parts += [source(p) for p in FOLD_PARTS if p not in ("dedup_window.lua", "fold.lua")]
    return "\n".join(parts) + "\nreturn flags\n"


def batch_size(per_day: int) -> int:
    """What a worker gathers in half a second at this rate (at least one event)."""
    return max(1, min(500, round(per_day / DAY / 2)))


async def used_memory(client: aioredis.Redis) -> int:
    return int((await client.info("memory"))["used_memory"])


async def memory_run(
    client: aioredis.Redis, script: Any, prefix: str, per_day: int, n: int
) -> dict[str, Any]:
    """Mark ``n`` distinct events at ``per_day`` through ``script``; bytes per event."""
    size = batch_size(per_day)
    step = DAY / per_day
    keys = Keyspace(prefix)
    tickets: deque[tuple[float, str]] = deque()
    before = await used_memory(client)
    now = 1_900_000_000.0 - 1_900_000_000 % DAY  # a bucket's start
    calls = 0
    started = time.perf_counter()
    async with client.pipeline(transaction=False) as pipe:
        for i in range(0, n, size):
            hashes = [
                hashlib.sha256(f"{prefix} {j}".encode()).hexdigest()
                for j in range(i, min(i + size, n))
            ]
            token = f"bench.{i}"
            args = [
                prefix,
                "",
                TTL,
                token,
                encode_batch([(h, "a") for h in hashes], []),
                "1",
                "{}",
                now,
                BUCKETS,
            ]
            await script(keys=[keys.pointer], args=args, client=pipe)
            tickets.append((now, keys.dedup_ticket(token, hashes[0])))
            while tickets and tickets[0][0] <= now - TICKET_SECONDS:
                pipe.delete(tickets.popleft()[1])
            calls += 1
            now += step * len(hashes)
            if calls % PIPELINE == 0:
                await pipe.execute()
        await pipe.execute()
    elapsed = time.perf_counter() - started
    after = await used_memory(client)
    # The flags keys still there are the last hour's (of the bench's clock):
    # what they cost is counted apart, scaled to the hour of a whole window.
    held = len(tickets)
    if tickets:
        await client.delete(*(k for _, k in tickets))
    window = await used_memory(client)
    sets, encodings = 0, set()
    async for key in client.scan_iter(match=keys.base + "dd:*", count=1000):
        sets += 1
        if sets <= 200:
            encodings.add((await client.object("encoding", key)).decode())
    hour_events = min(n, per_day / 24)
    flags_per_event = (
        (after - window)
        / max(held * size, 1)
        * hour_events
        / (per_day * (TTL + TTL / BUCKETS / 2) / DAY)
    )
    return {
        "per_day": per_day,
        "events": n,
        "batch": size,
        "days": round(n * step / DAY, 2),
        "bytes": after - before,
        "sets_bytes_per_event": (window - before) / n,
        "flags_bytes_per_event": flags_per_event,
        "bytes_per_event": (window - before) / n + flags_per_event,
        "window_sets": sets,
        "set_encodings": sorted(encodings),
        "seconds": round(elapsed, 1),
    }


async def cpu_and_calls(client: aioredis.Redis) -> tuple[float, int]:
    cpu = await client.info("cpu")
    stats = await client.info("commandstats")
    calls = sum(int(v["calls"]) for k, v in stats.items() if k.startswith("cmdstat_"))
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]), calls


async def fold_run(
    client: aioredis.Redis, script: Any, prefix: str, payloads: list[bytes], events: int
) -> dict[str, float]:
    """Fold the payloads, one call at a time as the worker does; Redis CPU and rate."""
    keys = Keyspace(prefix)
    now = time.time()
    # A window in its steady state: every bucket a lookup checks is open.
    for day in range(BUCKETS, 0, -1):
        warm = encode_batch([(hashlib.sha256(f"warm {day}".encode()).hexdigest(), "a")], [])
        await script(
            keys=[keys.pointer],
            args=[
                prefix,
                "",
                TTL,
                f"w.{day}",
                warm,
                "1",
                "{}",
                now - day * TTL / BUCKETS,
                BUCKETS,
            ],
        )
    cpu0, calls0 = await cpu_and_calls(client)
    started = time.perf_counter()
    for k, payload in enumerate(payloads):
        await script(
            keys=[keys.pointer],
            args=[prefix, "", TTL, f"f.{k}", payload, "1", "{}", now, BUCKETS],
        )
    elapsed = time.perf_counter() - started
    cpu1, calls1 = await cpu_and_calls(client)
    return {
        "cpu_us_per_event": (cpu1 - cpu0) / events * 1e6,
        "commands_per_event": (calls1 - calls0 - 2) / events,  # minus the two INFO calls
        "events_per_second": events / elapsed,
    }


def classified_payloads(m: int, batch: int = 500) -> tuple[list[bytes], int]:
    values = [v for _, v in realistic_mix(m, seed=7)]
    rule, limits = MixRule("mixed", ["snowflake://*"]), Limits()
    payloads: list[bytes] = []
    for i in range(0, len(values), batch):
        payloads += classify_batch(values[i : i + batch], rule, limits)[1]
    return payloads, len(values)


async def bench(url: str, args: argparse.Namespace) -> dict[str, Any]:
    client = aioredis.Redis.from_url(url)
    try:
        window = client.register_script(fold_source())
        legacy = client.register_script(legacy_source())
        # Loaded before the first measure: the script cache is no event's.
        await client.script_load(window.script)
        await client.script_load(legacy.script)
        memory = []
        for per_day in RATES:
            row = {"rate": per_day}
            for name, script in (("window", window), ("former", legacy)):
                prefix = f"dbench-{name}-{per_day}"
                row[name] = await memory_run(client, script, prefix, per_day, args.events)
                await client.flushdb()
            memory.append(row)
            w, f = row["window"], row["former"]
            held, former = w["bytes_per_event"], f["bytes_per_event"]
            w["bytes_per_ttl_event"] = held * (1 + 1 / (2 * BUCKETS))
            print(
                f"{per_day:>11,} events/day, batches of {w['batch']:>3}, {w['days']:>6} days: "
                f"window {held:5.1f} B/event held (sets {w['sets_bytes_per_event']:.1f}, "
                f"flags {w['flags_bytes_per_event']:.2f}; {w['window_sets']:,} sets, "
                f"{'/'.join(w['set_encodings'])}), {w['bytes_per_ttl_event']:5.1f} B per event "
                f"of a TTL; former {former:5.1f} B/event; ratio {held / former:.3f}",
                flush=True,
            )
        payloads, events = classified_payloads(args.fold_events)
        runs: dict[str, list[dict[str, float]]] = {"window": [], "former": []}
        for r in range(args.repeat):
            order = [("window", window), ("former", legacy)]
            for name, script in order if r % 2 else order[::-1]:  # alternating who goes first
                runs[name].append(
                    await fold_run(client, script, f"fbench-{name}-{r}", payloads, events)
                )
                await client.flushdb()
        fold = {
            name: {k: statistics.median(x[k] for x in rs) for k in rs[0]}
            for name, rs in runs.items()
        }
        w, f = fold["window"], fold["former"]
        for name, v in fold.items():
            print(
                f"fold {name:>6}: {v['cpu_us_per_event']:6.1f} us Redis CPU/event, "
                f"{v['commands_per_event']:5.1f} commands/event, "
                f"{v['events_per_second']:8,.0f} events/s"
            )
        ratios = {
            "cpu_per_event": w["cpu_us_per_event"] / f["cpu_us_per_event"],
            "events_per_second": w["events_per_second"] / f["events_per_second"],
        }
        print(
            f"fold window / former ({events:,} events, median of {args.repeat}): "
            f"Redis CPU per event x{ratios['cpu_per_event']:.2f}, "
            f"rate x{ratios['events_per_second']:.2f}"
        )
        return {"memory": memory, "fold": fold, "fold_ratios": ratios, "fold_events": events}
    finally:
        await client.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=200_000, help="events per rate (200000)")
    parser.add_argument(
        "--fold-events", type=int, default=20_000, help="realistic mix folded (20000)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="fold runs per script (3)")
    parser.add_argument("--redis-url", help="a running Redis (its database is flushed)")
    parser.add_argument(
        "--buckets", type=int, default=BUCKETS_PER_TTL, help="buckets per TTL (the default's)"
    )
    args = parser.parse_args(argv)
    global BUCKETS
    BUCKETS = args.buckets
    workdir = Path(tempfile.mkdtemp(prefix="lineage-dbench-"))
    service = None
    try:
        url = args.redis_url
        if url is None:
            from processor.devstack.services import start_redis

            service = start_redis(workdir)
            url = service.address
        results = asyncio.run(bench(url, args))
        out = HERE / "results" / "dedup-latest.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"args": vars(args), **results}, indent=2) + "\n")
    finally:
        if service is not None:
            service.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
