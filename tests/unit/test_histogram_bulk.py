"""``observe_many`` must leave a histogram exactly as one ``observe`` per value."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

from processor.adapters.histogram_bulk import observe_many

BOUNDS = (0.5, 1.0, 2.0)


def histogram() -> tuple[CollectorRegistry, Histogram]:
    registry = CollectorRegistry()
    return registry, Histogram("lag_seconds", "lag", buckets=BOUNDS, registry=registry)


def bucket(registry: CollectorRegistry, le: str) -> float | None:
    return registry.get_sample_value("lag_seconds_bucket", {"le": le})


def test_values_land_in_the_buckets_observe_puts_them_in() -> None:
    # Values on a bound go in that bound's bucket (le is <=); dyadic values so
    # the sum is exact in any order.
    values = [0.0, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0, 8.0, 0.25]
    registry, bulk = histogram()
    observe_many(bulk, values)
    # Cumulative by hand: <=0.5: 0, 0.5, 0.25 -> 3; <=1: +0.75, 1.0 -> 5;
    # <=2: +1.5, 2.0 -> 7; +Inf: +4, 8 -> 9.
    assert [bucket(registry, le) for le in ("0.5", "1.0", "2.0", "+Inf")] == [3, 5, 7, 9]
    assert registry.get_sample_value("lag_seconds_count") == 9
    assert registry.get_sample_value("lag_seconds_sum") == 18.0

    one_by_one_registry, one_by_one = histogram()
    for value in values:
        one_by_one.observe(value)
    for le in ("0.5", "1.0", "2.0", "+Inf"):
        assert bucket(registry, le) == bucket(one_by_one_registry, le)


def test_no_values_change_nothing() -> None:
    registry, bulk = histogram()
    observe_many(bulk, [])
    assert registry.get_sample_value("lag_seconds_count") == 0
    assert registry.get_sample_value("lag_seconds_sum") == 0
