"""The gateway's JSON answers, and the middleware that authorises, times and
counts every request."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from aiohttp import web

from processor.core.privileges import Decision, Privilege, TokenTable
from processor.errors import BrokerUnavailable
from processor.ingest.body import BodyError
from processor.ingest.metrics import IngestMetrics

log = logging.getLogger("processor.ingest")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CHALLENGE = 'Bearer realm="lineage-processor"'
RETRY_AFTER_SECONDS = 5


def json_answer(
    body: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(body),
        status=status,
        content_type="application/json",
        headers=dict(headers or {}),
    )


def refusal(status: int, reason: str, error: str) -> web.Response:
    """A 4xx saying why: ``{"reason": code, "error": message}``."""
    return json_answer({"reason": reason, "error": error}, status)


def unavailable(error: str) -> web.Response:
    """503 with Retry-After: the openlineage clients retry a 5xx."""
    return json_answer(
        {"reason": "broker_unavailable", "error": error},
        503,
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _denied(decision: Decision, has_credentials: bool) -> web.Response:
    if decision is Decision.FORBIDDEN:
        return refusal(403, "forbidden", "the token lacks the privilege this route needs")
    challenge = CHALLENGE + (', error="invalid_token"' if has_credentials else "")
    message = "invalid bearer token" if has_credentials else "a bearer token is required"
    answer = refusal(401, "unauthorized", message)
    answer.headers["WWW-Authenticate"] = challenge
    answer.headers["Cache-Control"] = "no-store"
    return answer


def gateway_middleware(
    tokens: TokenTable,
    privileges: Mapping[tuple[str, str], Privilege],
    public: frozenset[str],
    metrics: IngestMetrics,
) -> Any:
    """Authorise by the matched route (never the raw path: no spelling of a path
    reaches a handler it should not), turn the gateway's errors into answers,
    and count each answer with its latency.

    ``privileges`` maps (route, method) to the privilege it needs; another method
    on a known route needs any valid token (then 405), an unknown route too (then
    404), so an anonymous caller cannot map the routes.
    """

    known = public | {r for r, _ in privileges}
    # The labelled series, looked up once each (the label sets are few).
    counted: dict[tuple[str, str, int], Any] = {}
    timed: dict[str, Any] = {}

    def count(label: str, method: str, status: int) -> None:
        series = counted.get((label, method, status))
        if series is None:
            series = counted[label, method, status] = metrics.requests.labels(
                label, method, str(status)
            )
        series.inc()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else None
        label = route if route in known else "other"
        try:
            answer = await _answer(request, handler, route)
        except web.HTTPException as exc:  # aiohttp's own 404 and 405
            count(label, request.method, exc.status)
            raise
        count(label, request.method, answer.status)
        series = timed.get(label)
        if series is None:
            series = timed[label] = metrics.request_seconds.labels(label)
        series.observe(time.perf_counter() - started)
        return answer

    async def _answer(
        request: web.Request, handler: Handler, route: str | None
    ) -> web.StreamResponse:
        if route not in public:
            header = request.headers.get("Authorization")
            needed = privileges.get((route or "", request.method))
            if needed is not None:
                decision = tokens.decide(header, needed)
            elif tokens.enabled and tokens.privileges(header) is None:
                decision = Decision.UNAUTHENTICATED
            else:
                decision = Decision.ALLOWED
            if decision is not Decision.ALLOWED:
                return _denied(decision, bool(header))
        try:
            return await handler(request)
        except BodyError as exc:
            metrics.events_rejected.labels(exc.reason).inc()
            return refusal(exc.status, exc.reason, exc.error)
        except BrokerUnavailable as exc:
            log.warning("%s %s: 503: %s", request.method, route, exc)
            return unavailable(str(exc))

    return middleware
