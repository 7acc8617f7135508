"""One batch of input records through the pipeline, keeping the durability invariant.

Order of work for a batch (docs/design.md section 3):

1. classify every record (pure, ``core.batch_plan``);
2. ask Redis which rule-rejected events were already seen (they are
   duplicates, not dead letters);
3. publish every dead letter and wait for the broker's acknowledgements;
4. in one Lua call, mark every valid event seen and fold the accepted ones
   (a batch of very many edges takes several calls, each event's mark in the
   same call as its edges);
5. only then does the caller ack the records, so offsets are committed only
   past durable outcomes.

Steps 2-3 of a batch may run ahead of its ``commit`` (``publish_dead_letters``),
while the batch before it folds; the hashes that batch is about to mark then
count as seen, as they will be when this batch folds after it.

A failing dependency stops the batch at the step it reached and retries it
with backoff, forever; nothing is dead-lettered for an outage. A crash between
steps repeats a dead letter at worst, never loses an edge or a dead letter.

The service sees the graph store, the publisher and its observer only through
``processor.ports``, so the order above is tested against the in-memory ones
(``adapters.memory``, ``tests/unit/test_commit_order.py``) as well as the real.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Container, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from processor.core.batch_plan import (
    ACCEPTED,
    DUPLICATE,
    PRE_REJECTED,
    RULE_REJECTED,
    Summary,
    summarize_batch,
)
from processor.core.control import DeleteRequest, parse_control
from processor.core.dlq_headers import dlq_headers
from processor.core.pipeline import Limits, Rejected
from processor.core.rules import MixRule
from processor.errors import DependencyUnavailable, RedisUnavailable
from processor.ports import (
    NULL_OBSERVER,
    BatchResult,
    GraphStore,
    InputRecord,
    Observer,
    OutRecord,
    Publisher,
)

log = logging.getLogger("processor.batch")
T = TypeVar("T")


def highest_offsets(records: Sequence[InputRecord]) -> dict[str, int]:
    """The highest offset of ``records`` per ``"topic/partition"``."""
    out: dict[str, int] = {}
    for rec in records:
        place = f"{rec.topic}/{rec.partition}"
        if rec.offset > out.get(place, -1):
            out[place] = rec.offset
    return out


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
    # (record, content hash, what the rule said)
    rule_rejected: list[tuple[InputRecord, str, Rejected]] = field(default_factory=list)
    # each content hash once, in order: ``core.batch_plan.Summary`` tuples
    firsts: list[Summary] = field(default_factory=list)
    in_batch_duplicates: int = 0
    cpu_seconds: float = 0.0
    # Set once steps 2-3 are done (``publish_dead_letters``): the letters published.
    dead: list[tuple[InputRecord, Rejected]] | None = None


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
        observer: Observer = NULL_OBSERVER,
        max_backoff: float = 30.0,
        dead_letters: bool = True,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.rule = rule
        self.rule_text = rule.describe()
        self.limits = limits
        self.dlq_topic = dlq_topic
        self.version = version
        self.observer = observer
        self.max_backoff = max_backoff
        # False for the rebuild, which publishes no dead letters: then it
        # neither builds them nor asks Redis which rule-rejected events it saw.
        self.dead_letters = dead_letters
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
        summaries, payloads = summarize_batch(
            [r.value for r in records], self.rule, self.limits, folds=True
        )
        batch = self.group(records, summaries, payloads)
        batch.cpu_seconds = time.perf_counter() - started
        return batch

    def group(
        self,
        records: Sequence[InputRecord],
        summaries: Sequence[Summary],
        payloads: Sequence[bytes],
    ) -> PreparedBatch:
        """Sort classified records (``core.batch_plan.summarize``) by what
        ``commit`` must do with them."""
        batch = PreparedBatch(
            records=records,
            token=f"{self._token_prefix}.{next(self._batches)}",
            payloads=payloads,
        )
        firsts = batch.firsts
        for rec, s in zip(records, summaries, strict=True):
            kind = s[0]
            if kind == PRE_REJECTED:
                batch.pre_rejected.append((rec, Rejected(s[1], s[2])))
            elif kind == DUPLICATE:
                batch.in_batch_duplicates += 1
            else:
                firsts.append(s)
                if kind == RULE_REJECTED:
                    batch.rule_rejected.append((rec, s[1], Rejected(s[2], s[3])))
        return batch

    async def commit(self, batch: PreparedBatch) -> BatchResult:
        """Make every outcome of a prepared batch durable, in the order of the
        module docstring; retries outages forever, so it returns only when done.

        A partition's batches must be committed one at a time, in order;
        batches of distinct partitions may be committed at the same time (each
        Lua call is atomic, and of one event in two of them whichever call runs
        first folds it). The dedup check of a batch must see the marks of the
        batches committed before or beside it: ``publish_dead_letters``'s
        ``marking``.
        """
        started = time.perf_counter()
        result = BatchResult(duplicate=batch.in_batch_duplicates)
        # Set only once every dead letter of the batch is acknowledged: a retry
        # after a failure anywhere before that publishes the whole set again.
        dead = batch.dead

        async def attempt() -> list[bool]:
            nonlocal dead
            if dead is None:
                pending = await self._dead_letters_of(batch)
                await self.publisher.publish([self._dead_letter(r, j) for r, j in pending])
                dead = pending
            # A retry runs every call again: the batch token makes a call that
            # already ran report its marks as new again, and folding twice is
            # folding once. Each call records the whole batch's offsets: a
            # rebuild that switches generations between two calls has read the
            # whole batch.
            offsets = highest_offsets(batch.records)
            folded: list[bool] = []
            for payload in batch.payloads:
                folded += await self._redis(
                    "fold", self.store.mark_and_fold(payload, batch.token, offsets)
                )
            return folded

        flags = await self.retry_until_durable(attempt, result)
        result.dead_letters = [(rec, rej.reason) for rec, rej in dead or []]
        for _, rej in batch.pre_rejected:
            result.rejected[rej.reason] += 1
        for s, new in zip(batch.firsts, flags, strict=True):
            kind = s[0]
            if not new:
                result.duplicate += 1
            elif kind == ACCEPTED:
                _, _, event_time, edges, column_edges, skipped, column_dropped, fold = s
                result.accepted += 1
                result.event_times.append(event_time)
                if fold is not None:
                    result.folded.append(fold)
                result.edges_folded += edges
                for reason, n in skipped:
                    result.skipped[reason] += n
                result.column_edges_folded += column_edges
                for reason, n in column_dropped:
                    result.column_dropped[reason] += n
            elif kind == RULE_REJECTED:
                result.rejected[s[2]] += 1
            else:
                result.ignored[s[2]] += 1
        self._observe(batch.records, result, batch.cpu_seconds + time.perf_counter() - started)
        return result

    async def publish_dead_letters(
        self, batch: PreparedBatch, marking: Container[str] = frozenset()
    ) -> None:
        """Steps 2 and 3 of a batch ahead of its ``commit``, which then only
        folds: while the batch before it is being folded. ``marking``: the
        content hashes that batches ahead of this one (their letters published,
        their fold to come before this batch's) are about to mark; they count
        as seen, as they will be by the time this batch folds. Retries outages
        until the letters are acknowledged."""
        if batch.dead is not None:
            return

        async def attempt() -> list[tuple[InputRecord, Rejected]]:
            letters = await self._dead_letters_of(batch, marking)
            await self.publisher.publish([self._dead_letter(r, j) for r, j in letters])
            return letters

        batch.dead = await self.retry_until_durable(attempt, BatchResult())

    async def _dead_letters_of(
        self, batch: PreparedBatch, marking: Container[str] = frozenset()
    ) -> list[tuple[InputRecord, Rejected]]:
        """The batch's dead letters: every message rejected before step 4, and
        the rule-rejected events neither the store nor ``marking`` has (the
        others are duplicates)."""
        if not self.dead_letters:
            return []
        pending = list(batch.pre_rejected)
        unmarked = [(rec, h, rej) for rec, h, rej in batch.rule_rejected if h not in marking]
        if unmarked:
            seen = await self._redis("seen", self.store.seen([h for _, h, _ in unmarked]))
            for (rec, _, rej), was_seen in zip(unmarked, seen, strict=True):
                if not was_seen:
                    pending.append((rec, rej))
        return pending

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
        published = not bad

        async def attempt() -> None:
            nonlocal published
            if not published:
                await self.publisher.publish([self._dead_letter(r, j) for r, j in bad])
                published = True
            await self._redis(
                "deletes", self.store.apply_deletes(deletes, highest_offsets(records))
            )

        await self.retry_until_durable(attempt, result)
        result.dead_letters = [(rec, rej.reason) for rec, rej in bad]
        for _, rej in bad:
            result.rejected[rej.reason] += 1
        result.deletes = len(deletes)
        self._observe(records, result, time.perf_counter() - started)
        return result

    async def retry_until_durable(
        self, attempt: Callable[[], Awaitable[T]], result: BatchResult
    ) -> T:
        """Run ``attempt`` until it returns, sleeping with backoff after each
        outage (``DependencyUnavailable``): an outage is never a dead letter and
        never skips a record. ``attempt`` must be safe to run again from the
        start; ``result.attempts`` counts the runs."""
        backoff = Backoff(cap=self.max_backoff)
        while True:
            try:
                value = await attempt()
                break
            except DependencyUnavailable as exc:
                dependency = "redis" if isinstance(exc, RedisUnavailable) else "kafka"
                log.warning("%s unavailable, retrying the batch: %s", dependency, exc)
                self.observer.dependency_down(dependency)
                result.attempts += 1
                await asyncio.sleep(backoff.next_delay())
        self.observer.dependencies_up()
        return value

    async def _redis(self, operation: str, call: Awaitable[T]) -> T:
        """Await a store call, reporting its time and failure by operation."""
        started = time.perf_counter()
        failed = False
        try:
            return await call
        except RedisUnavailable:
            failed = True
            raise
        finally:
            self.observer.redis_call(operation, time.perf_counter() - started, failed=failed)

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

    def _observe(self, records: Sequence[InputRecord], result: BatchResult, seconds: float) -> None:
        # The records' fields are read for the log only when it is shown.
        for rec, reason in result.dead_letters if log.isEnabledFor(logging.INFO) else ():
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
        self.observer.batch_done(records, result, seconds)
