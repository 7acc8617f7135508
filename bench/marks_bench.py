"""Bytes per edge as events accumulate on the same edges (``make bench-queries``).

An hourly job reading a wide table adds one event to each of its edges every
run. This folds ``EDGES`` edges (one job reading ``EDGES`` inputs into one
output) again and again through the real fold (``RedisGraphStore.mark_and_fold``),
each run a new event on every edge, and after 1, 10, 100 and 1,000 events an
edge reports what the graph holds per edge: ``MEMORY USAGE`` of the edge's
keys (the ``out:`` / ``in:`` adjacency hashes, its ``em:`` event marks, the
job's ``j:`` index) divided by the edges, and the ``em:`` part alone per event.
The dedup marks (``seen:``) are another measurement (bytes per event in the
dedup window) and are left out.

Run alone: ``python bench/marks_bench.py --redis-url redis://...`` (it uses a
fresh prefix and deletes its keys at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from processor.adapters.redis_store import RedisGraphStore  # noqa: E402
from processor.core.fold_payload import encode_batch  # noqa: E402
from processor.core.identity import job_key_id, node_id  # noqa: E402
from processor.core.pipeline import FoldEvent, NodeUpdate  # noqa: E402

EDGES = 200
CHECKPOINTS = (1, 10, 100, 1000)
NS = "snowflake://acme-prod.eu-west-1"
_JOB = ("airflow://acme-prod", "marts.wide_table.hourly")
_JOB_KEY = job_key_id(*_JOB)


def _event(run: int, inputs: list[tuple[str, str]], output: tuple[str, str]) -> FoldEvent:
    when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1_714_521_600 + run * 3600))
    digest = hashlib.sha256(f"marks:{run}".encode()).hexdigest()
    out_id = node_id(*output)
    return FoldEvent(
        content_hash=digest,
        event_time=f"{when}.000000Z",
        run_id=f"{run:08x}-0000-4000-8000-000000000000",
        job=_JOB,
        nodes=tuple(NodeUpdate(node_id(*n), *n, True, None) for n in (*inputs, output)),
        edges=tuple((node_id(*n), out_id) for n in inputs),
    )


async def _edge_bytes(store: RedisGraphStore, inputs: list[str], output: str) -> tuple[int, int]:
    """(bytes of every key the edges use, bytes of their em: sets)."""
    keys = store.keys
    client = store.client
    total = marks = 0
    names = [keys.outgoing(s) for s in inputs] + [keys.incoming(output), keys.job(_JOB_KEY)]
    for name in names:
        total += int(await client.memory_usage(name, samples=0) or 0)
    for s in inputs:
        used = int(await client.memory_usage(keys.marks(s + output), samples=0) or 0)
        marks += used
    return total + marks, marks


async def measure(url: str, prefix: str = "mbench") -> dict[str, Any]:
    store = RedisGraphStore.from_url(url, prefix=prefix, timeout=60.0)
    inputs = [(NS, f"RAW.WIDE.SRC_{i:04d}") for i in range(EDGES)]
    output = (NS, "MART.WIDE.HOURLY")
    in_ids, out_id = [node_id(*n) for n in inputs], node_id(*output)
    rows: list[dict[str, Any]] = []
    try:
        await store.load_generation()
        run = 0
        for target in CHECKPOINTS:
            while run < target:
                run += 1
                ev = _event(run, inputs, output)
                await store.mark_and_fold(encode_batch([(ev.content_hash, "a")], [ev]), f"m{run}")
            total, marks = await _edge_bytes(store, in_ids, out_id)
            _, records = await store.read_graph()
            assert all(e.events == target for e in records), "the event count drifted"
            rows.append(
                {
                    "events_per_edge": target,
                    "bytes_per_edge": total / EDGES,
                    "marks_bytes_per_edge": marks / EDGES,
                    "marks_bytes_per_event": marks / EDGES / target,
                }
            )
        return {"edges": EDGES, "rows": rows}
    finally:
        async for key in store.client.scan_iter(match=f"*{prefix}*", count=10_000):
            await store.client.delete(key)
        await store.close()


def report(result: dict[str, Any]) -> None:
    print(f"\nbytes per edge as events accumulate ({result['edges']} edges, one job)")
    print(f"  {'events/edge':>11} {'B/edge':>9} {'em: B/edge':>11} {'em: B/event':>12}")
    for r in result["rows"]:
        print(
            f"  {r['events_per_edge']:>11,} {r['bytes_per_edge']:>9,.0f} "
            f"{r['marks_bytes_per_edge']:>11,.0f} {r['marks_bytes_per_event']:>12.1f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="bytes per edge as events accumulate")
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--prefix", default="mbench")
    args = parser.parse_args(argv)
    report(asyncio.run(measure(args.redis_url, args.prefix)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
