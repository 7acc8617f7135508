"""Prometheus metrics declared as data: one ``Spec`` a metric, made by ``register``.

A table of specs keeps each metric's name, help and labels on one row (the
exposition is what dashboards and alerts read, so these rows are its contract),
and makes every metric the same way: one registry, label values created up
front where a series must exist at 0 before its first increment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class Spec:
    """One metric: its kind, name (without ``_total``), help and label names.

    ``buckets`` only for a histogram; ``preset`` lists the values of the single
    label that exist from the start at 0, so that a rate or increase() sees
    the first increment too (a series born at 1 shows none)."""

    kind: type[Counter] | type[Gauge] | type[Histogram]
    name: str
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] | None = None
    preset: Iterable[str] = ()


def register(target: object, specs: Mapping[str, Spec], registry: CollectorRegistry) -> None:
    """Make every spec's metric in ``registry``, set as ``target``'s attribute of its key."""
    for attr, spec in specs.items():
        extra: dict[str, Any] = {} if spec.buckets is None else {"buckets": spec.buckets}
        metric = spec.kind(spec.name, spec.help, spec.labels, registry=registry, **extra)
        for value in spec.preset:
            metric.labels(value)
        setattr(target, attr, metric)


class SpecMetrics:
    """Metrics made from the subclass's ``SPECS`` in ``registry`` (a new one by
    default); the subclass declares each key as an attribute of the metric's type."""

    SPECS: ClassVar[Mapping[str, Spec]] = {}

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        register(self, self.SPECS, self.registry)
