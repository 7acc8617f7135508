"""The gateway's tally writes the same values as direct increments and observations."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, Counter, Histogram

from processor.ingest.tally import Tally


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_counts_and_buckets_are_written_on_flush() -> None:
    registry = CollectorRegistry()
    requests = Counter("req", "h", ["route"], registry=registry)
    seconds = Histogram("lat", "h", ["route"], buckets=(0.01, 0.1, 1), registry=registry)
    tally = Tally()

    async def run() -> None:
        for _ in range(3):
            tally.inc(requests.labels("a"))
        tally.inc(requests.labels("b"), 5)
        # A bound itself goes in its own bucket (le is <=), as Histogram.observe does.
        for value in (0.005, 0.01, 0.05, 0.1, 0.5, 2.0):
            tally.observe(seconds.labels("a"), value)
        assert _value(registry, "req_total", route="a") == 0  # not in this turn
        await asyncio.sleep(0)  # the loop's next turn

    asyncio.run(run())
    assert _value(registry, "req_total", route="a") == 3
    assert _value(registry, "req_total", route="b") == 5
    # Cumulative buckets by hand: <=0.01: 0.005, 0.01; <=0.1: +0.05, 0.1; <=1: +0.5; +Inf: +2.0.
    assert _value(registry, "lat_bucket", route="a", le="0.01") == 2
    assert _value(registry, "lat_bucket", route="a", le="0.1") == 4
    assert _value(registry, "lat_bucket", route="a", le="1.0") == 5
    assert _value(registry, "lat_bucket", route="a", le="+Inf") == 6
    assert _value(registry, "lat_count", route="a") == 6
    assert abs(_value(registry, "lat_sum", route="a") - 2.665) < 1e-9


def test_flush_writes_at_once_and_only_once() -> None:
    registry = CollectorRegistry()
    requests = Counter("req", "h", registry=registry)
    tally = Tally()

    async def run() -> None:
        tally.inc(requests, 2)
        tally.flush()  # a scrape: written before the timer
        assert _value(registry, "req_total") == 2
        await asyncio.sleep(0)  # the loop's next turn

    asyncio.run(run())
    assert _value(registry, "req_total") == 2
