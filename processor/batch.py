"""One batch of input records through the pipeline, keeping the durability invariant.

Order of work for a batch (DESIGN.md section 3):

1. classify every record (pure, ``core.pipeline``);
2. ask Redis which rule-rejected events were already seen (they are
   duplicates, not dead letters);
3. publish every dead letter and wait for the broker's acknowledgements;
4. in one Lua call, mark every valid event seen and fold the accepted ones
   (a batch of very many edges takes several calls, each event's mark in the
   same call as its edges);
5. only then does the caller ack the records, so offsets are committed only
   past durable outcomes.

A failing dependency stops the batch at the step it reached and retries it
with backoff, forever; nothing is dead-lettered for an outage. A crash between
steps repeats a dead letter at worst, never loses an edge or a dead letter.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

from processor.adapters.dlq_publisher import OutRecord
from processor.adapters.metrics import Metrics
from processor.adapters.redis_store import (
    OUTCOME_ACCEPTED,
    OUTCOME_IGNORED,
    OUTCOME_REJECTED,
    encode_batch,
)
from processor.core.control import DeleteRequest, parse_control
from processor.core.dlq_headers import dlq_headers
from processor.core.pipeline import (
    Accepted,
    Classified,
    FoldEvent,
    Limits,
    Rejected,
    classify,
)
from processor.core.rules import MixRule
from processor.errors import DependencyUnavailable, RedisUnavailable

log = logging.getLogger("processor.batch")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class InputRecord:
    """A consumed record, as the pipeline needs it."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None


class GraphStore(Protocol):
    async def seen(self, hashes: Sequence[str]) -> list[bool]: ...

    async def mark_and_fold(
        self, payload: bytes, token: str, offsets: Mapping[str, int] | None = None
    ) -> list[bool]: ...

    async def apply_deletes(
        self, requests: Sequence[DeleteRequest], offsets: Mapping[str, int] | None = None
    ) -> None: ...


def highest_offsets(records: Sequence[InputRecord]) -> dict[str, int]:
    """The highest offset of ``records`` per ``"topic/partition"``."""
    out: dict[str, int] = {}
    for rec in records:
        place = f"{rec.topic}/{rec.partition}"
        if rec.offset > out.get(place, -1):
            out[place] = rec.offset
    return out


class Publisher(Protocol):
    async def publish(self, records: Sequence[OutRecord]) -> None: ...


@dataclass(slots=True)
class BatchResult:
    """What became of each record of a batch (counts)."""

    accepted: int = 0
    duplicate: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)
    dead_letters: list[tuple[InputRecord, str]] = field(default_factory=list)
    folded: list[FoldEvent] = field(default_factory=list)
    edges_folded: int = 0
    deletes: int = 0
    attempts: int = 1


@dataclass(slots=True)
class Backoff:
    """Exponential backoff with full jitter, capped."""

    initial: float = 0.1
    cap: float = 30.0
    attempt: int = 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.initial * 2**self.attempt)
        self.attempt += 1
        return random.uniform(delay / 2, delay)


@dataclass(slots=True)
class PreparedBatch:
    """A classified batch, waiting for ``BatchProcessor.commit``."""

    records: Sequence[InputRecord]
    token: str
    # The Lua fold's inputs, one call each, in order: between them the marks of
    # ``firsts`` (in their order) and the joined lineage (``classify_batch``).
    payloads: Sequence[bytes]
    pre_rejected: list[tuple[InputRecord, Rejected]] = field(default_factory=list)
    rule_rejected: list[tuple[InputRecord, Classified]] = field(default_factory=list)
    firsts: list[Classified] = field(default_factory=list)  # each content hash once, in order
    in_batch_duplicates: int = 0
    cpu_seconds: float = 0.0


Outcome = Rejected | Classified


def first_occurrences(results: Sequence[Outcome]) -> dict[str, int]:
    """Index of the first message with each content hash, in message order."""
    firsts: dict[str, int] = {}
    for i, c in enumerate(results):
        if isinstance(c, Classified) and c.content_hash not in firsts:
            firsts[c.content_hash] = i
    return firsts


# Edges one Lua fold call may carry. Each event may have up to
# ``max_edges_per_event`` (10,000) edges, so a batch of 1,000 wide events would
# be one call of some 10 million edges: gigabytes of payload, more than Redis
# takes in one argument (512 MB), refused on every retry, and Redis blocked
# for as long as the call ran. Past this many edges the batch goes in several
# calls; an event's dedup mark and its edges are always in the same one.
MAX_EDGES_PER_CALL = 20_000


