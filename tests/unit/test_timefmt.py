"""normalize_time: the eventTime row of docs/design.md section 2."""

from __future__ import annotations

import pytest

from processor.core.timefmt import normalize_time


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # separators T, t and space
        ("2026-03-01T10:00:00Z", "2026-03-01T10:00:00.000000Z"),
        ("2026-03-01t10:00:00Z", "2026-03-01T10:00:00.000000Z"),
        ("2026-03-01 10:00:00Z", "2026-03-01T10:00:00.000000Z"),
        # Z, z, zero offsets and no offset (= UTC)
        ("2026-03-01T10:00:00z", "2026-03-01T10:00:00.000000Z"),
        ("2026-03-01T10:00:00+00:00", "2026-03-01T10:00:00.000000Z"),
        ("2026-03-01T10:00:00-00:00", "2026-03-01T10:00:00.000000Z"),
        ("2026-03-01T10:00:00", "2026-03-01T10:00:00.000000Z"),
        # offsets: local time minus offset
        ("2026-03-01T10:00:00+01:00", "2026-03-01T09:00:00.000000Z"),
        ("2026-03-01T10:00:00-05:30", "2026-03-01T15:30:00.000000Z"),
        ("2026-03-01T10:00:00+23:59", "2026-02-28T10:01:00.000000Z"),  # 10:00 - 23:59 = -13:59
        # across midnight and the year, both directions
        ("2026-01-01T00:30:00+01:00", "2025-12-31T23:30:00.000000Z"),
        ("2025-12-31T23:30:00-01:00", "2026-01-01T00:30:00.000000Z"),
        ("2024-03-01T00:00:00+00:01", "2024-02-29T23:59:00.000000Z"),  # leap day
        # fractions: padded, truncated to microseconds, never rounded
        ("2026-03-01T10:00:00.5Z", "2026-03-01T10:00:00.500000Z"),
        ("2026-03-01T10:00:00.123456Z", "2026-03-01T10:00:00.123456Z"),
        ("2026-03-01T10:00:00.1234569Z", "2026-03-01T10:00:00.123456Z"),
        ("2026-03-01T10:00:00.9999999Z", "2026-03-01T10:00:00.999999Z"),
        ("2026-12-31T23:59:59.999999999Z", "2026-12-31T23:59:59.999999Z"),
        ("2026-03-01T10:00:00.000000000001Z", "2026-03-01T10:00:00.000000Z"),
        ("2026-03-01 10:00:00.9999999+01:00", "2026-03-01T09:00:00.999999Z"),
        # the bounds of the representable range
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000Z"),
        ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"),
    ],
)
def test_valid_times_normalise(value: str, expected: str) -> None:
    assert normalize_time(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "2026-03-01",  # a date alone
        "10:00:00Z",  # a time alone
        "1772359200",  # a number in a string
        "2026-03-01T24:00:00Z",  # hour 24
        "2026-03-01T10:60:00Z",
        "2026-03-01T10:00:60Z",
        "2016-12-31T23:59:60Z",  # a real leap second: not accepted either
        "2026-02-30T10:00:00Z",  # Feb 30
        "2026-02-29T10:00:00Z",  # not a leap year
        "2026-13-01T10:00:00Z",
        "2026-00-01T10:00:00Z",
        "0000-01-01T00:00:00Z",  # year 0
        "2026-3-1T10:00:00Z",
        "2026-03-01T10:00Z",  # no seconds
        "2026-03-01T10:00:00.Z",  # a dot without digits
        "2026-03-01T10:00:00,5Z",  # comma fraction
        "2026-03-01T10:00:00+0100",  # offset without a colon
        "2026-03-01T10:00:00+01",
        "2026-03-01T10:00:00+24:00",
        "2026-03-01T10:00:00+01:60",
        "2026-03-01T10:00:00UTC",
        "2026-03-01T10:00:00ZZ",
        "2026-03-01_10:00:00Z",
        "2026-03-01T10:00:00Z\n",  # trailing newline
        " 2026-03-01T10:00:00Z",
        "２０２６-03-01T10:00:00Z",  # non-ASCII digits
        "2026-03-01T1٠:00:00Z",  # Arabic-Indic zero
        "",
        "9999-12-31T23:00:00-02:00",  # past year 9999 once in UTC
        "0001-01-01T00:30:00+01:00",  # before year 1 once in UTC
    ],
)
def test_invalid_times_raise_value_error(value: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        normalize_time(value)


def test_output_is_fixed_width_and_idempotent() -> None:
    out = normalize_time("2026-03-01 10:00:00.5+02:00")
    assert out == "2026-03-01T08:00:00.500000Z"
    assert len(out) == len("YYYY-MM-DDTHH:MM:SS.ffffffZ")
    assert normalize_time(out) == out


def test_two_spellings_of_one_instant_agree() -> None:
    spellings = [
        "2026-03-01T10:00:00Z",
        "2026-03-01t10:00:00.000000000z",
        "2026-03-01 11:00:00+01:00",
        "2026-03-01T05:30:00.0000001-04:30",
        "2026-03-01T10:00:00",
    ]
    assert {normalize_time(s) for s in spellings} == {"2026-03-01T10:00:00.000000Z"}


def test_retention_floor_counts_whole_days_back_from_as_of() -> None:
    from processor.core.timefmt import retention_floor

    assert retention_floor("2026-03-10T12:30:00.250000Z", 7) == "2026-03-03T12:30:00.250000Z"
    # Across a leap day: 2028-03-01 minus 1 day is 2028-02-29.
    assert retention_floor("2028-03-01T00:00:00.000000Z", 1) == "2028-02-29T00:00:00.000000Z"
    assert retention_floor("2026-03-10T12:30:00.000000Z", None) == ""
    assert retention_floor("0001-01-02T00:00:00.000000Z", 5) == ""  # before year 1


def test_format_time_is_the_normalised_form_in_utc() -> None:
    from datetime import datetime, timedelta, timezone

    from processor.core.timefmt import format_time

    moment = datetime(2026, 3, 1, 11, 0, 0, 5, tzinfo=timezone(timedelta(hours=1)))
    assert format_time(moment) == "2026-03-01T10:00:00.000005Z"
