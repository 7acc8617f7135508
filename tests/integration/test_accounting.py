"""The accounting check itself, on an undisturbed run: it passes on the real
worker's books and fails when the books are doctored: a dead letter missing,
one too many, or not the message's; an outcome miscounted in the metrics
(so a scenario that ends with it proves something)."""

from __future__ import annotations

import dataclasses

import pytest

from processor.core.pipeline import Limits
from processor.samples import realistic_mix
from tests.integration.accounting import (
    DEFAULT_RULE,
    Expected,
    Sent,
    check_accounting,
    check_dead_letters,
    check_metrics,
    expect,
)
from tests.integration.conftest import Stack
from tests.integration.harness import MetricKey
from tests.integration.kafka_utils import ReadRecord, produce, read_topic
from tests.integration.streams import MID_TIME, RAW_ORDERS, delete_value

MALFORMED_CONTROL = [
    b"not json",
    b'{"op": "drop", "requestedAt": "2026-03-05T00:00:00Z"}',
    b'{"op": "delete", "requestedAt": "2026-03-05T00:00:00Z"}',
    None,
]
ACCEPTED = ("lineage_events_accepted_total", frozenset[tuple[str, str]]())
DUPLICATE = ("lineage_events_duplicate_total", frozenset[tuple[str, str]]())


def test_an_undisturbed_run_balances_and_doctored_books_are_caught(stack: Stack) -> None:
    messages = realistic_mix(600, seed=3)
    values = [v for _, v in messages]
    deletes = [delete_value(None, RAW_ORDERS, MID_TIME), *MALFORMED_CONTROL]
    worker = stack.start_worker(LINEAGE_BATCH_SIZE="50")
    events = Sent.of(
        stack.input_topic, values, produce(stack.bootstrap, stack.input_topic, messages)
    )
    control = Sent.of(
        stack.control_topic,
        deletes,
        produce(stack.bootstrap, stack.control_topic, [(b"control", v) for v in deletes]),
    )

    def check() -> None:
        check_accounting(
            [worker],
            events,
            control=control,
            bootstrap=stack.bootstrap,
            dlq_topic=stack.dlq_topic,
            timeout=30.0,
        )

    books = check_accounting(
        [worker], events, control=control, bootstrap=stack.bootstrap, dlq_topic=stack.dlq_topic
    )

    want = expect(events, control)
    # the run has every kind of outcome, or the check proves little
    assert want.outcomes["accepted"]
    assert want.outcomes["duplicate"]
    assert want.by_hash
    assert want.by_position
    assert want.rejected["invalid_control"] == len(MALFORMED_CONTROL)
    assert len(want.rejected) >= 2
    assert want.outcomes["deletes"] == 1
    assert books.totals["consumed"] == len(values) + len(deletes)

    topics = [events.topic, control.topic]
    _miscounted_outcomes_are_caught(worker.metrics(), want, topics, len(values) + len(deletes))
    _doctored_dead_letters_are_caught(list(books.dead_letters), want)

    # and one dead letter too many, written after the expected ones: an exact
    # copy of the last, which only a read up to the DLQ's end offsets sees
    last = books.dead_letters[-1]
    produce(
        stack.bootstrap,
        stack.dlq_topic,
        [(last.key, last.value)],
        partition=last.partition,
        headers=[(k, v.encode()) for k, v in last.headers.items()],
    )
    again = read_topic(stack.bootstrap, stack.dlq_topic, expect=len(books.dead_letters))
    assert len(again) == len(books.dead_letters) + 1
    with pytest.raises(AssertionError, match="dead-lettered more than once"):
        check()


def _miscounted_outcomes_are_caught(
    scrape: dict[MetricKey, float], want: Expected, topics: list[str], sent: int
) -> None:
    check_metrics([scrape], want, topics, sent=sent)  # the real scrape passes

    def doctored(changes: dict[MetricKey, int]) -> dict[MetricKey, float]:
        return {**scrape, **{key: scrape.get(key, 0.0) + n for key, n in changes.items()}}

    # one more accepted than consumed: the worker's books do not add up
    with pytest.raises(AssertionError, match="consumed != sum of outcomes"):
        check_metrics([doctored({ACCEPTED: 1})], want, topics, sent=sent)
    # one more consumed and accepted: adds up, but more than was sent
    with pytest.raises(AssertionError, match=f"consumed {sent + 1} != {sent} sent"):
        check_metrics([doctored({ACCEPTED: 1, _consumed(topics[0]): 1})], want, topics, sent=sent)
    # adds up, but an accepted event counted as a duplicate is not the pure pipeline's
    with pytest.raises(AssertionError, match="!= the pure pipeline's"):
        check_metrics([doctored({ACCEPTED: -1, DUPLICATE: 1})], want, topics, sent=sent)
    # adds up, totals right, but one rejection counted under another reason
    reason, other = sorted(want.rejected)[:2]
    moved = doctored({_rejected(reason): -1, _rejected(other): 1})
    with pytest.raises(AssertionError, match="lineage_events_rejected_total by reason"):
        check_metrics([moved], want, topics, sent=sent)
    # without exactly-once only the adding up is checked, and it still catches a miscount
    check_metrics([doctored({ACCEPTED: -1, DUPLICATE: 1})], want, topics, sent=None)
    with pytest.raises(AssertionError, match="consumed != sum of outcomes"):
        check_metrics([doctored({DUPLICATE: -1})], want, topics, sent=None)


def _rejected(reason: str) -> MetricKey:
    return ("lineage_events_rejected_total", frozenset({("reason", reason)}))


def _consumed(topic: str) -> MetricKey:
    return ("lineage_events_consumed_total", frozenset({("topic", topic)}))


def _doctored_dead_letters_are_caught(dead: list[ReadRecord], want: Expected) -> None:
    check_dead_letters(dead, want, DEFAULT_RULE, Limits())  # the real ones pass
    # a dead letter missing...
    for drop in (0, len(dead) - 1):
        with pytest.raises(AssertionError, match="not in the DLQ"):
            check_dead_letters(dead[:drop] + dead[drop + 1 :], want, DEFAULT_RULE, Limits())
    # ...one too many (tolerated only without exactly-once)...
    with pytest.raises(AssertionError, match="dead-lettered more than once"):
        check_dead_letters([*dead, dead[0]], want, DEFAULT_RULE, Limits())
    check_dead_letters([*dead, dead[0]], want, DEFAULT_RULE, Limits(), exactly_once=False)
    # ...or a dead letter's reason or bytes are not the message's
    wrong = dataclasses.replace(
        dead[0], headers={**dead[0].headers, "lineage.reason": "no_lineage_at_all"}
    )
    with pytest.raises(AssertionError):
        check_dead_letters([wrong, *dead[1:]], want, DEFAULT_RULE, Limits())
    changed = dataclasses.replace(dead[0], value=b"{}")
    with pytest.raises(AssertionError):
        check_dead_letters([changed, *dead[1:]], want, DEFAULT_RULE, Limits())
