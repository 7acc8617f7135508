"""The dead-letter commands: ``dlq show``, ``dlq stats`` and ``dlq redrive``.

``processor.cli`` parses the command line, reads the settings and hands them
here; nothing in this module reads the environment. Each command reads the
DLQ topic once, from its first stored record up to the end offsets taken when
it starts, in batches (``adapters.log_reader``), so a topic of any size
fits in memory.

A redrive publishes each selected dead letter's original key and value again
(acks=all) to the topic it came from, then records its DLQ coordinates in
Redis (``adapters.redis_redrive``) so that running it again skips it. A crash
between the two redrives a batch twice, which the content-hash dedup absorbs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from processor.adapters.connections import kafka_options
from processor.adapters.redis_store import OUTCOME_REJECTED
from processor.cli.graph import open_store
from processor.core.dlq_review import (
    REDRIVEN_FROM_HEADER,
    DeadLetter,
    DlqStats,
    RedriveReport,
    Selection,
    awaits_its_mark,
    epoch_micros,
    newest,
    parse_dead_letter,
    parse_reason,
    rejection_hash,
    render_letter,
    target_topic,
)
from processor.errors import ConfigurationError, DependencyUnavailable
from processor.settings import Settings

if TYPE_CHECKING:
    from processor.adapters.dlq_publisher import KafkaPublisher
    from processor.adapters.redis_redrive import RedriveLedger


def selection(args: argparse.Namespace) -> Selection:
    """``--reason`` and ``--since`` as a ``Selection``; ``ConfigurationError``
    (exit code 2) for an unknown reason or a time that is not RFC 3339."""
    reason_arg = getattr(args, "reason", None)
    since_arg = getattr(args, "since", None)
    try:
        reason = None if reason_arg is None else parse_reason(reason_arg)
    except ValueError as exc:
        raise ConfigurationError(f"--reason: {exc}") from None
    try:
        since = None if since_arg is None else epoch_micros(since_arg)
    except ValueError as exc:
        raise ConfigurationError(f"--since: {exc}") from None
    return Selection(reason, since)


async def _dead_letters(settings: Settings) -> AsyncIterator[list[DeadLetter]]:
    """Batches of the DLQ topic's records as ``DeadLetter`` views."""
    from processor.adapters.log_reader import end_offsets, iter_records

    bootstrap, topic = settings.kafka_bootstrap, settings.dlq_topic
    security = kafka_options(settings)
    try:
        ends = await end_offsets(bootstrap, topic, security=security)
    except LookupError:
        raise ConfigurationError(
            f"the dead-letter topic {topic!r} does not exist "
            "(LINEAGE_DLQ_TOPIC; `lineage-processor topics create` makes it)"
        ) from None
    records = iter_records(bootstrap, topic, ends=ends, security=security)
    async with contextlib.aclosing(records) as batches:
        async for batch in batches:
            yield [
                parse_dead_letter(
                    topic=r.topic,
                    partition=r.partition,
                    offset=r.offset,
                    timestamp_ms=-1 if r.timestamp_ms is None else r.timestamp_ms,  # Kafka: none
                    key=r.key,
                    value=r.value,
                    headers=r.headers,
                )
                for r in batch
            ]


def _quiet_client_logs(settings: Settings) -> None:
    # A command reports an unreachable broker itself, in one line; aiokafka
    # would log the same failure first. Its logs stay available at debug.
    if settings.log_level.lower() != "debug":
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def _describe(chosen: Selection, args: argparse.Namespace) -> str:
    parts = []
    if chosen.reason is not None:
        parts.append(f"reason {chosen.reason.value}")
    if chosen.since_us is not None:
        parts.append(f"since {args.since}")
    return " and ".join(parts)


