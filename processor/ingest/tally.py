"""The per-request metrics, counted in plain numbers and written to their
Prometheus series a few times a second.

A request's answer is a counter and a latency histogram, a published event one
more counter: written one by one, each value is a lock and, with several
gateway processes, a write to the process's mmapped file (prometheus_client's
multiprocess mode), about a twentieth of a single-event request's CPU. Here they
add up in dicts, and ``flush`` writes the sums once per turn of the event loop
(a callback queued behind the ones running: under load a turn answers tens of
requests, and a scrape that reaches another gateway process finds the counts of
an answer written before the client could read it), before every scrape this
process answers, and at stop.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from typing import Any


class Tally:
    """Increments and observations of labelled series (children of a
    ``Counter`` and of a ``Histogram``), written by ``flush``."""

    __slots__ = ("_counts", "_observed", "_queued")

    def __init__(self) -> None:
        self._counts: dict[Any, float] = {}
        # series -> [sum, count in each bucket]
        self._observed: dict[Any, list[Any]] = {}
        self._queued: asyncio.Handle | None = None

    def inc(self, series: Any, amount: float = 1) -> None:
        counts = self._counts
        counts[series] = counts.get(series, 0) + amount
        if self._queued is None:
            self._schedule()

    def observe(self, series: Any, value: float) -> None:
        """As ``Histogram.observe``: the first bucket whose bound is >= value."""
        seen = self._observed.get(series)
        if seen is None:
            seen = self._observed[series] = [0.0, [0] * len(series._upper_bounds)]
        seen[0] += value
        seen[1][bisect_left(series._upper_bounds, value)] += 1
        if self._queued is None:
            self._schedule()

    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a unit test): written at once
            self.flush()
            return
        self._queued = loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write what was counted since the last flush."""
        if self._queued is not None:
            self._queued.cancel()
            self._queued = None
        counts, self._counts = self._counts, {}
        for series, amount in counts.items():
            series.inc(amount)
        observed, self._observed = self._observed, {}
        for series, (total, buckets) in observed.items():
            # Histogram.observe's own writes, summed: its sum and its buckets.
            series._sum.inc(total)
            for index, count in enumerate(buckets):
                if count:
                    series._buckets[index].inc(count)
