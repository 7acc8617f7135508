"""The accounting check itself, on an undisturbed run: it passes on the real
worker's books and fails when a dead letter goes missing or an outcome is
miscounted (so a scenario that ends with it proves something)."""

from __future__ import annotations

import dataclasses

import pytest

from processor.core.pipeline import Limits
from processor.samples import realistic_mix
from tests.integration.accounting import (
    DEFAULT_RULE,
    Sent,
    check_accounting,
    check_dead_letters,
    expect,
)
from tests.integration.conftest import Stack
from tests.integration.kafka_utils import produce
from tests.integration.streams import MID_TIME, RAW_ORDERS, delete_value

MALFORMED_CONTROL = [
    b"not json",
    b'{"op": "drop", "requestedAt": "2026-03-05T00:00:00Z"}',
    b'{"op": "delete", "requestedAt": "2026-03-05T00:00:00Z"}',
    None,
]


def test_an_undisturbed_run_balances_and_a_lost_dead_letter_is_caught(stack: Stack) -> None:
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
    assert want.outcomes["deletes"] == 1
    assert books.totals["consumed"] == len(values) + len(deletes)

    # and it fails when a dead letter is missing...
    dead = list(books.dead_letters)
    for drop in (0, len(dead) - 1):
        with pytest.raises(AssertionError, match="not in the DLQ"):
            check_dead_letters(dead[:drop] + dead[drop + 1 :], want, DEFAULT_RULE, Limits())
    # ...or a dead letter's reason or bytes are not the message's
    wrong = dataclasses.replace(
        dead[0], headers={**dead[0].headers, "lineage.reason": "no_lineage_at_all"}
    )
    with pytest.raises(AssertionError):
        check_dead_letters([wrong, *dead[1:]], want, DEFAULT_RULE, Limits())
    changed = dataclasses.replace(dead[0], value=b"{}")
    with pytest.raises(AssertionError):
        check_dead_letters([changed, *dead[1:]], want, DEFAULT_RULE, Limits())
