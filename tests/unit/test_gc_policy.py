"""The heap policy of the worker, its helpers and the rebuild (adapters/gc_policy.py)."""

from __future__ import annotations

import gc
import pickle
from collections.abc import Iterator

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
