"""The gateway's quick yes (processor/ingest/profile_check.py) is never a yes
the worker's models would refuse, whatever a real event's fields are replaced by."""

from __future__ import annotations

import random
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processor.core.validate import validate_event
from processor.errors import InvalidMessage
from processor.ingest.profile_check import fits
from processor.samples import realistic_mix
from tests.mutation import drop_or_replace, random_place


def _load(value: bytes) -> Any:
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return None


EVENTS = [e for e in (_load(v) for _, v in realistic_mix(200, seed=29) if v) if isinstance(e, dict)]
TEXT = st.sampled_from(["", "\x00", "a\x00", "x", "COMPLETE", "START", "2026-03-01T10:00:00Z"])
SCALARS = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | TEXT
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """A real event with a few places dropped or replaced by any JSON value."""
    event = orjson.loads(orjson.dumps(EVENTS[draw(st.integers(0, len(EVENTS) - 1))]))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    for _ in range(draw(st.integers(1, 3))):
        place = random_place(event, rng, 0.75)
        if place is None:
            continue
        drop_or_replace(place, draw(st.booleans()), draw(JSON))
    return event


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=mutated())
def test_a_yes_is_never_a_refusal(event: dict[str, Any]) -> None:
    if fits(event):
        try:
            validate_event(event)
        except InvalidMessage as exc:  # pragma: no cover - the failure being looked for
            raise AssertionError(f"quick yes, models refuse: {exc.error}") from None
