"""The dead letters' partitions (adapters/record_batches.py) are the producer's."""

from __future__ import annotations

import random

from aiokafka.partitioner import DefaultPartitioner

from processor.adapters import record_batches


def test_a_key_goes_where_the_producers_partitioner_puts_it() -> None:
    rng = random.Random(7)
    partitioner = DefaultPartitioner()
    keys = [rng.randbytes(rng.randrange(1, 80)) for _ in range(3000)]
    for count in (1, 2, 3, 4, 12, 50):
        ids = list(range(count))
        for key in keys:
            assert record_batches._partition(key, ids) == partitioner(key, ids, ids)


def test_the_remembered_hashes_are_bounded() -> None:
    record_batches._key_hash.cache_clear()
    for i in range(record_batches._HASHED_KEYS + 500):
        record_batches._partition(b"run:ns/job-%d" % i, [0, 1, 2, 3])
    assert record_batches._key_hash.cache_info().currsize == record_batches._HASHED_KEYS


def test_a_keyless_record_goes_to_one_of_the_partitions() -> None:
    assert {record_batches._partition(None, [0, 1, 2]) for _ in range(200)} == {0, 1, 2}
