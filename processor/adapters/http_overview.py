"""``GET /api/v1/graph/overview`` (the page's first screen) and the counts by
type of ``/api/v1/status``, both from one cached bounded scan
(``adapters.redis_overview``), under the retention cutoff of the moment."""

from __future__ import annotations

import faust

from processor.adapters.http_backend import HttpBackend
from processor.adapters.http_graph import Answer, Query, json_view
from processor.adapters.redis_overview import OverviewCache


def type_counts(worker: HttpBackend, cache: OverviewCache) -> dict[str, object] | None:
    """The status's ``types``: datasets by type and whether every dataset was
    counted, as last read; None until a first read has finished. Never waits
    for Redis (``OverviewCache.peek``)."""
    overview = cache.peek(worker.store, worker.floor())
    if overview is None:
        return None
    return {"datasets": overview.type_counts(), "complete": overview.complete}


def register_overview_view(app: faust.App, worker: HttpBackend, cache: OverviewCache) -> None:
    async def overview(query: Query) -> Answer:
        found = await cache.get(worker.store, worker.floor())
        return Answer(found.as_json(), headers={"Cache-Control": "no-store"})

    json_view(app, "/api/v1/graph/overview", "graph_overview", overview)