def classify_batch(
    values: Sequence[bytes | None], rule: MixRule, limits: Limits
) -> tuple[list[Outcome], list[bytes]]:
    """Classify every value and encode the batch's Redis fold (one payload per
    Lua call, in order): all the CPU work of a batch, with no I/O, so it can
    run in a helper process."""
    results = [classify(v, rule, limits) for v in values]
    payloads: list[bytes] = []
    marks: list[tuple[str, str]] = []
    folds: list[FoldEvent] = []
    edges = 0
    for i in first_occurrences(results).values():
        c = results[i]
        assert isinstance(c, Classified)
        outcome = c.outcome
        if isinstance(outcome, Accepted):
            size = len(outcome.fold.edges)
            if folds and edges + size > MAX_EDGES_PER_CALL:
                payloads.append(encode_batch(marks, folds))
                marks, folds, edges = [], [], 0
            marks.append((c.content_hash, OUTCOME_ACCEPTED))
            folds.append(outcome.fold)
            edges += size
        elif isinstance(outcome, Rejected):
            marks.append((c.content_hash, OUTCOME_REJECTED))
        else:
            marks.append((c.content_hash, OUTCOME_IGNORED))
    payloads.append(encode_batch(marks, folds))
    return results, payloads


class BatchProcessor:
    """Turns batches of input records into durable outcomes."""

    def __init__(
        self,
        *,
        store: GraphStore,
        publisher: Publisher,
        rule: MixRule,
        limits: Limits,
        dlq_topic: str,
        version: str,
        metrics: Metrics | None = None,
        max_backoff: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.rule = rule
        self.rule_text = rule.describe()
        self.limits = limits
        self.dlq_topic = dlq_topic
        self.version = version
        self.metrics = metrics
        self.max_backoff = max_backoff
        self.clock = clock
        # A batch token is unique per worker process and batch, so a retried
        # Lua call recognises the marks of its own earlier attempt.
        self._token_prefix = f"{os.getpid():x}{random.getrandbits(48):012x}"
        self._batches = itertools.count()

    async def process(self, records: Sequence[InputRecord]) -> BatchResult:
        """Process ``records`` until every outcome is durable; retries outages forever."""
        return await self.commit(self.prepare(records))

    def prepare(self, records: Sequence[InputRecord]) -> PreparedBatch:
        """Classify a batch in-process: pure CPU work, safe to run ahead of ``commit``."""
        started = time.perf_counter()
        results, payloads = classify_batch([r.value for r in records], self.rule, self.limits)
        batch = self.group(records, results, payloads)
        batch.cpu_seconds = time.perf_counter() - started
        return batch

    def group(
        self, records: Sequence[InputRecord], results: Sequence[Outcome], payloads: Sequence[bytes]
    ) -> PreparedBatch:
        """Sort classified records by what ``commit`` must do with them."""
        batch = PreparedBatch(
            records=records,
            token=f"{self._token_prefix}.{next(self._batches)}",
            payloads=payloads,
        )
        firsts = first_occurrences(results)
        for i, (rec, c) in enumerate(zip(records, results, strict=True)):
            if isinstance(c, Rejected):
                batch.pre_rejected.append((rec, c))
            elif firsts[c.content_hash] != i:
                batch.in_batch_duplicates += 1
            else:
                batch.firsts.append(c)
                if isinstance(c.outcome, Rejected):
                    batch.rule_rejected.append((rec, c))
        return batch

    async def commit(self, batch: PreparedBatch) -> BatchResult:
        """Make every outcome of a prepared batch durable, in the order of the
        module docstring; retries outages forever, so it returns only when done.

        Batches must be committed one at a time, in order: the dedup check of
        a batch must see the marks of the batches before it.
        """
        started = time.perf_counter()
        result = BatchResult(duplicate=batch.in_batch_duplicates)
        backoff = Backoff(cap=self.max_backoff)
        # Set only once every dead letter of the batch is acknowledged: a retry
        # after a failure anywhere before that publishes the whole set again.
        dead: list[tuple[InputRecord, Rejected]] | None = None
        flags: list[bool] | None = None
        while flags is None:
            try:
                if dead is None:
                    pending = list(batch.pre_rejected)
                    if batch.rule_rejected:
                        seen = await self._redis(
                            "seen",
                            self.store.seen([c.content_hash for _, c in batch.rule_rejected]),
                        )
                        for (rec, c), was_seen in zip(batch.rule_rejected, seen, strict=True):
                            if not was_seen:
                                assert isinstance(c.outcome, Rejected)
                                pending.append((rec, c.outcome))
                    await self.publisher.publish([self._dead_letter(r, j) for r, j in pending])
                    dead = pending
                # A retry runs every call again: the batch token makes a
                # call that already ran report its marks as new again, and
                # folding twice is folding once. Each call records the whole
                # batch's offsets: a rebuild that switches generations between
                # two calls has read the whole batch.
                offsets = highest_offsets(batch.records)
                folded: list[bool] = []
                for payload in batch.payloads:
                    folded += await self._redis(
                        "fold", self.store.mark_and_fold(payload, batch.token, offsets)
                    )
                flags = folded
            except DependencyUnavailable as exc:
                self._on_outage(exc)
                result.attempts += 1
                await asyncio.sleep(backoff.next_delay())
        self._clear_outage()

        result.dead_letters = [(rec, rej.reason) for rec, rej in dead or []]
        for _, rej in batch.pre_rejected:
            result.rejected[rej.reason] += 1
        skipped: Counter[str] = Counter()
        for c, new in zip(batch.firsts, flags, strict=True):
            outcome = c.outcome
            if not new:
                result.duplicate += 1
            elif isinstance(outcome, Accepted):
                result.accepted += 1
                result.folded.append(outcome.fold)
                result.edges_folded += len(outcome.fold.edges)
                for reason, n in outcome.skipped:
                    skipped[reason] += n
            elif isinstance(outcome, Rejected):
                result.rejected[outcome.reason] += 1
            else:
                result.ignored[outcome.event_type] += 1
        self._observe(
            batch.records, result, skipped, batch.cpu_seconds + time.perf_counter() - started
        )
        return result

    async def apply_control(self, records: Sequence[InputRecord]) -> BatchResult:
        """Control-topic records: malformed ones to the DLQ (``invalid_control``),
        deletes into their tombstones; durable when it returns, outages retried.

        Deletes need no dedup: a tombstone is a max, so applying one twice is
        the same as once.
        """
        started = time.perf_counter()
        result = BatchResult()
        deletes: list[DeleteRequest] = []
        bad: list[tuple[InputRecord, Rejected]] = []
        for rec in records:
            parsed = parse_control(rec.value, self.limits.max_depth)
            if isinstance(parsed, Rejected):
                bad.append((rec, parsed))
            else:
                deletes.append(parsed)
        backoff = Backoff(cap=self.max_backoff)
        published = not bad
        while True:
            try:
                if not published:
                    await self.publisher.publish([self._dead_letter(r, j) for r, j in bad])
                    published = True
                await self._redis(
                    "deletes", self.store.apply_deletes(deletes, highest_offsets(records))
                )
                break
            except DependencyUnavailable as exc:
                self._on_outage(exc)
                result.attempts += 1
                await asyncio.sleep(backoff.next_delay())
        self._clear_outage()
        result.dead_letters = [(rec, rej.reason) for rec, rej in bad]
        for _, rej in bad:
            result.rejected[rej.reason] += 1
        result.deletes = len(deletes)
        self._observe(records, result, Counter(), time.perf_counter() - started)
        return result

    async def _redis(self, operation: str, call: Awaitable[T]) -> T:
        """Await a Redis call, timing it and counting its failure by operation."""
        started = time.perf_counter()
        try:
            return await call
        except RedisUnavailable:
            if self.metrics is not None:
                self.metrics.redis_errors.labels(operation).inc()
            raise
        finally:
            if self.metrics is not None:
                self.metrics.redis_seconds.labels(operation).observe(time.perf_counter() - started)

    def _dead_letter(self, rec: InputRecord, rej: Rejected) -> OutRecord:
        headers = dlq_headers(
            reason=rej.reason,
            error=rej.error,
            topic=rec.topic,
            partition=rec.partition,
            offset=rec.offset,
            timestamp_ms=rec.timestamp_ms,
            version=self.version,
            rule=self.rule_text,
        )
        return OutRecord(self.dlq_topic, rec.key, rec.value, headers)

    def _on_outage(self, exc: DependencyUnavailable) -> None:
        dependency = "redis" if isinstance(exc, RedisUnavailable) else "kafka"
        log.warning("%s unavailable, retrying the batch: %s", dependency, exc)
        if self.metrics is not None:
            self.metrics.dependency_down.labels(dependency).set(1)
            if dependency != "redis":  # Redis failures are counted where they happen
                self.metrics.dlq_publish_errors.inc()

    def _clear_outage(self) -> None:
        if self.metrics is not None:
            self.metrics.dependency_down.labels("redis").set(0)
            self.metrics.dependency_down.labels("kafka").set(0)

    def _observe(
        self,
        records: Sequence[InputRecord],
        result: BatchResult,
        skipped: Counter[str],
        seconds: float,
    ) -> None:
        for rec, reason in result.dead_letters:
            log.info(
                "dead-lettered %s[%d]@%d: %s",
                rec.topic,
                rec.partition,
                rec.offset,
                reason,
                extra={
                    "topic": rec.topic,
                    "partition": rec.partition,
                    "offset": rec.offset,
                    "reason": reason,
                },
            )
        m = self.metrics
        if m is None:
            return
        topics = Counter(rec.topic for rec in records)
        for topic, n in topics.items():
            m.events_consumed.labels(topic).inc(n)
        if result.accepted:
            m.events_accepted.inc(result.accepted)
        if result.duplicate:
            m.events_duplicate.inc(result.duplicate)
        for event_type, n in result.ignored.items():
            m.events_ignored.labels(event_type).inc(n)
        for reason, n in result.rejected.items():
            m.events_rejected.labels(reason).inc(n)
        if result.edges_folded:
            m.edges_folded.inc(result.edges_folded)
        if result.deletes:
            m.deletes_applied.inc(result.deletes)
        for reason, n in skipped.items():
            m.edges_skipped.labels(reason).inc(n)
        m.batch_seconds.observe(seconds)
        m.batch_size.observe(len(records))
        now = self.clock()
        for rec in records:
            if rec.timestamp_ms is not None:
                m.event_lag.observe(max(0.0, now - rec.timestamp_ms / 1000))
        for fold in result.folded:
            when = datetime.fromisoformat(fold.event_time.replace("Z", "+00:00")).timestamp()
            m.event_time_lag.observe(max(0.0, now - when))
