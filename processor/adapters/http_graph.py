"""HTTP views of the lineage queries, the dataset search and the Marquez-shaped lineage.

Every answer is JSON. Errors: 400 ``{"error", "parameter"}`` for a missing or
bad query parameter, 404 ``{"error"}`` for a dataset the graph does not hold,
503 ``{"error"}`` when Redis is unavailable; anything unexpected is logged and
answered 500 ``{"error"}`` (never a traceback). The request handlers are plain
``async (query) -> Answer`` functions; :func:`register_graph_views` wraps each in
a faust view that maps the errors above.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import faust
import orjson
from faust.web import Request, Response, View

from processor.adapters.http_backend import HttpBackend
from processor.adapters.redis_reader import RedisGraphReader
from processor.adapters.redis_search import search_datasets
from processor.adapters.redis_store import RedisGraphStore
from processor.core import queries
from processor.core.api_bounds import DEPTH, MAX_SEARCH_TEXT, MAX_TEXT, NODES, PAGE, Bound
from processor.core.graph_reader import Direction
from processor.core.marquez import lineage_graph, parse_node_id
from processor.core.query_results import LineageResult
from processor.core.snapshot import node_type
from processor.core.type_filter import TypeFilter, parse_types
from processor.errors import DependencyUnavailable, NodeNotFound
from processor.render import impact_json, lineage_json

log = logging.getLogger(__name__)

TRUNCATED_HEADER = "X-Lineage-Truncated"

Query = Mapping[str, str]
_INTEGER = re.compile(r"-?[0-9]{1,18}")
_OFFSET = Bound(0, 0, 2**31 - 1)  # a search page's first match


class BadParameter(ValueError):
    """A query parameter is missing or out of range: a 400 naming it."""

    def __init__(self, parameter: str, error: str) -> None:
        super().__init__(error)
        self.parameter = parameter
        self.error = error


@dataclass
class Answer:
    """A JSON answer: status, body and extra headers."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Query], Awaitable[Answer]]


# --- parameters ------------------------------------------------------------


def text_param(
    query: Query, name: str, *, required: bool = True, default: str = "", max_length: int = MAX_TEXT
) -> str:
    """A string parameter of at most ``max_length`` characters; required ones
    must be present and non-empty."""
    value = query.get(name)
    if value is None or value == "":
        if required:
            raise BadParameter(name, f"missing required parameter {name!r}")
        return default
    if len(value) > max_length:
        raise BadParameter(
            name, f"{name} must be at most {max_length} characters, got {len(value)}"
        )
    return value


def int_param(query: Query, name: str, bound: Bound) -> int:
    """An integer parameter within ``bound``'s range, its default when absent."""
    raw = query.get(name)
    if raw is None or raw == "":
        return bound.default
    if _INTEGER.fullmatch(raw) is None:
        raise BadParameter(name, f"{name} must be an integer, got {raw!r}")
    value = int(raw)
    if not bound.low <= value <= bound.high:
        raise BadParameter(name, f"{name} must be from {bound.low} to {bound.high}, got {value}")
    return value


def dataset_param(query: Query) -> tuple[str, str]:
    """The required ``namespace`` and ``name`` of the dataset a query starts from."""
    return text_param(query, "namespace"), text_param(query, "name")


def types_param(query: Query) -> TypeFilter | None:
    """The ``types`` filter (docs/design.md section 5b): None when absent; an
    empty value or an empty entry is a 400."""
    raw = query.get("types")
    if raw is None:
        return None
    if len(raw) > MAX_TEXT:
        raise BadParameter("types", f"types must be at most {MAX_TEXT} characters, got {len(raw)}")
    try:
        return parse_types(raw)
    except ValueError as exc:
        raise BadParameter("types", str(exc)) from None


def _depth(query: Query) -> int:
    return int_param(query, "depth", DEPTH)


def _limit(query: Query) -> int:
    return int_param(query, "limit", NODES)


# --- answers ---------------------------------------------------------------


R = TypeVar("R", covariant=True)


class ReaderType(Protocol[R]):
    """A reader class over the store, with a retention cutoff."""

    def __call__(self, store: RedisGraphStore, *, floor: str) -> R: ...


class WalkHandlers(Generic[R]):
    """Handlers over one worker's store whose upstream and downstream routes
    differ by the direction of the walk alone; ``reader_type`` reads the store."""

    reader_type: ReaderType[R]

    def __init__(self, worker: HttpBackend) -> None:
        self.worker = worker

    @property
    def reader(self) -> R:
        """A reader of the current generation, with the retention cutoff of now."""
        return self.reader_type(self.worker.store, floor=self.worker.floor())

    async def upstream(self, query: Query) -> Answer:
        return await self.walk(query, "upstream")

    async def downstream(self, query: Query) -> Answer:
        return await self.walk(query, "downstream")

    async def walk(self, query: Query, direction: Direction) -> Answer:
        raise NotImplementedError


