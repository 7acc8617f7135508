"""The quick path's reading of a plain RunEvent (processor/core/plain_event.py):
the fields classification needs, normalised as the models normalise them."""

from __future__ import annotations

import orjson
import pytest

from processor.core.plain_event import read_plain
from tests.events import OMIT, RUN_ID, dataset, raw_dict


@pytest.mark.parametrize(
    ("when", "normalised"),
    [
        ("2026-03-01T10:00:00Z", "2026-03-01T10:00:00.000000Z"),
        ("2026-03-01T10:00:00", "2026-03-01T10:00:00.000000Z"),  # no offset: UTC
        ("2026-03-01T10:00:00.5-00:00", "2026-03-01T10:00:00.500000Z"),
        ("2026-03-01T10:00:00.123456789+00:00", "2026-03-01T10:00:00.123456Z"),  # cut, not rounded
        ("2026-03-01t10:00:00.9z", "2026-03-01T10:00:00.900000Z"),
        ("2026-03-01 00:30:00.25+01:00", "2026-02-28T23:30:00.250000Z"),
        ("2024-12-31T23:00:00-01:30", "2025-01-01T00:30:00.000000Z"),
    ],
)
def test_the_event_time_is_normalised_to_utc_microseconds(when: str, normalised: str) -> None:
    plain = read_plain(raw_dict(eventTime=when))
    assert plain is not None
    assert plain.event_time == normalised


@pytest.mark.parametrize(
    "when", ["2026-02-29T10:00:00Z", "2026-03-01T24:00:00Z", "2026-03-01T10:00:00+24:00", ""]
)
def test_a_time_the_models_refuse_is_left_to_them(when: str) -> None:
    assert read_plain(raw_dict(eventTime=when)) is None


def test_a_complete_event_gives_its_job_run_and_datasets() -> None:
    event = raw_dict(
        run={"runId": RUN_ID.upper()},
        inputs=[dataset("postgres://db", "public.orders", "TABLE")],
        outputs=[{"namespace": "snowflake://acme", "name": "RAW.ORDERS"}],
    )
    plain = read_plain(event)
    assert plain is not None
    assert plain.event_type == "COMPLETE"
    assert plain.run_id == RUN_ID.upper()  # lowercased by classification, as before
    assert plain.job == ("dbt", "orders")
    facets = event["inputs"][0]["facets"]
    assert plain.inputs == [("postgres://db", "public.orders", facets)]
    assert plain.outputs == [("snowflake://acme", "RAW.ORDERS", None)]


def test_other_event_types_skip_the_datasets() -> None:
    plain = read_plain(raw_dict(eventType="START", run=OMIT))
    assert plain is not None
    assert (plain.event_type, plain.run_id, plain.inputs, plain.outputs) == ("START", None, [], [])


def test_the_strict_profile_leaves_events_without_producer_or_schema_to_the_models() -> None:
    assert read_plain(raw_dict(), strict_profile=True) is not None
    assert read_plain(raw_dict(producer=OMIT), strict_profile=True) is None
    assert read_plain(raw_dict(schemaURL=None), strict_profile=True) is None
    assert read_plain(raw_dict(schemaURL=None)) is not None


def test_static_events_and_odd_shapes_are_left_to_the_models() -> None:
    assert (
        read_plain({"eventTime": "2026-03-01T10:00:00Z", "job": {"namespace": "a", "name": "b"}})
        is None
    )
    assert read_plain(raw_dict(inputs={})) is None
    assert read_plain(raw_dict(outputs=[{"namespace": "a", "name": "b\x00"}])) is None
    assert read_plain(orjson.loads(b'{"eventType": "COMPLETE"}')) is None
