"""HTTP views on the worker's web port: metrics, health, readiness, the graph
snapshot and the OpenAPI document; the lineage queries, dataset search and
Marquez-shaped lineage are in ``http_graph``."""

from __future__ import annotations

from typing import Any

import faust
import orjson
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from processor.adapters.http_backend import HttpBackend
from processor.adapters.http_columns import register_column_views
from processor.adapters.http_graph import register_graph_views
from processor.adapters.http_snapshot import snapshot_response
from processor.adapters.http_ui import register_ui_views
from processor.adapters.openapi import openapi_document


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
            return await snapshot_response(
                self, request, worker, worker.store.snapshot, _graph_counts
            )

    openapi = orjson.dumps(openapi_document())

    @app.page("/openapi.json")
    class OpenApiView(View):
        """The OpenAPI 3.1 document of every route here."""

        async def get(self, request: Request) -> Response:
            return self.bytes(openapi, content_type="application/json")

    register_graph_views(app, worker)
    register_column_views(app, worker)
    register_ui_views(app, worker)


def _graph_counts(snapshot: dict[str, Any]) -> dict[str, int]:
    return {"nodes": len(snapshot["nodes"]), "edges": len(snapshot["edges"])}
