"""The accounting check every fault and hostile-input scenario ends with.

The promise (docs/operations.md, "Guarantees"): whatever happens, no lineage is lost,
nothing is double-counted in the graph, every rejected message is in the
dead-letter topic, and the worker keeps going. ``check_accounting`` turns that
into assertions over what the test sent and what the real services hold:

1. **Metrics add up**, on every worker, from one scrape each: messages consumed
   (input and control topics) = accepted + duplicate + ignored + rejected +
   deletes applied. With ``exactly_once`` (no crash, no redelivery) the totals
   over the workers also equal what the pure pipeline says for the messages.
2. **The DLQ holds every rejected message**: each message rejected before dedup
   (bad bytes, JSON, event, limits, malformed control) is there by its source
   position, and each rule-rejected event by its content hash. Every dead
   letter is explained: it carries the original bytes of the message at its
   source position and the reason the pure pipeline gives that message. With
   ``exactly_once`` there is exactly one dead letter per rejection. The DLQ is
   read up to its exact end offsets, so a letter too many is seen.
3. **The graph is the pure fold's**: the served snapshot hash equals the hash
   of the reference fold over the same messages and deletes.

Expected values come from the pure core (``classify``, ``parse_control``, the
in-memory ``Graph``), never from the worker under test.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from processor.core.control import parse_control
from processor.core.fold import Graph
from processor.core.pipeline import Accepted, Classified, Ignored, Limits, Rejected, classify
from processor.core.rules import MixRule
from processor.core.snapshot import snapshot_hash
from tests.integration.harness import MetricKey, WorkerProcess, wait_for
from tests.integration.kafka_utils import ReadRecord, read_topic

DEFAULT_RULE = MixRule("mixed", ["snowflake://*"])
DLQ_HEADERS = (
    "lineage.reason",
    "lineage.error",
    "lineage.source.topic",
    "lineage.source.partition",
    "lineage.source.offset",
    "lineage.source.timestamp",
    "lineage.processor.version",
    "lineage.rule",
)
OUTCOME_METRICS = {
    "accepted": "lineage_events_accepted_total",
    "duplicate": "lineage_events_duplicate_total",
    "ignored": "lineage_events_ignored_total",
    "rejected": "lineage_events_rejected_total",
    "deletes": "lineage_deletes_applied_total",
}

Position = tuple[str, int, int]  # topic, partition, offset


@dataclass(frozen=True)
class Sent:
    """Messages a test published to one topic, with where each one landed."""

    topic: str
    values: Sequence[bytes | None]
    positions: Sequence[tuple[int, int]]  # (partition, offset) of each value

    @classmethod
    def of(
        cls, topic: str, values: Sequence[bytes | None], produced: Sequence[tuple[int, int, int]]
    ) -> Sent:
        """From ``kafka_utils.produce``'s (partition, offset, timestamp) answers."""
        assert len(values) == len(produced), (len(values), len(produced))
        return cls(topic, list(values), [(p, o) for p, o, _ in produced])


@dataclass
class Expected:
    """What the pure core says about a run's messages."""

    graph: Graph
    outcomes: Counter[str] = field(default_factory=Counter)  # accepted, duplicate, ...
    ignored: Counter[str] = field(default_factory=Counter)  # by eventType
    rejected: Counter[str] = field(default_factory=Counter)  # by reason
    # dead letters that must be there by source position, with their reason
    by_position: dict[Position, str] = field(default_factory=dict)
    # rule-rejected events, by content hash, with their reason
    by_hash: dict[str, str] = field(default_factory=dict)
    values: dict[Position, bytes | None] = field(default_factory=dict)

    @property
    def dead_letters(self) -> int:
        return sum(self.rejected.values())

    @property
    def snapshot_hash(self) -> str:
        return snapshot_hash(self.graph.snapshot())


