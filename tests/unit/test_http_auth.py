"""The bearer-token middleware on a bare aiohttp app, the OpenAPI document's
security, and the length caps of the API's text parameters."""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from processor.adapters.http_auth import (
    PUBLIC_PATHS,
    PUBLIC_PREFIXES,
    authorized,
    bearer_middleware,
    is_public,
)
from processor.adapters.http_graph import BadParameter, text_param
from processor.adapters.openapi import SECURITY_SCHEME, openapi_document
from processor.core.api_bounds import MAX_SEARCH_TEXT, MAX_TEXT

TOKEN = "Secret-token_0123456789abcdef"


def test_the_public_routes_are_exactly_the_documented_ones() -> None:
    assert frozenset({"/metrics", "/healthz", "/readyz", "/"}) == PUBLIC_PATHS
    assert PUBLIC_PREFIXES == ("/ui/",)
    assert is_public("/ui/app.js")
    for route in ("/api/v1/graph/snapshot", "/openapi.json", "/api/v1/status", "/ui", "/router"):
        assert not is_public(route), route


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        (None, False),
        ("", False),
        (f"Bearer {TOKEN}", True),
        (f"bearer {TOKEN}", True),
        (f"  Bearer   {TOKEN}  ", True),
        (f"Basic {TOKEN}", False),
        (f"Bearer {TOKEN}x", False),
        (f"Bearer {TOKEN[:-1]}", False),
        ("Bearer", False),
        (TOKEN, False),
        ("Bearer ünïcode", False),
    ],
)
def test_authorized(header: str | None, ok: bool) -> None:
    assert authorized(header, TOKEN.encode()) is ok


async def _answers(requests: list[tuple[str, dict[str, str]]]) -> list[tuple[int, Any, str]]:
    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"route": request.path})

    app = web.Application(middlewares=[bearer_middleware(TOKEN)])
    for path in ("/metrics", "/healthz", "/readyz", "/", "/ui/app.js", "/api/v1/graph/snapshot"):
        app.router.add_get(path, ok)
    async with TestClient(TestServer(app)) as client:
        out = []
        for path, headers in requests:
            response = await client.get(path, headers=headers, allow_redirects=False)
            body = await response.json() if response.content_type == "application/json" else None
            out.append((response.status, body, response.headers.get("WWW-Authenticate", "")))
        return out


def test_the_middleware_guards_everything_but_the_public_routes() -> None:
    good = {"Authorization": f"Bearer {TOKEN}"}
    bad = {"Authorization": "Bearer nope"}
    cases = [
        ("/metrics", {}, 200),
        ("/healthz", {}, 200),
        ("/readyz", {}, 200),
        ("/", {}, 200),
        ("/ui/app.js", {}, 200),
        ("/api/v1/graph/snapshot", {}, 401),
        ("/api/v1/graph/snapshot", bad, 401),
        ("/api/v1/graph/snapshot", good, 200),
        ("/ui/../api/v1/graph/snapshot", {}, 401),
        ("/ui/%2e%2e/api/v1/graph/snapshot", {}, 401),
        ("/ui/missing.js", {}, 401),  # no such route: nothing to tell a stranger
        ("/ui/missing.js", good, 404),
        ("/metrics/../api/v1/graph/snapshot", {}, 401),
    ]
    answers = asyncio.run(_answers([(path, headers) for path, headers, _ in cases]))
    for (path, headers, want), (status, body, challenge) in zip(cases, answers, strict=True):
        assert status == want, (path, headers, status)
        if status == 401:
            assert challenge.startswith('Bearer realm="lineage-processor"')
            assert ('error="invalid_token"' in challenge) == bool(headers)
            assert set(body) == {"error"}


def test_the_token_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # An ``==`` would answer the same and leak, through its timing, how long a
    # prefix of the token a caller has guessed: only a spy sees the difference.
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    # http_auth looks the function up on the hmac module at each call.
    monkeypatch.setattr(hmac, "compare_digest", spy)
    same_length = "X" + TOKEN[1:]
    presented = [TOKEN, same_length, TOKEN[:5], TOKEN + "0"]
    answers = asyncio.run(
        _answers([("/api/v1/graph/snapshot", {"Authorization": f"Bearer {t}"}) for t in presented])
    )
    assert [status for status, _, _ in answers] == [200, 401, 401, 401]
    assert sorted(map(sorted, compared)) == sorted(
        sorted([t.encode(), TOKEN.encode()]) for t in presented
    )


def test_the_openapi_document_declares_the_bearer_scheme_and_the_401s() -> None:
    doc = openapi_document()
    scheme = doc["components"]["securitySchemes"][SECURITY_SCHEME]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert doc["security"] == [{SECURITY_SCHEME: []}]
    for path, operations in doc["paths"].items():
        for operation in operations.values():
            if is_public(path):
                assert operation["security"] == [], path
                assert "401" not in operation["responses"], path
            else:
                assert "security" not in operation, path  # the document's default applies
                assert operation["responses"]["401"]["content"]["application/json"], path


def test_text_parameters_are_capped() -> None:
    assert text_param({"name": "x" * MAX_TEXT}, "name") == "x" * MAX_TEXT
    with pytest.raises(BadParameter) as caught:
        text_param({"name": "x" * (MAX_TEXT + 1)}, "name")
    assert caught.value.parameter == "name"
    assert f"at most {MAX_TEXT} characters" in caught.value.error
    with pytest.raises(BadParameter) as caught:
        text_param({"q": "x" * (MAX_SEARCH_TEXT + 1)}, "q", max_length=MAX_SEARCH_TEXT)
    assert caught.value.parameter == "q"
