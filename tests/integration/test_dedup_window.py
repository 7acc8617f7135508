"""The dedup window on a real Redis (docs/redis.md, "The dedup window";
docs/design.md section 3): exact across buckets, bounded by the TTL, a retried
call sees its own marks, rejection marks cleared for a redrive, one window per
generation, every set an intset."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from processor.adapters.redis_generations import Generations
from processor.adapters.redis_redrive import RedriveLedger
from processor.adapters.redis_store import RedisGraphStore
from processor.core.dedup_window import Window, dedup_key
from processor.core.fold_payload import encode_batch

pytestmark = [pytest.mark.integration, pytest.mark.redis]

T = TypeVar("T")
DAY = 86400
TTL = 7 * DAY
T0 = 2_000_000_000.0  # a clock in the future: no key expires while a test runs
W = Window(TTL).width  # a bucket: half the TTL


def h(i: int) -> str:
    return hashlib.sha256(f"event {i}".encode()).hexdigest()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def run(
    redis_url: str, key_prefix: str, body: Callable[[RedisGraphStore, Clock], Awaitable[T]]
) -> T:
    async def go() -> T:
        clock = Clock(T0)
        store = RedisGraphStore.from_url(
            redis_url, prefix=key_prefix, dedup_ttl_seconds=TTL, clock=clock
        )
        try:
            return await body(store, clock)
        finally:
            await store.close()

    return asyncio.run(go())


async def mark(store: RedisGraphStore, marks: list[tuple[str, str]], token: str) -> list[bool]:
    return await store.mark_and_fold(encode_batch(marks, []), token)


def accepted(*ids: int) -> list[tuple[str, str]]:
    return [(h(i), "a") for i in ids]


def test_the_fold_stores_the_member_the_reference_derives(redis_url: str, key_prefix: str) -> None:
    async def body(store: RedisGraphStore, clock: Clock) -> None:
        assert await mark(store, [(h(1), "a"), (h(2), "i"), (h(3), "r")], "t.1") == [True] * 3
        bucket = Window(TTL).bucket(T0)
        everything = store.keys.dedup_set(bucket, 0, 0)  # a first bucket: one shard
        members = [dedup_key(h(i)).member.encode() for i in (1, 2, 3)]
        assert await store.client.smembers(everything) == {b"0", *members}
        assert await store.client.smembers(store.keys.dedup_set(bucket, 0, 0, "di")) == {
            b"0",
            members[1],
        }
        assert await store.client.smembers(store.keys.dedup_set(bucket, 0, 0, "dr")) == {
            b"0",
            members[2],
        }
        assert await store.client.hgetall(store.keys.dedup_meta) == {
            f"s{bucket}".encode(): b"1",
            f"n{bucket}".encode(): b"3",
            f"c{bucket}".encode(): b"3",
            f"t{bucket}".encode(): b"2000000000",
        }
        assert await store.marks([h(1), h(2), h(3), h(4)]) == ["a", "i", "r", ""]
        # Any other string is keyed by its sha1, by the script as by the reference.
        assert await mark(store, [("not a sha256", "a")], "t.2") == [True]
        k = dedup_key("not a sha256")
        assert await store.client.sismember(store.keys.dedup_set(bucket, 0, 0), k.member)

    run(redis_url, key_prefix, body)


def test_a_duplicate_is_found_in_every_bucket_until_its_bucket_expires(
    redis_url: str, key_prefix: str
) -> None:
    async def body(store: RedisGraphStore, clock: Clock) -> None:
        first = T0 - T0 % W + 0.25 * W  # a quarter into a bucket
        clock.now = first
        assert await mark(store, accepted(1, 2), "t.1") == [True, True]
        for day in range(1, 8):  # two new buckets, the first one still looked up
            clock.now = first + day * DAY
            assert await mark(store, accepted(1, 2, 100 + day), f"t.{day + 1}") == [
                False,
                False,
                True,
            ]
        # A TTL after the event (and less than a width more): still remembered...
        clock.now = first + TTL + 0.7 * W
        assert await store.seen([h(1), h(104)]) == [True, True]
        # ...no more once its bucket's keys expire (end of bucket + TTL).
        clock.now = first + TTL + 0.75 * W
        assert await store.seen([h(1), h(104)]) == [False, True]  # a bucket later
        assert await mark(store, accepted(1), "t.9") == [True]

    run(redis_url, key_prefix, body)


def test_bucket_keys_expire_at_the_bucket_end_plus_the_ttl(redis_url: str, key_prefix: str) -> None:
    async def body(store: RedisGraphStore, clock: Clock) -> list[int]:
        store.ttl = 8  # width 4 s: keys expire 8 to 12 s after their event
        clock.now = time.time()
        await mark(store, accepted(1, 2, 3), "t.1")
        keys = [k async for k in store.client.scan_iter(match=store.base + "dd:*")]
        assert keys
        return [await store.client.pttl(k) for k in keys]

    ttls = run(redis_url, key_prefix, body)
    assert all(7_000 < t <= 12_000 for t in ttls), ttls


def test_the_keys_expire_and_the_event_is_new_again(redis_url: str, key_prefix: str) -> None:
    async def body(store: RedisGraphStore, clock: Clock) -> None:
        store.ttl, store.dedup_buckets = 2, 2  # width 1 s
        clock.now = time.time()
        assert await mark(store, accepted(1), "t.1") == [True]
        assert await mark(store, accepted(1), "t.2") == [False]
        await asyncio.sleep(3.2)  # past the bucket's end + 2 s
        assert [k async for k in store.client.scan_iter(match=store.base + "dd:*")] == []
        clock.now = time.time()
        assert await mark(store, accepted(1), "t.3") == [True]

    run(redis_url, key_prefix, body)


def test_a_retried_call_returns_the_flags_of_its_first_attempt(
    redis_url: str, key_prefix: str
) -> None:
    async def body(store: RedisGraphStore, clock: Clock) -> None:
        assert await mark(store, accepted(1), "t.1") == [True]
        batch = accepted(1, 2, 3)
        assert await mark(store, batch, "t.2") == [False, True, True]
        clock.now += 2 * DAY  # even in another bucket, within the hour's wall clock
        assert await mark(store, batch, "t.2") == [False, True, True]
        assert await mark(store, batch, "t.3") == [False, False, False]
        ticket = store.keys.dedup_ticket("t.2", h(1))
        assert await store.client.get(ticket) == b"011"
        assert 3_500 < await store.client.ttl(ticket) <= 3_600
        # A call that marked nothing keeps no flags: its retry finds the same.
        assert await store.client.exists(store.keys.dedup_ticket("t.3", h(1))) == 0

    run(redis_url, key_prefix, body)


def test_a_rebuild_marks_no_rejection(redis_url: str, key_prefix: str) -> None:
    async def body(store: RedisGraphStore, clock: Clock) -> None:
        store.mark_rejected = False
        assert await mark(store, [(h(1), "r"), (h(2), "a")], "t.1") == [True, True]
        assert await store.marks([h(1), h(2)]) == ["", "a"]
        assert await mark(store, [(h(1), "r"), (h(2), "a")], "t.2") == [True, False]

    run(redis_url, key_prefix, body)


def test_only_rejection_marks_are_cleared_for_a_redrive(redis_url: str, key_prefix: str) -> None:
    async def body(store: RedisGraphStore, clock: Clock) -> None:
        await mark(store, [(h(1), "a"), (h(2), "i"), (h(3), "r")], "t.1")
        clock.now += 3 * DAY  # marks of an older bucket are cleared as well
        await mark(store, [(h(4), "r")], "t.2")
        ledger = RedriveLedger(store)
        found = await ledger.clear_rejections([h(1), h(2), h(3), h(4), h(3), h(5)])
        assert found == {h(1): "a", h(2): "i", h(3): "r", h(4): "r", h(5): ""}
        assert await store.marks([h(1), h(2), h(3), h(4)]) == ["a", "i", "", ""]
        # The redriven copy is new; the others are still duplicates.
        assert await mark(store, [(h(i), "a") for i in (1, 2, 3, 4)], "t.3") == [
            False,
            False,
            True,
            True,
        ]

    run(redis_url, key_prefix, body)


def test_each_generation_has_its_own_window_and_a_drop_takes_it(
    redis_url: str, key_prefix: str
) -> None:
    async def body(store: RedisGraphStore, clock: Clock) -> None:
        assert await mark(store, accepted(1, 2), "t.1") == [True, True]
        rebuild = RedisGraphStore(
            store.client, prefix=key_prefix, dedup_ttl_seconds=TTL, generation="2", clock=clock
        )
        assert await mark(rebuild, accepted(1, 2, 3), "r.1") == [True, True, True]
        assert await mark(rebuild, accepted(3), "r.2") == [False]
        assert await store.seen([h(3)]) == [False]
        assert await Generations(store.client, key_prefix).drop("1") > 0
        left = [k async for k in store.client.scan_iter(match=f"{{{key_prefix}:g1}}:*")]
        assert left == []
        assert await rebuild.seen([h(1), h(2), h(3)]) == [True, True, True]

    run(redis_url, key_prefix, body)


def test_a_worker_whose_clock_lags_finds_marks_of_the_next_bucket(
    redis_url: str, key_prefix: str
) -> None:
    async def body(store: RedisGraphStore, clock: Clock) -> None:
        clock.now = T0 - T0 % W + W - 0.5  # half a second before a bucket's end
        ahead = RedisGraphStore(
            store.client, prefix=key_prefix, dedup_ttl_seconds=TTL, clock=lambda: clock.now + 1
        )
        assert await mark(ahead, accepted(1), "a.1") == [True]
        assert await mark(store, accepted(1), "b.1") == [False]

    run(redis_url, key_prefix, body)


def test_sets_stay_intsets_as_the_rate_grows_and_the_next_bucket_is_sized_from_this_one(
    redis_url: str, key_prefix: str
) -> None:
    async def body(store: RedisGraphStore, clock: Clock) -> dict[str, Any]:
        start = T0 - T0 % W
        n, per_batch = 20_000, 500
        for i in range(0, n, per_batch):  # 20,000 events in the bucket's first 2,000 s
            clock.now = start + i / 10
            flags = await mark(store, accepted(*range(i, i + per_batch)), f"t.{i}")
            assert all(flags)
        bucket = Window(TTL).bucket(start)
        meta = await store.client.hgetall(store.keys.dedup_meta)
        sizes, encodings = [], set()
        async for key in store.client.scan_iter(match=store.base + "dd:*"):
            sizes.append(await store.client.scard(key))
            encodings.add(await store.client.object("encoding", key))
        # every event is still a duplicate, whichever segment holds it
        assert all(await store.seen([h(i) for i in range(0, n, 7)]))
        clock.now = start + W + 1
        await mark(store, accepted(n + 1), "next")
        meta_after = await store.client.hgetall(store.keys.dedup_meta)
        return {
            "bucket": bucket,
            "meta": meta,
            "sizes": sizes,
            "encodings": encodings,
            "next": meta_after[f"s{bucket + 1}".encode()],
        }

    got = run(redis_url, key_prefix, body)
    b = got["bucket"]
    assert got["meta"][f"n{b}".encode()] == b"20000"
    # The first bucket has 1 shard, full at 400 events within the first call
    # (rate counted over at least 1 s: 400/s for the rest of the bucket, far more
    # than 64 times as many sets): 64 shards, full at 25,600 events, never here.
    assert got["meta"][f"s{b}".encode()] == b"1,64"
    assert sum(got["sizes"]) == 20_000 + 65  # and a 0 in each set
    assert max(got["sizes"]) <= 512
    assert got["encodings"] == {b"intset"}
    # 20,000 / 256 = 78.1 -> 128 shards
    assert got["next"] == b"128"