def expect(
    events: Sent,
    control: Sent | None = None,
    rule: MixRule | None = None,
    limits: Limits | None = None,
) -> Expected:
    """Outcomes, dead letters and graph of docs/design.md section 3 for these messages:
    rejections before dedup count every copy; of the valid events, the first copy
    of each content hash has its outcome and later copies are duplicates."""
    rule, limits = rule or DEFAULT_RULE, limits or Limits()
    want = Expected(Graph())
    seen: set[str] = set()
    for value, (partition, offset) in zip(events.values, events.positions, strict=True):
        position = (events.topic, partition, offset)
        want.values[position] = value
        c = classify(value, rule, limits)
        if isinstance(c, Rejected):
            want.rejected[c.reason] += 1
            want.by_position[position] = c.reason
            continue
        assert isinstance(c, Classified)
        if c.content_hash in seen:
            want.outcomes["duplicate"] += 1
            continue
        seen.add(c.content_hash)
        outcome = c.outcome
        if isinstance(outcome, Accepted):
            want.outcomes["accepted"] += 1
            want.graph.apply(outcome.fold)
        elif isinstance(outcome, Rejected):
            want.rejected[outcome.reason] += 1
            want.by_hash[c.content_hash] = outcome.reason
        else:
            assert isinstance(outcome, Ignored)
            want.ignored[outcome.event_type] += 1
    if control is not None:
        for value, (partition, offset) in zip(control.values, control.positions, strict=True):
            position = (control.topic, partition, offset)
            want.values[position] = value
            request = parse_control(value, limits.max_depth)
            if isinstance(request, Rejected):
                want.rejected[request.reason] += 1
                want.by_position[position] = request.reason
            else:
                want.outcomes["deletes"] += 1
                want.graph.delete(request)
    want.outcomes["ignored"] = sum(want.ignored.values())
    want.outcomes["rejected"] = want.dead_letters
    return want


@dataclass(frozen=True)
class Accounting:
    """What the check saw, for assertions of a scenario's own."""

    totals: dict[str, int]  # consumed and each outcome, summed over the workers
    dead_letters: list[ReadRecord]
    snapshot_hash: str


def worker_totals(worker: WorkerProcess, topics: Sequence[str]) -> dict[str, int]:
    """Consumed (on ``topics``) and outcome counters of one worker, from one scrape."""
    return scrape_totals(worker.metrics(), topics)


def scrape_totals(scrape: Mapping[MetricKey, float], topics: Sequence[str]) -> dict[str, int]:
    """Consumed (on ``topics``) and outcome counters of one scrape.

    One scrape is consistent: a batch's records and their outcomes are counted
    together, with no await in between.
    """
    totals = dict.fromkeys(["consumed", *OUTCOME_METRICS], 0)
    for (name, labels), value in scrape.items():
        for key, wanted in OUTCOME_METRICS.items():
            if name == wanted:
                totals[key] += int(value)
        if name == "lineage_events_consumed_total" and dict(labels).get("topic") in topics:
            totals["consumed"] += int(value)
    return totals


def assert_adds_up(totals: dict[str, int], where: str = "") -> None:
    """consumed = accepted + duplicate + ignored + rejected + deletes applied."""
    outcomes = sum(totals[key] for key in OUTCOME_METRICS)
    assert totals["consumed"] == outcomes, f"{where} consumed != sum of outcomes: {totals}"


def check_metrics(
    scrapes: Sequence[Mapping[MetricKey, float]],
    want: Expected,
    topics: Sequence[str],
    *,
    sent: int | None,
    names: Sequence[str] = (),
) -> dict[str, int]:
    """Check one scrape per worker (named by ``names``); returns the totals over them.

    Each scrape must add up. With ``sent`` (exactly once: the scrapes cover
    the whole run, nothing redelivered) the totals must also be the pure
    pipeline's: ``sent`` consumed, and each outcome, each rejection reason and
    each ignored event type as often as ``want`` says.
    """
    per_worker = [scrape_totals(scrape, topics) for scrape in scrapes]
    for i, totals in enumerate(per_worker):
        assert_adds_up(totals, f"{names[i] if i < len(names) else f'worker {i}'}:")
    totals = {key: sum(t[key] for t in per_worker) for key in per_worker[0]}
    if sent is None:
        return totals
    assert totals["consumed"] == sent, f"consumed {totals['consumed']} != {sent} sent"
    got_outcomes = {k: totals[k] for k in OUTCOME_METRICS}
    want_outcomes = {k: want.outcomes[k] for k in OUTCOME_METRICS}
    assert got_outcomes == want_outcomes, (
        f"outcomes {got_outcomes} != the pure pipeline's {want_outcomes}"
    )
    for series, label, counts in (
        ("lineage_events_rejected_total", "reason", want.rejected),
        ("lineage_events_ignored_total", "event_type", want.ignored),
    ):
        got: Counter[str] = Counter()
        for scrape in scrapes:
            for (name, labels), value in scrape.items():
                if name == series:
                    got[dict(labels)[label]] += int(value)
        assert +got == +counts, f"{series} by {label}: {dict(+got)} != {dict(+counts)}"
    return totals


