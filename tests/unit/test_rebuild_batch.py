"""The rebuild's batch size (processor/rebuild.py): four times the worker's,
never above 10,000 unless the worker's own is."""

from __future__ import annotations

import pytest

from processor.rebuild import rebuild_batch_size


@pytest.mark.parametrize(
    ("worker", "rebuild"),
    [(1000, 4000), (100, 400), (1, 4), (2500, 10_000), (5000, 10_000), (20_000, 20_000)],
)
def test_the_rebuild_batch_is_larger_than_the_worker_s(worker: int, rebuild: int) -> None:
    assert rebuild_batch_size(worker) == rebuild
