"""The dedup window's arithmetic (docs/redis.md, "The dedup window"), checked
against hand calculations."""

from __future__ import annotations

import hashlib

from processor.core.dedup_window import (
    Window,
    dedup_key,
    hex_digest,
    next_segment_shards,
    opening_shards,
    pow2_at_least,
)

H = "0123456789abcdef" * 4  # a sha256 hex digest


def test_the_key_takes_24_shard_bits_then_33_and_29_member_bits() -> None:
    k = dedup_key(H)
    assert k.shard_bits == 0x012345
    # 0x6789abcde = 27,793,210,590 = 3 * 2**33 + 2,023,406,814; plus one
    assert k.high == 2_023_406_815
    # 0xf0123456 = 4,027,724,886 = 7 * 2**29 + 269,628,502
    assert k.low == 269_628_502
    assert k.member == "2023406815269628502"
    assert k.shard(1) == 0
    assert k.shard(64) == 0x012345 % 64 == 5


def test_every_member_is_a_canonical_integer_from_10_9_below_2_63() -> None:
    lowest = dedup_key("0" * 64)
    assert lowest.member == "1000000000"  # high 1, low 0: no leading zero
    highest = dedup_key("f" * 64)
    assert highest.high == 2**33  # 0xfffffffff % 2**33 + 1
    assert highest.low == 2**29 - 1
    top = int(highest.member)
    assert top == 2**33 * 10**9 + 2**29 - 1
    assert top < 2**63


def test_a_string_that_is_not_a_hex_digest_is_keyed_by_its_sha1() -> None:
    assert hex_digest("aa") == hashlib.sha1(b"aa").hexdigest()
    assert hex_digest("ab" * 31) == hashlib.sha1(b"ab" * 31).hexdigest()  # too short
    assert hex_digest("x" * 64) == hashlib.sha1(b"x" * 64).hexdigest()
    assert hex_digest(H) == H
    sha1 = hashlib.sha1(b"missing").hexdigest()
    assert dedup_key("missing").shard_bits == int(sha1[:6], 16)
    assert dedup_key("missing").low == int(sha1[15:23], 16) % 2**29


def test_buckets_are_half_the_ttl_unless_told() -> None:
    assert Window(7 * 86400).width == 302_400  # 3.5 days
    assert list(Window(7 * 86400).live(302_400 * 10)) == [8, 9, 10, 11]


def test_buckets_are_a_fraction_of_the_ttl_and_expire_a_ttl_after_their_end() -> None:
    w = Window(7 * 86400, per_ttl=7)
    assert w.width == 86400
    assert w.bucket(3 * 86400 + 5) == 3
    assert w.bucket(3 * 86400 - 0.5) == 2
    # the 7 buckets before, the current one and the next one
    assert list(w.live(3 * 86400 + 5)) == [-4, -3, -2, -1, 0, 1, 2, 3, 4]
    assert w.expires_at(3) == 4 * 86400 + 7 * 86400
    # a TTL that is no multiple of the bucket count: the width rounds up
    assert Window(10, per_ttl=7).width == 2
    assert Window(3, per_ttl=7).width == 1


def test_an_event_is_remembered_between_the_ttl_and_the_ttl_plus_one_width() -> None:
    w = Window(700, per_ttl=7)  # width 100
    for t in (300.0, 350.0, 399.9):
        b = w.bucket(t)
        assert b == 3
        kept = w.expires_at(b) - t
        assert 700 < kept <= 800
        # still looked up at any moment before its keys expire
        assert all(b in w.live(s) for s in (t, t + 700, w.expires_at(b) - 0.1))


def test_shard_counts_are_powers_of_two_sized_for_256_a_set() -> None:
    assert [pow2_at_least(n) for n in (0, 1, 1.5, 2, 3, 1000)] == [1, 1, 2, 2, 4, 1024]
    assert opening_shards(0) == 1
    assert opening_shards(256) == 1
    assert opening_shards(257) == 2
    assert opening_shards(100_000) == 512  # 390.6 sets of 256


def test_a_full_segment_is_followed_by_one_sized_for_the_rest_of_the_bucket() -> None:
    # 400 events in 100 s: 4/s for the 86,300 s left = 345,200 events,
    # 1,348.4 sets of 256 -> 2,048, but at most 64 times the full one's
    assert next_segment_shards(1, 400, 0.0, 100.0, 86400.0) == 64
    # 25,600 events in 6,400 s: 4/s for 80,000 s = 320,000 -> 1,250 sets -> 2,048
    assert next_segment_shards(64, 25_600, 0.0, 6400.0, 86400.0) == 2048
    # at the bucket's very end nothing is projected: at least as many as before
    assert next_segment_shards(8, 3200, 0.0, 86400.0, 86400.0) == 8