def check_accounting(
    workers: Sequence[WorkerProcess],
    events: Sent,
    *,
    bootstrap: str,
    dlq_topic: str,
    control: Sent | None = None,
    rule: MixRule | None = None,
    limits: Limits | None = None,
    exactly_once: bool = True,
    timeout: float = 120.0,
) -> Accounting:
    """Wait until the workers have processed everything sent, then check the books.

    ``workers`` are the live workers; with ``exactly_once`` their counters must
    cover the whole run (no worker was killed, no record redelivered), and the
    totals must equal the pure pipeline's. Without it (crashes, restarts,
    rebalances) each worker's counters must still add up, every rejection must
    be in the DLQ at least once, and nothing else may be there.
    """
    want = expect(events, control, rule, limits)
    topics = [events.topic] + ([control.topic] if control else [])
    sent = len(events.values) + (len(control.values) if control else 0)
    assert workers, "no live worker to check"
    describe = "\n".join(w.describe() for w in workers)

    def processed() -> bool:
        totals = [worker_totals(w, topics) for w in workers]
        if exactly_once and sum(t["consumed"] for t in totals) < sent:
            return False
        got = workers[0].get_json("/api/v1/graph/snapshot?hash=1")["sha256"]
        return bool(got == want.snapshot_hash)

    wait_for(processed, timeout=timeout, interval=0.25, describe=lambda: describe)

    # 1. metrics add up, per worker and (exactly once) against the pure pipeline
    totals = check_metrics(
        [w.metrics() for w in workers],
        want,
        topics,
        sent=sent if exactly_once else None,
        names=[f"worker pid {w.pid}" for w in workers],
    )

    # 2. the DLQ holds every rejection, and only rejections (read to its end)
    dead = read_topic(bootstrap, dlq_topic, expect=want.dead_letters, timeout=60.0)
    check_dead_letters(
        dead, want, rule or DEFAULT_RULE, limits or Limits(), exactly_once=exactly_once
    )

    # 3. the graph (waited for above; every worker serves the same one)
    for worker in workers:
        got = worker.get_json("/api/v1/graph/snapshot?hash=1")["sha256"]
        assert got == want.snapshot_hash, worker.describe()
    return Accounting(totals, dead, want.snapshot_hash)


def check_dead_letters(
    dead: Sequence[ReadRecord],
    want: Expected,
    rule: MixRule,
    limits: Limits,
    *,
    exactly_once: bool = True,
) -> None:
    """Every expected rejection is in ``dead``; every record of ``dead`` is one;
    with ``exactly_once``, each rejection is there once and nothing more."""
    found_positions: Counter[Position] = Counter()
    found_hashes: Counter[str] = Counter()
    for record in dead:
        missing = [h for h in DLQ_HEADERS if h not in record.headers]
        assert not missing, f"dead letter without {missing}: {record.headers}"
        h = record.headers
        position = (
            h["lineage.source.topic"],
            int(h["lineage.source.partition"]),
            int(h["lineage.source.offset"]),
        )
        assert position in want.values, f"dead letter from a position never sent: {position}"
        # value unchanged: the original bytes of the message at that position
        assert _digest(record.value) == _digest(want.values[position]), position
        reason = h["lineage.reason"]
        if position in want.by_position:
            assert reason == want.by_position[position], (position, reason)
            found_positions[position] += 1
            continue
        c = classify(record.value, rule, limits)
        assert isinstance(c, Classified), f"{position}: dead-lettered, but {c}"
        assert c.content_hash in want.by_hash, f"{position}: dead-lettered but not rejected"
        assert reason == want.by_hash[c.content_hash], (position, reason)
        found_hashes[c.content_hash] += 1
    lost_positions = set(want.by_position) - set(found_positions)
    lost_hashes = set(want.by_hash) - set(found_hashes)
    assert not lost_positions, f"rejected but not in the DLQ: {sorted(lost_positions)[:10]}"
    assert not lost_hashes, f"rule-rejected but not in the DLQ: {len(lost_hashes)} events"
    if exactly_once:
        again = sorted(p for p, n in found_positions.items() if n > 1)
        again_hashes = [x for x, n in found_hashes.items() if n > 1]
        assert not again, f"dead-lettered more than once: {again[:10]}"
        assert not again_hashes, f"dead-lettered more than once: {len(again_hashes)} events"
        assert len(dead) == want.dead_letters, (
            f"{len(dead)} dead letters for {want.dead_letters} rejections: {dict(want.rejected)}"
        )


def _digest(value: bytes | None) -> str | None:
    return None if value is None else hashlib.sha256(value).hexdigest()
