"""normalize_time is idempotent and order-preserving; canonical_json ignores key order."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from processor.core.identity import canonical_json, content_hash
from processor.core.timefmt import normalize_time

SETTINGS = settings(max_examples=200, deadline=None)
JSON_SETTINGS = settings(max_examples=100, deadline=None)

NORMAL_FORM = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")

OFFSETS = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
# years kept away from 1 and 9999 so that no offset pushes the instant out of range
AWARE = st.datetimes(
    min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=OFFSETS
)


def spell(dt: datetime, sep: str, zulu: str, extra_digits: str) -> str:
    """An RFC 3339 spelling of ``dt`` (an aware datetime with a whole-minute offset)."""
    text = dt.isoformat(sep=sep, timespec="microseconds")  # ...SS.ffffff+HH:MM
    if dt.utcoffset() == timedelta(0) and zulu:
        text = text[: -len("+00:00")] + zulu
    if extra_digits:  # more fraction digits: truncated away
        head, dot, rest = text.partition(".")
        text = head + dot + rest[:6] + extra_digits + rest[6:]
    return text


SPELLINGS = st.tuples(
    AWARE,
    st.sampled_from(["T", "t", " "]),
    st.sampled_from(["", "Z", "z"]),
    st.text("0123456789", max_size=4),
)


@SETTINGS
@given(spelling=SPELLINGS)
def test_normalize_time_value_and_idempotence(spelling: tuple[datetime, str, str, str]) -> None:
    dt = spelling[0]
    out = normalize_time(spell(*spelling))
    assert NORMAL_FORM.fullmatch(out)
    u = dt.astimezone(UTC)
    assert out == (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:"
        f"{u.second:02d}.{u.microsecond:06d}Z"
    )
    assert normalize_time(out) == out


@SETTINGS
@given(a=SPELLINGS, b=SPELLINGS)
def test_string_order_of_normalised_times_is_time_order(
    a: tuple[datetime, str, str, str], b: tuple[datetime, str, str, str]
) -> None:
    na, nb = normalize_time(spell(*a)), normalize_time(spell(*b))
    ta, tb = a[0], b[0]
    assert (na < nb) == (ta < tb)
    assert (na == nb) == (ta == tb)


@SETTINGS
@given(dt=AWARE)
def test_naive_time_is_utc(dt: datetime) -> None:
    naive = dt.replace(tzinfo=None)
    assert normalize_time(naive.isoformat(timespec="microseconds")) == normalize_time(
        naive.replace(tzinfo=UTC).isoformat(timespec="microseconds")
    )


@SETTINGS
@given(
    text=st.text(max_size=40)
    | st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9:.+Zz-]{8,20}", fullmatch=True)
)
def test_normalize_time_on_any_string(text: str) -> None:
    try:
        out = normalize_time(text)
    except ValueError:
        return
    assert NORMAL_FORM.fullmatch(out)
    assert normalize_time(out) == out


# ------------------------------------------------------------------ canonical JSON

SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=10)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)
JSON_WITH_FLOATS = st.recursive(
    SCALARS | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)


def reorder(obj: Any, rnd: random.Random) -> Any:
    if isinstance(obj, dict):
        items = list(obj.items())
        rnd.shuffle(items)
        return {k: reorder(v, rnd) for k, v in items}
    if isinstance(obj, list):
        return [reorder(v, rnd) for v in obj]
    return obj


@JSON_SETTINGS
@given(
    obj=st.dictionaries(st.text(max_size=8), JSON_WITH_FLOATS, max_size=6),
    rnd=st.randoms(use_true_random=False),
)
def test_canonical_json_ignores_key_order(obj: dict[str, Any], rnd: random.Random) -> None:
    shuffled = reorder(obj, rnd)
    assert canonical_json(shuffled) == canonical_json(obj)
    assert content_hash(shuffled) == content_hash(obj)


@JSON_SETTINGS
@given(obj=st.dictionaries(st.text(max_size=8), JSON, max_size=6))
def test_canonical_json_is_sorted_compact_utf8(obj: dict[str, Any]) -> None:
    # the definition, with the standard library (floats left out: their
    # spelling is the one thing the two serialisers may differ on)
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(obj) == text.encode("utf-8")
    assert json.loads(canonical_json(obj)) == obj
