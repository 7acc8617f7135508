"""The lineage page at ``/`` and its operations endpoint ``/api/v1/status``.

The page is static: ``processor/ui/static/`` (HTML, CSS and ES modules, no
build step) is read once at start-up and served from memory under ``/ui/``,
each file on its own route, so that no request path ever reaches the file
system. The shell holds no data: everything it shows comes from the JSON API.

``/api/v1/status`` is what the page's operations strip polls: this worker's
counters by outcome, dead letters by reason, consumer lag, generation and
rebuild progress, read from the worker's Prometheus registry (the same
numbers ``/metrics`` exposes; the page turns counter deltas into rates), and
the graph's datasets by type (``http_overview``: a cached bounded scan).
"""

from __future__ import annotations

import time
from importlib import resources
from typing import Any

import faust
from faust.web import Request, Response, View
from prometheus_client import Counter, Gauge

from processor.adapters.http_backend import HttpBackend
from processor.adapters.http_overview import register_overview_view, type_counts
from processor.adapters.redis_overview import OverviewCache

STATIC_PACKAGE = "processor"
STATIC_DIR = "ui/static"
ASSET_PREFIX = "/ui/"

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# The page loads only its own files and talks only to its own origin; blob:
# is the CSV export (also read back by the tests).
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; connect-src 'self' blob:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Assets change with the package: revalidating costs one small request.
    "Cache-Control": "no-cache",
}


def static_files() -> dict[str, tuple[bytes, str]]:
    """The page's files: name -> (bytes, content type)."""
    root = resources.files(STATIC_PACKAGE).joinpath(STATIC_DIR)
    files: dict[str, tuple[bytes, str]] = {}
    for entry in root.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
        if entry.is_file() and suffix in _CONTENT_TYPES:
            files[entry.name] = (entry.read_bytes(), _CONTENT_TYPES[suffix])
    if "index.html" not in files:
        raise RuntimeError(f"the page's index.html is missing from {STATIC_PACKAGE}/{STATIC_DIR}")
    return files


def _samples(metric: Counter | Gauge, suffix: str = "") -> list[tuple[dict[str, str], float]]:
    """(labels, value) of every sample of ``metric`` named ``<family><suffix>``."""
    out = []
    for family in metric.collect():
        for sample in family.samples:
            if sample.name == family.name + suffix:
                out.append((dict(sample.labels), float(sample.value)))
    return out


def _total(metric: Counter | Gauge, suffix: str = "") -> float:
    return sum(value for _, value in _samples(metric, suffix))


def status(worker: HttpBackend) -> dict[str, Any]:
    """This worker's operational numbers, from its registry (``/api/v1/status``)."""
    m = worker.metrics
    counted = "_total"
    rejected = {
        labels["reason"]: int(value) for labels, value in _samples(m.events_rejected, counted)
    }
    lags = sorted(
        (labels["topic"], int(labels["partition"]), int(value))
        for labels, value in _samples(m.consumer_lag)
    )
    partitions = [{"topic": t, "partition": p, "messages": n} for t, p, n in lags]
    running = _total(m.rebuild_running) > 0
    return {
        "time": round(time.time(), 3),
        "events": {
            "consumed": int(_total(m.events_consumed, counted)),
            "accepted": int(_total(m.events_accepted, counted)),
            "duplicate": int(_total(m.events_duplicate, counted)),
            "ignored": int(_total(m.events_ignored, counted)),
            "rejected": sum(rejected.values()),
        },
        "deadLetters": dict(sorted(rejected.items())),
        "lag": {"messages": sum(n for _, _, n in lags), "partitions": partitions},
        "generation": int(_total(m.generation)),
        "graph": {
            "nodes": int(_total(m.graph_nodes)),
            "edges": int(_total(m.graph_edges)),
            "columnEdges": int(_total(m.graph_column_edges)),
        },
        "rebuild": {
            "running": running,
            "generation": int(_total(m.rebuild_generation)) if running else None,
            "remainingMessages": int(_total(m.rebuild_remaining)) if running else 0,
            "messagesPerSecond": round(_total(m.rebuild_rate), 1) if running else 0.0,
        },
        "dependenciesDown": sorted(
            labels["dependency"] for labels, v in _samples(m.dependency_down) if v > 0
        ),
    }


def _asset_view(app: faust.App, path: str, body: bytes, content_type: str) -> None:
    headers = {"Content-Type": content_type, **_SECURITY_HEADERS}

    class Asset(View):
        async def get(self, request: Request) -> Response:
            # aiohttp refuses a charset in content_type; it is fine as a header.
            return self.bytes(body, headers=headers)

    name = "ui_" + (path.strip("/").replace("/", "_").replace(".", "_") or "index")
    Asset.__name__ = Asset.__qualname__ = name
    app.page(path, name=name)(Asset)


def register_ui_views(app: faust.App, worker: HttpBackend) -> None:
    """``/`` (the page), ``/ui/<file>`` (its assets), ``/api/v1/status`` and
    ``/api/v1/graph/overview``."""
    for filename, (body, content_type) in static_files().items():
        _asset_view(app, ASSET_PREFIX + filename, body, content_type)
        if filename == "index.html":
            _asset_view(app, "/", body, content_type)
    overview = OverviewCache()
    register_overview_view(app, worker, overview)

    @app.page("/api/v1/status")
    class StatusView(View):
        """Counters by outcome, dead letters by reason, lag, generation, rebuild."""

        async def get(self, request: Request) -> Response:
            body = status(worker)
            body["types"] = type_counts(worker, overview)
            return self.json(body, headers={"Cache-Control": "no-store"})