def show(args: argparse.Namespace, settings: Settings) -> int:
    """Print the newest ``--limit`` selected dead letters, one block each, newest last."""
    chosen = selection(args)
    _quiet_client_logs(settings)
    if args.limit < 1:
        raise ConfigurationError(f"--limit: must be at least 1, not {args.limit}")

    async def run() -> tuple[list[DeadLetter], int, int]:
        kept: list[DeadLetter] = []
        matched = total = 0
        async for batch in _dead_letters(settings):
            picked = [d for d in batch if chosen.matches(d)]
            total += len(batch)
            matched += len(picked)
            kept = newest(kept, picked, args.limit)
        return kept, matched, total

    kept, matched, total = asyncio.run(run())
    topic = settings.dlq_topic
    if not kept:
        described = _describe(chosen, args)
        detail = f" with {described} ({total} in {topic})" if described else f" in {topic}"
        print(f"no dead letters{detail}")
        return 0
    for letter in kept:
        print(render_letter(letter))
        print()
    described = _describe(chosen, args)
    of = f"of {matched} with {described}, " if described else "of "
    print(f"{len(kept)} shown (newest last) {of}{total} in {topic}")
    return 0


def stats(args: argparse.Namespace, settings: Settings) -> int:
    """Print counts by reason and source topic and the time span of the DLQ."""
    _quiet_client_logs(settings)

    async def run() -> DlqStats:
        counts = DlqStats()
        async for batch in _dead_letters(settings):
            for letter in batch:
                counts.add(letter)
        return counts

    print(asyncio.run(run()).render(settings.dlq_topic))
    return 0


def redrive(args: argparse.Namespace, settings: Settings) -> int:
    """Publish the selected dead letters again to their topics, once each."""
    chosen = selection(args)
    _quiet_client_logs(settings)
    report = RedriveReport()
    try:
        asyncio.run(_redrive(settings, chosen, report))
    except DependencyUnavailable:
        # What was published before the outage is recorded; say how far it got.
        if report.redriven or report.already:
            print(report.render() + "\n(stopped early, see the error below)", flush=True)
        raise
    print(report.render())
    return 0


async def _redrive(settings: Settings, chosen: Selection, report: RedriveReport) -> None:
    from processor.adapters.dlq_publisher import KafkaPublisher
    from processor.adapters.redis_redrive import RedriveLedger

    async with open_store(settings) as store:
        ledger = RedriveLedger(store)
        publisher = KafkaPublisher(settings.kafka_bootstrap, **kafka_options(settings))
        try:
            async for batch in _dead_letters(settings):
                picked = [d for d in batch if chosen.matches(d)]
                todo: list[DeadLetter] = []
                done = await ledger.redriven([d.coordinates for d in picked])
                for letter, was_done in zip(picked, done, strict=True):
                    if was_done:
                        report.already[letter.reason] += 1
                    elif letter.value_dropped is not None:
                        report.no_value += 1  # republishing no value would fail again
                    else:
                        todo.append(letter)
                if todo:
                    await _redrive_batch(settings, ledger, publisher, todo, report)
                if sys.stderr.isatty():
                    print(f"redriven {sum(report.redriven.values())}", end="\r", file=sys.stderr)
        finally:
            await publisher.close()
            if sys.stderr.isatty():
                print(" " * 30, end="\r", file=sys.stderr)


async def _redrive_batch(
    settings: Settings,
    ledger: RedriveLedger,
    publisher: KafkaPublisher,
    todo: list[DeadLetter],
    report: RedriveReport,
) -> None:
    """Clear the rejection marks, publish (acks=all), then record: in that order."""
    from processor.adapters.dlq_publisher import OutRecord

    topics = [target_topic(d, settings.input_topics, settings.control_topic) for d in todo]
    hashes = [
        # deletes on the control topic are never deduplicated
        None
        if topic == settings.control_topic
        else rejection_hash(d.value, settings.max_json_depth)
        for d, topic in zip(todo, topics, strict=True)
    ]
    marks = await ledger.clear_rejections([h for h in hashes if h is not None])
    report.marks_cleared += sum(1 for m in marks.values() if m == OUTCOME_REJECTED)
    await publisher.publish(
        [
            OutRecord(topic, d.key, d.value, [(REDRIVEN_FROM_HEADER, d.coordinates.encode())])
            for d, topic in zip(todo, topics, strict=True)
        ]
    )
    now_ms = int(time.time() * 1000)
    settled = []
    for d, topic, digest in zip(todo, topics, hashes, strict=True):
        report.redriven[d.reason] += 1
        report.topics[topic] += 1
        mark = None if digest is None else marks[digest]
        if awaits_its_mark(d, mark, now_ms, settings.dedup_ttl_seconds):
            report.unsettled += 1
        else:
            settled.append(d.coordinates)
    await ledger.record(settled)
