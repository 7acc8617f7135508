"""How the worker, its helper processes and the rebuild manage their heap.

The garbage collector. Almost everything a batch allocates (records, tuples,
dicts of decoded events) is freed by reference counting the moment the batch
is done; the cyclic collector only finds the rare cycle (an exception's
traceback, an asyncio future's callbacks). At Python's default thresholds it
still ran a young-generation pass every 700 allocations and, every hundred of
those, a full pass over every object of the process: faust's, pydantic's
validators, the modules. Measured in the worker at 2,000 events/s, those full
passes took up to 186 ms each, a stall of every loop (fetch, fold, web) that
shows up in the produce-to-graph p99; in a classifier helper, the passes were
a tenth of its CPU. So once start-up is over, what exists is frozen (never
walked again; it is start-up state, not garbage) and the collector runs every
20,000 allocations: cycles are still collected, a full pass walks only what
was allocated since start-up.

The C heap. Over a soak the worker's resident memory grew while the number
of Python objects and pymalloc blocks stayed flat: glibc's heap keeping the
large buffers a batch frees (fetched records, fold payloads of hundreds of
KB) in fragments it does not give back. ``MALLOC_ARENA_MAX=2`` made no
difference (+12.0% with and without it over the same 5 minutes), so it is not
arenas per thread. ``release_memory`` (``malloc_trim``) gives free pages back;
in the worker, buffers over 256 KiB also get mappings of their own, returned
whole when freed (glibc otherwise raises that threshold with every large
buffer freed, up to 32 MiB): over a 10-minute soak +3.5% with both, +7.7%
with the trim alone. Not in a classifier helper: there the fixed threshold
cost 4 µs an event in page faults, and its memory is flat without it.

The worker's threads. Even so the worker kept growing by some 0.7 MiB a
minute at 500 events/s (3 MiB a minute at 2,000/s: with the messages, not
with time), while heaptrack showed the bytes it had allocated from malloc
flat (18.6-18.9 MB at every quiet moment of a 3-minute run at 2,000/s) and
``/proc/<pid>/smaps`` put the growth in the heaps of the threads' own
arenas (faust's consumer thread, the classifier pool's feeder and result
threads): each thread allocates from an arena of its own, and
``malloc_trim`` gives back the free pages inside an arena but shrinks only
the main arena's top, so what the threads free piles up there. With one
arena for every thread (``single_arena``, glibc's ``M_ARENA_MAX`` = 1) the
worker grew 1.9% instead of 5.4% over the same 3 minutes at 2,000/s.
``MALLOC_ARENA_MAX=2`` had made no difference before the trim existed: two
arenas, and nothing giving the second one's pages back. The threads take
the one arena's lock in turn, which the interpreter's own lock mostly does
already. Elsewhere than glibc all of these are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys

# (young, middle, old): a young pass every 20,000 allocations; the defaults
# are (700, 10, 10).
THRESHOLDS = (20_000, 10, 10)
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameters
_M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 256 * 1024


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018  # glibc only (not musl)
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()


def settle_heap(*, map_large_buffers: bool = False) -> None:
    """Collect once, freeze what is left, set ``THRESHOLDS`` and give the C
    heap's free pages back; call when start-up is done. ``map_large_buffers``:
    buffers over ``MMAP_THRESHOLD_BYTES`` in mappings of their own (the worker)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    if map_large_buffers and _LIBC is not None:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    release_memory()


def release_memory() -> None:
    """Give the C heap's free pages back to the system (a few ms at most)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def single_arena() -> None:
    """Every thread allocates from the main arena, the one ``release_memory``
    trims whole. Call before the process starts its threads: glibc fixes its
    limit of arenas once it has made more than eight, and a thread keeps the
    arena it has."""
    if _LIBC is not None:
        _LIBC.mallopt(_M_ARENA_MAX, 1)
