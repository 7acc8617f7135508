"""HTTP views on the worker's web port: metrics, health, readiness, the graph
snapshot and the OpenAPI document; the lineage queries, dataset search and
Marquez-shaped lineage are in ``http_graph``."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import faust
import orjson
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from processor.adapters.http_backend import HttpBackend
from processor.adapters.http_columns import register_column_views
from processor.adapters.http_graph import register_graph_views
from processor.adapters.http_ui import register_ui_views
from processor.adapters.openapi import openapi_document
from processor.core.snapshot import canonical_bytes
from processor.core.timefmt import format_time, normalize_time
from processor.errors import DependencyUnavailable

HASH_HEADER = "X-Snapshot-SHA256"
AS_OF_HEADER = "X-Snapshot-As-Of"


def register_views(app: faust.App, worker: HttpBackend) -> None:
    """Add the processor's routes to the faust web server."""

    @app.page("/metrics")
    class MetricsView(View):
        """Prometheus text format: the ``lineage_*`` metrics and faust's ``faust_*``."""

        async def get(self, request: Request) -> Response:
            # aiohttp refuses a charset in content_type; it is fine as a header.
            return self.bytes(
                generate_latest(worker.metrics.registry),
                headers={"Content-Type": CONTENT_TYPE_LATEST},
            )

    @app.page("/healthz")
    class Healthz(View):
        """Liveness: the event loop answers."""

        async def get(self, request: Request) -> Response:
            return self.json({"status": "ok"})

    @app.page("/readyz")
    class Readyz(View):
        """Readiness: Redis answers, the consumer has its partitions and Redis
        holds the whole graph (``processor.graph_guard``)."""

        async def get(self, request: Request) -> Response:
            checks = await worker.readiness()
            ready = all(checks.values())
            body: dict[str, object] = {
                "status": "ready" if ready else "not ready",
                "checks": checks,
            }
            reasons = worker.not_ready_reasons()
            if reasons:
                body["reasons"] = reasons
            return self.json(body, status=200 if ready else 503)

    @app.page("/api/v1/graph/snapshot")
    class SnapshotView(View):
        """The canonical snapshot; its sha256 in a header, or alone with ``?hash=1``.

        ``asOf`` (RFC 3339, default now) fixes the retention cutoff, so that
        the same ``asOf`` gives the same snapshot later (until a sweep removes
        what it still showed)."""

        async def get(self, request: Request) -> Response:
            raw = request.query.get("asOf")
            try:
                as_of = normalize_time(str(raw)) if raw else format_time(datetime.now(UTC))
            except ValueError as exc:
                return self.json({"error": f"asOf: {exc}", "parameter": "asOf"}, status=400)
            try:
                snapshot = await worker.store.snapshot(worker.floor(as_of))
            except DependencyUnavailable as exc:
                return self.json({"error": f"graph store unavailable: {exc}"}, status=503)
            body = canonical_bytes(snapshot)
            digest = hashlib.sha256(body).hexdigest()
            headers = {HASH_HEADER: digest, AS_OF_HEADER: as_of}
            if _wants_hash_only(request):
                return self.json(
                    {
                        "sha256": digest,
                        "nodes": len(snapshot["nodes"]),
                        "edges": len(snapshot["edges"]),
                        "asOf": as_of,
                    },
                    headers=headers,
                )
            return self.bytes(body, content_type="application/json", headers=headers)

    openapi = orjson.dumps(openapi_document())

    @app.page("/openapi.json")
    class OpenApiView(View):
        """The OpenAPI 3.1 document of every route here."""

        async def get(self, request: Request) -> Response:
            return self.bytes(openapi, content_type="application/json")

    register_graph_views(app, worker)
    register_column_views(app, worker)
    register_ui_views(app, worker)


def _wants_hash_only(request: Any) -> bool:
    value = request.query.get("hash", "")
    return str(value).lower() in ("1", "true", "yes")
