"""HTTP views of column lineage (docs/design.md section 5a; docs/querying.md):
the column snapshot, the column queries and the Marquez-compatible
``/api/v1/column-lineage``. Errors as in ``http_graph``."""

from __future__ import annotations

from functools import partial

import faust
from faust.web import Request, Response, View

from processor.adapters.http_backend import HttpBackend
from processor.adapters.http_graph import (
    TRUNCATED_HEADER,
    Answer,
    BadParameter,
    Query,
    WalkHandlers,
    dataset_param,
    int_param,
    json_view,
    text_param,
)
from processor.adapters.http_snapshot import snapshot_response
from processor.adapters.redis_columns import RedisColumnReader, column_snapshot
from processor.core.api_bounds import DEPTH, NODES
from processor.core.column_queries import column_lineage
from processor.core.column_snapshot import column_counts
from processor.core.graph_reader import Direction
from processor.core.marquez_columns import column_lineage_graph, column_node_candidates


class ColumnHandlers(WalkHandlers[RedisColumnReader]):
    """The column query handlers over one worker's store."""

    reader_type = RedisColumnReader

    async def walk(self, query: Query, direction: Direction) -> Answer:
        ns, name = dataset_param(query)
        field = text_param(query, "field", required=False) or None
        depth = int_param(query, "depth", DEPTH)
        limit = int_param(query, "limit", NODES)
        result = await column_lineage(self.reader, ns, name, field, direction, depth, limit)
        return Answer(result.as_json())

    async def marquez(self, query: Query) -> Answer:
        try:
            candidates = column_node_candidates(text_param(query, "nodeId"))
        except ValueError as exc:
            raise BadParameter("nodeId", str(exc)) from None
        ref = candidates[0]
        if len(candidates) > 1:  # a colon in the name or the field: the stored one wins
            for c in candidates:
                if c.field in await self.reader.dataset_fields(c.namespace, c.name):
                    ref = c
                    break
        depth = int_param(query, "depth", DEPTH)
        with_down = query.get("withDownstream", "false").lower()
        if with_down not in ("true", "false"):
            raise BadParameter(
                "withDownstream", f"withDownstream must be true or false, got {with_down!r}"
            )
        reader = self.reader
        results = [await column_lineage(reader, *ref, "upstream", depth)]
        if with_down == "true":
            results.append(await column_lineage(reader, *ref, "downstream", depth))
        truncated = any(r.truncated for r in results)
        return Answer(
            {"graph": column_lineage_graph(*results)},
            headers={TRUNCATED_HEADER: "true" if truncated else "false"},
        )


def register_column_views(app: faust.App, worker: HttpBackend) -> None:
    """The column snapshot, column query and Marquez column-lineage routes."""
    h = ColumnHandlers(worker)
    json_view(app, "/api/v1/graph/columns/upstream", "columns_upstream", h.upstream)
    json_view(app, "/api/v1/graph/columns/downstream", "columns_downstream", h.downstream)
    json_view(app, "/api/v1/column-lineage", "marquez_column_lineage", h.marquez)

    @app.page("/api/v1/graph/column-snapshot")
    class ColumnSnapshotView(View):
        """The canonical column snapshot; its sha256 in a header, or with the
        count alone with ``?hash=1``; ``asOf`` as for the snapshot."""

        async def get(self, request: Request) -> Response:
            read = partial(column_snapshot, worker.store)
            return await snapshot_response(self, request, worker, read, column_counts)
