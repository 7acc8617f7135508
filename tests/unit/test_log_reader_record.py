"""``to_record`` (processor/adapters/log_reader.py) sets a record's slots
directly: the record must be the one the dataclass's constructor makes."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from processor.adapters.log_reader import _RECORD_FIELDS, LogRecord, to_record
from processor.ports import InputRecord


def _message(headers: object) -> SimpleNamespace:
    return SimpleNamespace(
        topic="openlineage.events", partition=3, offset=41, key=b"k", value=b"{}", headers=headers
    )


def test_the_fields_set_are_the_dataclass_fields_in_order() -> None:
    assert tuple(f.name for f in dataclasses.fields(LogRecord)) == _RECORD_FIELDS


def test_a_record_equals_the_one_the_constructor_makes() -> None:
    record = to_record(_message([("trace", b"t1"), ("empty", None)]), timestamp_ms=1_700_000)
    expected = LogRecord(
        "openlineage.events", 3, 41, 1_700_000, b"k", b"{}", (("trace", b"t1"), ("empty", b""))
    )
    assert record == expected
    assert hash(record) == hash(expected)
    assert isinstance(record, InputRecord)
    assert record.header("trace") == "t1"


def test_without_headers_and_timestamp() -> None:
    record = to_record(_message(None), timestamp_ms=None)
    assert record == LogRecord("openlineage.events", 3, 41, None, b"k", b"{}")
    assert record.headers == ()


def test_the_record_stays_frozen() -> None:
    record = to_record(_message([]), timestamp_ms=5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.offset = 42  # type: ignore[misc]
