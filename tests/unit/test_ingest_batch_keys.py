"""The batch route's key is the Kafka transport's key (core/message_keys.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from processor.core.message_keys import message_key
from processor.ingest.batch_keys import batch_key
from processor.samples import realistic_mix

CORPUS = Path("/work/shared/corpus/openlineage-fixtures.jsonl")


def _corpus() -> list[dict[str, Any]]:
    events = []
    for line in CORPUS.read_text().splitlines():
        entry = json.loads(line)
        event = entry.get("event", entry) if isinstance(entry, dict) else entry
        if isinstance(event, dict):
            events.append(event)
    return events


def test_equal_on_the_fixtures_corpus() -> None:
    events = _corpus()
    assert len(events) > 400
    for event in events:
        assert batch_key(event) == message_key(event)


def test_equal_on_the_sample_mix() -> None:
    keyed = 0
    for _, value in realistic_mix(3000, seed=3):
        try:
            event = orjson.loads(value)
        except orjson.JSONDecodeError:
            continue
        if isinstance(event, dict):
            key = batch_key(event)
            assert key == message_key(event)
            keyed += key is not None
    assert keyed > 2000


JOB = {"namespace": "ns", "name": "child"}
PARENT_JOB = {"namespace": "pns", "name": "parent"}
ROOT_JOB = {"namespace": "rns", "name": "root"}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"eventType": "START", "job": JOB}, b"run:ns/child"),
        ({"run": {}, "job": JOB}, b"run:ns/child"),
        ({"run": {"facets": {"parent": {"job": PARENT_JOB}}}, "job": JOB}, b"run:pns/parent"),
        (
            {"run": {"facets": {"parent": {"job": PARENT_JOB, "root": {"job": ROOT_JOB}}}}},
            b"run:rns/root",
        ),
        # An empty root name falls back to the parent, an empty parent's to the job.
        (
            {
                "run": {
                    "facets": {
                        "parent": {
                            "job": PARENT_JOB,
                            "root": {"job": {"namespace": "r", "name": ""}},
                        }
                    }
                },
                "job": JOB,
            },
            b"run:pns/parent",
        ),
        (
            {"run": {"facets": {"parent": {"job": {"namespace": "", "name": "p"}}}}, "job": JOB},
            b"run:ns/child",
        ),
        # The job's own name may be empty; a job that is not named gives no key.
        ({"eventType": "START", "job": {"namespace": "ns", "name": ""}}, b"run:ns/"),
        ({"eventType": "START", "job": {"namespace": "ns", "name": 3}}, None),
        ({"eventType": "START", "job": "j"}, None),
        ({"run": "r", "job": JOB}, b"run:ns/child"),
        ({"run": {"facets": {"parent": "p"}}, "job": JOB}, b"run:ns/child"),
        ({"run": {"facets": {"parent": {"root": "x", "job": PARENT_JOB}}}}, b"run:pns/parent"),
        ({"job": JOB}, b"job:ns/child"),
        ({"dataset": {"namespace": "d", "name": "t"}}, b"dataset:d/t"),
        ({}, None),
    ],
)
def test_each_shape(event: dict[str, Any], expected: bytes | None) -> None:
    assert message_key(event) == expected
    assert batch_key(event) == expected
