"""The optional bearer tokens of the worker's web port (``LINEAGE_HTTP_TOKEN``, and
the tokens of ``LINEAGE_HTTP_TOKENS`` that hold the ``read`` privilege).

With a token set, every request needs ``Authorization: Bearer <token>``
except the routes in :data:`PUBLIC_PATHS` and under :data:`PUBLIC_PREFIXES`:

* ``/metrics``, ``/healthz``, ``/readyz``: Prometheus and the kubelet probe
  them without credentials; they hold counters and up/down, no lineage.
* ``/`` and ``/ui/...``: the page shell and its static assets, the same for
  everyone and holding no data; the page calls the API, which needs the token.

Everything else answers 401 without the right token, with
``WWW-Authenticate: Bearer`` and a JSON ``{"error"}``: the graph API, the
OpenAPI document, ``/api/v1/status``, faust's own routes, unknown paths (so an
anonymous caller cannot map the routes).

The decision is made on the route aiohttp matched, not on the raw request path,
so no spelling of a path (``/ui/../api``, percent-escapes) reaches a protected
handler through a public prefix. The token is compared in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

import faust
import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware

from processor.core.privileges import Decision, Privilege, TokenTable

PUBLIC_PATHS = frozenset({"/metrics", "/healthz", "/readyz", "/"})
PUBLIC_PREFIXES = ("/ui/",)
CHALLENGE = 'Bearer realm="lineage-processor"'

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_public(route: str) -> bool:
    """True for a route (aiohttp's canonical path of the matched resource)
    that anyone may call."""
    return route in PUBLIC_PATHS or route.startswith(PUBLIC_PREFIXES)


def _route(request: web.Request) -> str | None:
    """The matched resource's canonical path; None when no route matched."""
    resource = request.match_info.route.resource
    return None if resource is None else resource.canonical


def authorized(header: str | None, token: bytes) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <token>``."""
    if not header:
        return False
    scheme, _, credential = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    # compare_digest takes time independent of where the values differ.
    return hmac.compare_digest(credential.strip().encode("utf-8", "replace"), token)


def unauthorized(has_credentials: bool) -> web.Response:
    """The 401 answer; RFC 6750's ``invalid_token`` when a token was sent."""
    challenge = CHALLENGE + (', error="invalid_token"' if has_credentials else "")
    message = "invalid bearer token" if has_credentials else "a bearer token is required"
    return web.Response(
        body=orjson.dumps({"error": message}),
        status=401,
        content_type="application/json",
        headers={"WWW-Authenticate": challenge, "Cache-Control": "no-store"},
    )


def bearer_middleware(token: str | TokenTable) -> Middleware:
    """An aiohttp middleware that lets public routes and requests with a token
    holding the ``read`` privilege through, answers 403 to a token without it
    (``LINEAGE_HTTP_TOKENS``) and 401 to the rest. A plain string is one read token."""
    tokens = TokenTable.of([((Privilege.READ,), token)]) if isinstance(token, str) else token

    @web.middleware
    async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = _route(request)
        header = request.headers.get("Authorization")
        if route is not None and is_public(route):
            return await handler(request)
        decision = tokens.decide(header, Privilege.READ)
        if decision is Decision.ALLOWED:
            return await handler(request)
        if decision is Decision.FORBIDDEN:
            return web.Response(
                body=orjson.dumps({"error": "the token lacks the read privilege"}),
                status=403,
                content_type="application/json",
            )
        return unauthorized(bool(header))

    return require_token


def require_bearer_token(app: faust.App, token: str | TokenTable) -> None:
    """Protect ``app``'s web server with ``token`` (before the server starts)."""
    app.web.web_app.middlewares.append(bearer_middleware(token))  # type: ignore[attr-defined]
