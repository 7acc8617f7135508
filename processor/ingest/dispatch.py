"""From a parsed request to its answer: the route table, authorisation, the
gateway's errors as answers, and each answer counted with its latency.

Authorisation is decided on the headers, before the body is read: a caller
without the privilege sends its body for nothing. Routes match the exact path
(no spelling of a path reaches a handler other than its own); another method
on a known route needs any valid token (then 405), an unknown route too (then
404), so an anonymous caller cannot map the routes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from processor.core.privileges import Decision, Privilege, TokenTable
from processor.errors import BrokerUnavailable
from processor.ingest.answers import NOT_FOUND, Answer, denied, refusal, unavailable
from processor.ingest.body import BodyError, BodyReader, check_content_type
from processor.ingest.metrics import IngestMetrics

log = logging.getLogger("processor.ingest")


class Request:
    """One request as the connection parsed it; ``body`` once read whole."""

    __slots__ = (
        "answer",
        "body",
        "headers",
        "keep_alive",
        "method",
        "path",
        "query",
        "reader",
        "route",
        "started",
    )

    def __init__(self, method: str, path: str, query: str, headers: dict[str, str]) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers  # names in lower case; only those the gateway reads
        self.keep_alive = True
        self.started = time.perf_counter()
        self.route: Route | None = None
        self.reader: BodyReader | None = None
        self.body = b""
        self.answer: Answer | None = None  # decided before the handler (a refusal)


class Pending:
    """An answer that waits for ``future``; ``settle`` makes it once the future is
    done (it may raise ``BrokerUnavailable``). The single-event routes answer so:
    their future is the broker's acknowledgement, shared with other requests,
    and a request then costs no task."""

    __slots__ = ("future", "settle")

    def __init__(self, future: asyncio.Future[Any], settle: Callable[[], Answer]) -> None:
        self.future = future
        self.settle = settle


# A handler answers at once, with a Pending, or as a coroutine (run as a task).
Handler = Callable[[Request], Answer | Pending | Awaitable[Answer]]


@dataclass(frozen=True)
class Route:
    path: str
    method: str
    handler: Handler
    privilege: Privilege | None  # None: public
    body_limit: int | None = None  # None: the body is not read


class Dispatcher:
    """``begin`` on the headers (a refusal, or None and the body reader set),
    ``handle`` once the body is read, ``count`` every answer."""

    def __init__(self, routes: Iterable[Route], tokens: TokenTable, metrics: IngestMetrics) -> None:
        self._routes = {(r.path, r.method): r for r in routes}
        self._paths: dict[str, list[str]] = {}
        for path, method in self._routes:
            self._paths.setdefault(path, []).append(method)
        self._tokens = tokens
        self._metrics = metrics
        # The labelled series, looked up once each (the label sets are few).
        self._counted: dict[tuple[str, str, int], Any] = {}
        self._timed: dict[str, Any] = {}

    @property
    def paths(self) -> frozenset[str]:
        return frozenset(self._paths)

    def begin(self, request: Request) -> Answer | None:
        method = "GET" if request.method == "HEAD" else request.method
        route = self._routes.get((request.path, method))
        header = request.headers.get("authorization")
        tokens = self._tokens
        if route is None:
            if tokens.enabled and tokens.privileges(header) is None:
                return denied(Decision.UNAUTHENTICATED, bool(header))
            methods = self._paths.get(request.path)
            if methods is None:
                return NOT_FOUND
            return refusal(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed here",
                {"Allow": ", ".join(sorted(methods))},
            )
        request.route = route
        if route.privilege is not None:
            decision = tokens.decide(header, route.privilege)
            if decision is not Decision.ALLOWED:
                return denied(decision, bool(header))
        if route.body_limit is None:
            return None
        headers = request.headers
        try:
            check_content_type(headers.get("content-type"))
            length = headers.get("content-length")
            request.reader = BodyReader(
                route.body_limit,
                headers.get("content-encoding"),
                int(length) if length is not None else None,
            )
        except BodyError as exc:
            return self.refused(exc)
        return None

    def refused(self, exc: BodyError) -> Answer:
        self._metrics.events_rejected.labels(exc.reason).inc()
        return refusal(exc.status, exc.reason, exc.error)

    def start(self, request: Request) -> Answer | Pending:
        """The answer, or what it waits for, of a request read whole."""
        route = request.route
        assert route is not None  # begin found it, else the request was answered
        try:
            if request.reader is not None:
                request.body = request.reader.finish()
                request.reader = None
            outcome = route.handler(request)
        except BodyError as exc:
            return self.refused(exc)
        except BrokerUnavailable as exc:
            return self._unavailable(request, exc)
        if isinstance(outcome, (Answer, Pending)):
            return outcome
        task = asyncio.get_running_loop().create_task(self._awaited(request, outcome))
        return Pending(task, task.result)

    def settle(self, request: Request, pending: Pending) -> Answer:
        try:
            return pending.settle()
        except BrokerUnavailable as exc:
            return self._unavailable(request, exc)

    async def _awaited(self, request: Request, outcome: Awaitable[Answer]) -> Answer:
        try:
            return await outcome
        except BodyError as exc:
            return self.refused(exc)
        except BrokerUnavailable as exc:
            return self._unavailable(request, exc)

    def _unavailable(self, request: Request, exc: BrokerUnavailable) -> Answer:
        log.warning("%s %s: 503: %s", request.method, request.path, exc)
        return unavailable(str(exc))

    def count(self, request: Request, answer: Answer) -> None:
        route = request.route
        label = route.path if route is not None else "other"
        key = (label, request.method, answer.status)
        series = self._counted.get(key)
        if series is None:
            series = self._counted[key] = self._metrics.requests.labels(
                label, request.method, str(answer.status)
            )
        tally = self._metrics.tally
        tally.inc(series)
        if route is None:
            return
        timed = self._timed.get(label)
        if timed is None:
            timed = self._timed[label] = self._metrics.request_seconds.labels(label)
        tally.observe(timed, time.perf_counter() - request.started)
