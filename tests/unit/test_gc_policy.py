"""The heap policy of the worker, its helpers and the rebuild (adapters/gc_policy.py)."""

from __future__ import annotations

import gc
import os
import pickle
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from processor.adapters import classifier_pool  # noqa: F401  # registers the outcome reducers
from processor.adapters.gc_policy import release_memory, settle_heap
from processor.core.batch_plan import classify_batch
from processor.core.pipeline import Accepted, Classified, Limits
from processor.core.rules import MixRule
from tests.events import ol_event


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_settle_heap_freezes_start_up_and_collects_every_20000_allocations(
    restored_gc: None,
) -> None:
    gc.unfreeze()
    settle_heap()
    # docs/architecture.md: a young pass every 20,000 allocations, start-up frozen
    assert gc.get_threshold()[0] == 20_000
    assert gc.get_freeze_count() > 1000  # at least the modules' objects
    # Cycles made after start-up are still collected.
    a: list[object] = []
    a.append(a)
    del a
    assert gc.collect() >= 1


def test_release_memory_is_safe_to_call_at_any_time() -> None:
    release_memory()
    release_memory()


def test_a_batch_sends_each_dataset_once() -> None:
    # Ten events naming the same two datasets (different runs, so different
    # content hashes): their node updates are one object each, which pickle
    # writes once; the batch's results pickle to less than ten separate copies.
    values = [ol_event(run_id=f"0190a0b0-0000-7000-8000-{i:012d}") for i in range(10)]
    results, _ = classify_batch(values, MixRule("mixed", ["snowflake://*"]), Limits())
    folds = [c.outcome.fold for c in results if isinstance(c, Classified)
             and isinstance(c.outcome, Accepted)]  # fmt: skip
    assert len(folds) == 10
    assert all(f.nodes[0] is folds[0].nodes[0] for f in folds)
    shared = len(pickle.dumps(results))
    copied = len(pickle.dumps([pickle.loads(pickle.dumps(r)) for r in results]))
    assert shared < copied


_THREADS_ALLOCATE = """
import ctypes, sys, threading
if sys.argv[1] == "single":
    from processor.adapters.gc_policy import single_arena
    single_arena()
held = []
def work():
    held.append([bytes(5000 + i) for i in range(200)])  # malloc'd, not pymalloc's
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL(None).malloc_stats()  # one "Arena N:" section an arena, on stderr
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's arenas")
@pytest.mark.parametrize(("mode", "single"), [("single", True), ("default", False)])
def test_single_arena_keeps_every_thread_in_the_main_arena(mode: str, single: bool) -> None:
    # In a fresh process: an arena is chosen once per thread, on its first malloc.
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("MALLOC_ARENA_MAX", None)
    done = subprocess.run(
        [sys.executable, "-c", _THREADS_ALLOCATE, mode], capture_output=True, env=env, check=True
    )
    arenas = re.findall(rb"^Arena \d+:", done.stderr, flags=re.MULTILINE)
    if single:
        assert arenas == [b"Arena 0:"]
    else:  # the control: glibc's default gives the threads arenas of their own
        assert len(arenas) > 1
