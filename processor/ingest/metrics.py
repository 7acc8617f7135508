"""Prometheus metrics of the ingest gateway, on a registry of its own.

Labels are bounded: routes are the gateway's few paths (``other`` for the
rest), statuses are HTTP codes, reasons are the reason codes of docs/design.md
section 3 and the gateway's own (``empty_body``, ``unsupported_content_type``...).

Several gateway processes on one port (``LINEAGE_INGEST_PROCESSES``) run in
prometheus_client's multiprocess mode: each process writes its values to a
file in ``PROMETHEUS_MULTIPROC_DIR``, and whichever process a scrape reaches
answers with the sum over all of them (a scrape cannot choose its process, so a
per-process page would show a random part of the counts).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

from processor.adapters.metric_specs import Spec, SpecMetrics
from processor.core.reasons import Reason
from processor.ingest.tally import Tally

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


_SPECS: dict[str, Spec] = {
    "requests": Spec(
        Counter,
        "lineage_ingest_requests",
        "HTTP requests answered by the ingest gateway, by route, method and status",
        ("route", "method", "status"),
    ),
    "request_seconds": Spec(
        Histogram,
        "lineage_ingest_request_seconds",
        "Time from a request's arrival to its answer, by route",
        ("route",),
        _LATENCY_BUCKETS,
    ),
    "events_published": Spec(
        Counter,
        "lineage_ingest_events_published",
        "Events acknowledged by the broker on the input topic, by route",
        ("route",),
    ),
    "deletes_published": Spec(
        Counter,
        "lineage_ingest_deletes_published",
        "Delete requests acknowledged by the broker on the control topic",
    ),
    "events_rejected": Spec(
        Counter,
        "lineage_ingest_events_rejected",
        "Events refused at the gateway (not published), by reason",
        ("reason",),
        preset=[r.value for r in (Reason.TOO_LARGE, Reason.INVALID_JSON, Reason.INVALID_EVENT)],
    ),
    "publish_errors": Spec(
        Counter,
        "lineage_ingest_publish_errors",
        "Publishes that failed or timed out (answered 503), by topic kind",
        ("kind",),
        preset=("events", "control"),
    ),
}


class IngestMetrics(SpecMetrics):
    """The ``lineage_ingest_*`` metrics, registered in ``registry``."""

    SPECS = _SPECS

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        # The per-request series' increments, written a few times a second.
        self.tally = Tally()

    requests: Counter
    request_seconds: Histogram
    events_published: Counter
    deletes_published: Counter
    events_rejected: Counter
    publish_errors: Counter


MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def exposition(metrics: IngestMetrics) -> bytes:
    """The ``/metrics`` page: this process's metrics, or every gateway process's
    summed in multiprocess mode."""
    metrics.tally.flush()
    directory = os.environ.get(MULTIPROCESS_DIR_ENV)
    if not directory:
        return generate_latest(metrics.registry)
    registry = CollectorRegistry()
    registry.register(_Summed(directory))
    return generate_latest(registry)


class _Summed:
    """The processes' files summed, with each metric's own help text (the
    multiprocess collector knows only the values)."""

    def __init__(self, directory: str) -> None:
        self._files = MultiProcessCollector(None, directory)  # type: ignore[no-untyped-call]
        self._help = {spec.name: spec.help for spec in _SPECS.values()}

    def collect(self) -> Iterator[Metric]:
        for family in self._files.collect():  # type: ignore[no-untyped-call]
            if family.name in self._help:
                family.documentation = self._help[family.name]
                yield family