class GraphHandlers(WalkHandlers[RedisGraphReader]):
    """The request handlers of the dataset graph."""

    reader_type = RedisGraphReader

    async def walk(self, query: Query, direction: Direction) -> Answer:
        ns, name = dataset_param(query)
        depth, limit, types = _depth(query), _limit(query), types_param(query)
        result = await queries.lineage(direction, self.reader, ns, name, depth, limit, types=types)
        return Answer(lineage_json(result, direction))

    async def impact(self, query: Query) -> Answer:
        ns, name = dataset_param(query)
        depth, limit, types = _depth(query), _limit(query), types_param(query)
        result = await queries.impact(self.reader, ns, name, depth, limit, types=types)
        return Answer(impact_json(result))

    async def path(self, query: Query) -> Answer:
        src = (text_param(query, "sourceNamespace"), text_param(query, "sourceName"))
        dst = (text_param(query, "targetNamespace"), text_param(query, "targetName"))
        depth = _depth(query)
        result = await queries.paths(self.reader, src, dst, depth)
        return Answer(
            {
                "source": {"namespace": src[0], "name": src[1]},
                "target": {"namespace": dst[0], "name": dst[1]},
                "distance": result.distance,
                "paths": [[e.as_json() for e in p] for p in result.paths],
                "truncated": result.truncated,
            }
        )

    async def datasets(self, query: Query) -> Answer:
        text = text_param(query, "q", required=False, max_length=MAX_SEARCH_TEXT)
        offset = int_param(query, "offset", _OFFSET)
        limit = int_param(query, "limit", PAGE)
        types = types_param(query)
        page = await search_datasets(
            self.worker.store, text, offset=offset, limit=limit, types=types
        )
        return Answer(
            {
                "datasets": [
                    {
                        "namespace": r.namespace,
                        "name": r.name,
                        "type": node_type(r),
                        "internal": r.internal,
                    }
                    for r in page.datasets
                ],
                "total": page.total,
                "offset": page.offset,
                "limit": page.limit,
            }
        )

    async def marquez_lineage(self, query: Query) -> Answer:
        raw = text_param(query, "nodeId")
        try:
            ref = parse_node_id(raw)
        except ValueError as exc:
            raise BadParameter("nodeId", str(exc)) from None
        depth, types = _depth(query), types_param(query)
        reader = self.reader
        results: tuple[LineageResult, ...]
        if ref.kind == "job":
            around = await queries.job_lineage(reader, ref.namespace, ref.name, depth, types=types)
            results = (around.upstream, around.own, around.downstream)
        else:
            up = await queries.upstream(reader, ref.namespace, ref.name, depth, types=types)
            down = await queries.downstream(reader, ref.namespace, ref.name, depth, types=types)
            results = (up, down)
        truncated = any(r.truncated for r in results)
        return Answer(
            {"graph": lineage_graph(*results)},
            headers={TRUNCATED_HEADER: "true" if truncated else "false"},
        )


async def answer(handler: Handler, query: Query) -> Answer:
    """Run ``handler``, mapping errors to 400 / 404 / 503 / 500 answers."""
    try:
        return await handler(query)
    except BadParameter as exc:
        return Answer({"error": exc.error, "parameter": exc.parameter}, 400)
    except NodeNotFound as exc:
        return Answer({"error": str(exc)}, 404)
    except DependencyUnavailable as exc:
        return Answer({"error": f"graph store unavailable: {exc}"}, 503)
    except Exception:
        log.exception("unexpected error answering a graph request")
        return Answer({"error": "internal error"}, 500)


def _query(request: Request) -> dict[str, str]:
    # First value of each parameter; aiohttp has already percent-decoded them.
    out: dict[str, str] = {}
    for key, value in request.query.items():
        out.setdefault(str(key), str(value))
    return out


def json_view(app: faust.App, path: str, name: str, handler: Handler) -> None:
    """Register ``GET path`` answering ``handler``'s JSON."""

    class GraphView(View):
        async def get(self, request: Request) -> Response:
            result = await answer(handler, _query(request))
            return self.bytes(
                orjson.dumps(result.body),
                content_type="application/json",
                status=result.status,
                headers=result.headers,
            )

    GraphView.__name__ = GraphView.__qualname__ = name
    app.page(path, name=name)(GraphView)


def register_graph_views(app: faust.App, worker: HttpBackend) -> None:
    """The lineage, search and Marquez routes."""
    h = GraphHandlers(worker)
    json_view(app, "/api/v1/graph/upstream", "graph_upstream", h.upstream)
    json_view(app, "/api/v1/graph/downstream", "graph_downstream", h.downstream)
    json_view(app, "/api/v1/graph/impact", "graph_impact", h.impact)
    json_view(app, "/api/v1/graph/path", "graph_path", h.path)
    json_view(app, "/api/v1/datasets", "datasets", h.datasets)
    json_view(app, "/api/v1/lineage", "marquez_lineage", h.marquez_lineage)
