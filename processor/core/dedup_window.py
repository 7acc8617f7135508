"""The dedup window's arithmetic: time buckets, shards and set members.

Redis remembers each event seen for the dedup TTL in compact integer sets
(docs/redis.md, "The dedup window"): an event seen at time ``t`` goes into the
bucket ``floor(t / width)``, ``width = ceil(ttl / BUCKETS_PER_TTL)``, whose keys
expire at the bucket's end plus the TTL, so an event is remembered for at
least the TTL and at most the TTL plus one width. A bucket's events are split
into shard sets by the low bits of a 24-bit key taken from the content hash,
and each is stored as one integer below 2**63 taken from 62 further bits of
the hash, so each set stays ``intset`` encoded (8 bytes a member); rejected
and ignored events are also in sets of their own, for their outcome.
``lua/dedup_window.lua`` does the same arithmetic inside the fold; this module
is its reference (tests check that the two agree). The clock is an argument:
nothing here reads it.
"""

from __future__ import annotations

import hashlib
import math
import string
from dataclasses import dataclass

# Buckets per TTL: a new event costs a lookup in each of the this many
# buckets before the current one (whose SADD is its own lookup); more buckets
# cut the overshoot past the TTL (at most a width, TTL / BUCKETS_PER_TTL) and
# cost a command an event each (measured in bench/dedup_bench.py).
BUCKETS_PER_TTL = 2
# A bucket's shard count is sized for this many members a set; a segment
# is closed (and a bigger one opened) when its sets hold this many on average:
# both well under Redis's set-max-intset-entries (512).
SHARD_TARGET = 256
SEGMENT_FULL = 400
# At most this factor between a segment's shard count and the next one's.
SEGMENT_GROWTH = 64
MAX_SHARDS = 1 << 24

_HEX = frozenset(string.hexdigits)


@dataclass(frozen=True, slots=True)
class DedupKey:
    """Where one content hash lives in a bucket: shard key bits and member."""

    shard_bits: int  # 24 bits; the shard is shard_bits % shards (a power of two)
    high: int  # 1 .. 2**33
    low: int  # 0 .. 2**29 - 1

    @property
    def member(self) -> str:
        """The set member: a decimal integer below 2**63 (at least 10**9)."""
        return f"{self.high}{self.low:09d}"

    def shard(self, shards: int) -> int:
        return self.shard_bits % shards


def hex_digest(content_hash: str) -> str:
    """The hex digits the key is taken from: the hash itself when it is a
    sha256 hex digest (64 characters, as every content hash), else its sha1
    (so any string can be looked up)."""
    if len(content_hash) == 64 and all(c in _HEX for c in content_hash[:23]):
        return content_hash
    return hashlib.sha1(content_hash.encode("utf-8", "surrogatepass")).hexdigest()


def dedup_key(content_hash: str) -> DedupKey:
    """The shard bits and member of a content hash (86 bits of it)."""
    h = hex_digest(content_hash)
    return DedupKey(
        shard_bits=int(h[0:6], 16),
        high=int(h[6:15], 16) % (1 << 33) + 1,
        low=int(h[15:23], 16) % (1 << 29),
    )


@dataclass(frozen=True, slots=True)
class Window:
    """The buckets of a TTL: which one ``now`` is in, which are live, when each expires."""

    ttl: int
    per_ttl: int = BUCKETS_PER_TTL

    @property
    def width(self) -> int:
        return max(1, math.ceil(self.ttl / self.per_ttl))

    def bucket(self, now: float) -> int:
        return math.floor(now / self.width)

    def live(self, now: float) -> range:
        """The buckets a lookup at ``now`` checks: the ones whose keys may not
        have expired, and the next one (opened by a worker whose clock is ahead)."""
        b = self.bucket(now)
        return range(b - self.per_ttl, b + 2)

    def expires_at(self, bucket: int) -> int:
        """Unix time at which a bucket's keys expire: its end plus the TTL."""
        return (bucket + 1) * self.width + self.ttl


def pow2_at_least(n: float) -> int:
    """The smallest power of two >= n (1 for n <= 1), at most MAX_SHARDS."""
    shards = 1
    while shards < n and shards < MAX_SHARDS:
        shards *= 2
    return shards


def opening_shards(previous_count: int) -> int:
    """Shards of a bucket opened after one that held ``previous_count`` events."""
    return pow2_at_least(previous_count / SHARD_TARGET)


def next_segment_shards(
    shards: int, count: int, opened: float, now: float, bucket_end: float
) -> int:
    """Shards of the segment opened when one of ``shards`` shards is full:
    sized for the rest of the bucket at the rate seen since it opened
    (``count`` events since ``opened``), at least as many, at most
    SEGMENT_GROWTH times as many."""
    rate = count / max(now - opened, 1.0)
    projected = rate * max(bucket_end - now, 0.0)
    wanted = pow2_at_least(projected / SHARD_TARGET)
    return min(max(wanted, shards), shards * SEGMENT_GROWTH, MAX_SHARDS)
