"""The gateway's quick yes (processor/ingest/profile_check.py) says yes only to
what the worker's ``validate_event`` accepts (docs/design.md section 2), and
says it to the plain RunEvents that make up real traffic."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from processor.core.models import Dataset, Job, Run, RunEvent
from processor.core.validate import validate_event
from processor.errors import InvalidMessage
from processor.ingest.profile_check import fits
from processor.samples import realistic_mix
from tests.events import OMIT, RUN_ID, dataset, raw_dict


def _accepted(event: dict[str, Any]) -> bool:
    try:
        validate_event(event)
    except InvalidMessage:
        return False
    return True


def _rich() -> dict[str, Any]:
    """Every field the RunEvent model reads, each with a value it accepts."""
    return raw_dict(
        run={"runId": RUN_ID, "facets": {"parent": {"job": {"namespace": "a", "name": "b"}}}},
        job={"namespace": "dbt", "name": "orders", "facets": {"sql": {"query": "select 1"}}},
        inputs=[
            dataset("postgres://db", "public.orders", "TABLE"),
            {"namespace": "s3://b", "name": "k", "inputFacets": {}, "outputFacets": None},
        ],
        outputs=[{"namespace": "snowflake://acme", "name": "RAW.ORDERS", "outputFacets": {}}],
    )


# (path, value): a value at that place. Those the models refuse must not get a
# yes; those they accept may.
_PLACES: list[tuple[tuple[Any, ...], Any]] = [
    (("eventType",), "DONE"),
    (("eventType",), "complete"),
    (("eventType",), 1),
    (("eventType",), None),
    (("eventType",), OMIT),
    (("eventTime",), "yesterday"),
    (("eventTime",), "2026-02-30T10:00:00Z"),
    (("eventTime",), "2026-03-01T10:00:00+24:00"),
    (("eventTime",), "0001-01-01T00:30:00+01:00"),
    (("eventTime",), "2026-03-01 10:00:00"),
    (("eventTime",), "2026-03-01T10:00:00.123456789-05:30"),
    (("eventTime",), 1767261600),
    (("eventTime",), OMIT),
    (("job",), OMIT),
    (("job",), []),
    (("job",), None),
    (("job", "namespace"), ""),
    (("job", "name"), 1),
    (("job", "name"), OMIT),
    (("job", "name"), "a\x00b"),  # a NUL is refused in dataset names only
    (("job", "facets"), []),
    (("job", "facets"), None),
    (("run",), None),
    (("run",), OMIT),
    (("run",), []),
    (("run", "runId"), "not-a-uuid"),
    (("run", "runId"), RUN_ID + "\n"),
    (("run", "runId"), RUN_ID.upper()),
    (("run", "runId"), None),
    (("run", "runId"), 7),
    (("run", "facets"), "x"),
    (("inputs",), None),
    (("inputs",), {}),
    (("inputs",), [1]),
    (("inputs",), []),
    (("inputs", 0, "namespace"), ""),
    (("inputs", 0, "name"), "a\x00b"),
    (("inputs", 0, "name"), OMIT),
    (("inputs", 0, "facets"), []),
    (("inputs", 1, "inputFacets"), "x"),
    (("outputs", 0, "outputFacets"), 1),
    (("outputs", 0, "name"), ["x"]),
    (("producer",), 1),
    (("producer",), None),
    (("schemaURL",), []),
    (("schemaURL",), OMIT),
]


def _placed(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    event = copy.deepcopy(_rich())
    node: Any = event
    for step in path[:-1]:
        node = node[step]
    if value is OMIT:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return event


def test_the_rich_event_gets_a_yes() -> None:
    assert _accepted(_rich())
    assert fits(_rich())


@pytest.mark.parametrize(("path", "value"), _PLACES)
def test_a_yes_only_for_what_the_models_accept(path: tuple[Any, ...], value: Any) -> None:
    event = _placed(path, value)
    if fits(event):
        assert _accepted(event), (path, value)


def test_the_models_refuse_most_of_those_places() -> None:
    # The table above exercises refusals, not only acceptances.
    refused = [p for p in _PLACES if not _accepted(_placed(*p))]
    assert len(refused) >= 30


def test_on_the_realistic_mix_a_yes_is_a_yes_and_plain_events_get_one() -> None:
    valid_run_events = yes = 0
    for _, value in realistic_mix(1500, seed=11):
        try:
            event = orjson.loads(value or b"")
        except orjson.JSONDecodeError:
            continue
        if not isinstance(event, dict):
            continue
        accepted = _accepted(event)
        if fits(event):
            assert accepted, value[:300] if value else value
            yes += 1
        if accepted and ("run" in event or "eventType" in event):
            valid_run_events += 1
    # The mix's RunEvents are the client's own: every valid one is plain.
    assert yes == valid_run_events > 1000


def test_static_events_are_left_to_the_models() -> None:
    assert not fits({"eventTime": "2026-03-01T10:00:00Z", "job": {"namespace": "a", "name": "b"}})
    assert not fits(
        {"eventTime": "2026-03-01T10:00:00Z", "dataset": {"namespace": "a", "name": "b"}}
    )


def test_the_models_have_the_fields_the_quick_check_knows() -> None:
    # profile_check mirrors these models; a field added or removed here must be
    # mirrored there (and the places above extended).
    assert set(RunEvent.model_fields) == {
        "eventType", "eventTime", "job", "run", "inputs", "outputs", "producer", "schemaURL",
    }  # fmt: skip
    assert set(Job.model_fields) == {"namespace", "name", "facets"}
    assert set(Run.model_fields) == {"runId", "facets"}
    assert set(Dataset.model_fields) == {
        "namespace", "name", "facets", "inputFacets", "outputFacets",
    }  # fmt: skip
    for model in (RunEvent, Job, Run, Dataset):
        assert model.model_config.get("strict") is True


@pytest.mark.parametrize(
    ("when", "valid"),
    [
        ("2024-05-01T10:00:00Z", True),
        ("2024-05-01T10:00:00.123456789Z", True),
        ("2024-05-01T10:00:00+00:00", True),
        ("2024-05-01T10:00:00-00:00", True),
        ("2024-05-01T10:00:00", True),  # no offset: UTC
        ("2024-05-01t10:00:00z", True),  # RFC 3339 allows lower case
        ("2024-05-01 10:00:00+02:00", True),
        ("2024-02-29T10:00:00Z", True),  # a leap year
        ("2023-02-29T10:00:00Z", False),
        ("2024-13-01T10:00:00Z", False),
        ("2024-05-01T24:00:00Z", False),
        ("2024-05-01T10:60:00Z", False),
        ("2024-05-01T10:00:00+24:00", False),
        ("0001-01-01T00:30:00+01:00", False),  # before year 1 in UTC
        ("2024-5-01T10:00:00Z", False),
        ("2024-05-01T10:00:00.Z", False),
        ("2024-05-01T10:00:00ZZ", False),
        ("\u0662024-05-01T10:00:00Z", False),  # an Arabic-Indic digit is no digit here
        ("", False),
    ],
)
def test_event_times_are_taken_as_rfc_3339_says(when: str, valid: bool) -> None:
    event = raw_dict(eventTime=when)
    assert fits(event) is valid
    assert _accepted(event) is valid
