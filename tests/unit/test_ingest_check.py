"""The gateway's steps 1-3 (processor/ingest/check.py) refuse exactly what the
worker's ``classify`` refuses at those steps (docs/design.md section 3), with the
same reason and message, and nothing else; and a batch element decoded with its
array is judged as its own bytes would be."""

from __future__ import annotations

import os

import orjson
import pytest

from processor.core.pipeline import Limits, Rejected, classify
from processor.core.reasons import Reason
from processor.core.rules import MixRule
from processor.ingest.check import check_decoded, check_raw
from processor.ingest.processes import process_count
from processor.samples import realistic_mix
from processor.settings import Settings
from tests.events import raw_dict, raw_event

STEPS_1_TO_3 = {Reason.TOO_LARGE.value, Reason.INVALID_JSON.value, Reason.INVALID_EVENT.value}
LIMITS = Limits(max_event_bytes=4096, max_depth=8)


def _rule() -> MixRule:
    return Settings(internal_namespaces="snowflake://*").rule()


def _values() -> list[bytes]:
    values = [v for _, v in realistic_mix(600, seed=3) if v]
    deep: dict[str, object] = {"leaf": 1}
    for _ in range(10):
        deep = {"nested": deep}
    values += [
        raw_event(),
        raw_event(eventType="START"),
        raw_event(outputs=[{"namespace": "n"}]),  # a dataset without a name
        raw_event(run={"facets": {"deep": deep}}),  # over the depth bound
        raw_event(producer="x" * 5000),  # over the size bound
        b"[1, 2]",
        b'"a string"',
        b"{not json",
        b"{}",
    ]
    return values


def test_check_raw_refuses_what_classify_refuses_at_steps_1_to_3() -> None:
    rule = _rule()
    refused = passed = 0
    for value in _values():
        expected = classify(value, rule, LIMITS)
        got = check_raw(value, LIMITS)
        if isinstance(expected, Rejected) and expected.reason in STEPS_1_TO_3:
            assert got == expected, value[:200]
            refused += 1
        else:
            assert isinstance(got, dict), (value[:200], got)
            assert got == orjson.loads(value)
            passed += 1
    # Both sides were exercised.
    assert refused >= 6
    assert passed >= 100


def test_a_batch_element_is_judged_as_its_own_bytes() -> None:
    for value in _values():
        try:
            item = orjson.loads(value)
        except orjson.JSONDecodeError:
            continue  # not JSON: cannot be an element of a JSON array
        raw = orjson.dumps(item)
        expected = check_raw(raw, LIMITS)
        got = check_decoded(item, raw, LIMITS)
        if isinstance(expected, Rejected):
            assert got == expected, raw[:200]
        else:
            assert got is None, (raw[:200], got)


def test_an_array_element_that_is_not_an_object_says_what_it_is() -> None:
    got = check_decoded([1], b"[1]", LIMITS)
    assert got == Rejected(Reason.INVALID_JSON.value, "expected a JSON object, got an array")
    assert check_decoded(raw_dict(), orjson.dumps(raw_dict()), LIMITS) is None


def test_gateway_processes_default_to_the_cores_this_process_may_use() -> None:
    assert process_count(Settings(ingest_processes=3)) == 3
    assert process_count(Settings(ingest_processes=1)) == 1
    assert process_count(Settings()) == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("count", [-1, 257])
def test_gateway_processes_are_bounded(count: int) -> None:
    with pytest.raises(ValueError, match="ingest_processes"):
        Settings(ingest_processes=count)
