"""How often the garbage collector runs in the worker and its helper processes.

Almost everything a batch allocates (records, tuples, dicts of decoded
events) is freed by reference counting the moment the batch is done; the
cyclic collector only finds the rare cycle (an exception's traceback, an
asyncio future's callbacks). At Python's default thresholds it still ran a
young-generation pass every 700 allocations and, every hundred of those, a
full pass over every object of the process: faust's, pydantic's validators,
the modules. Measured in the worker at 2,000 events/s, those full passes took
up to 186 ms each, a stall of every loop (fetch, fold, web) that shows up in
the produce-to-graph p99; in a classifier helper, the passes were a tenth of
its CPU.

So once start-up is over, what exists is frozen (never walked again; it is
not garbage: start-up state) and the collector runs every 20,000
allocations: cycles are still collected, a full pass walks only what was
allocated since start-up.
"""

from __future__ import annotations

import gc

# (young, middle, old): a young pass every 20,000 allocations; the defaults
# are (700, 10, 10).
THRESHOLDS = (20_000, 10, 10)


def settle_heap() -> None:
    """Collect once, freeze what is left and set ``THRESHOLDS``; call when start-up is done."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
