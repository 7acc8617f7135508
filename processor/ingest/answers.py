"""The gateway's answers: a status, a JSON body and a few headers, rendered as
HTTP/1.1 bytes. The common answers (``published``) are rendered once: a
single-event request then costs the answer one bytes join."""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

import orjson

from processor.core.privileges import Decision

CHALLENGE = 'Bearer realm="lineage-processor"'
RETRY_AFTER_SECONDS = 5
JSON = "application/json"


class Answer:
    """One response, its bytes made once but for the Date: the status line and
    headers before it, and after it the rest, keep-alive or close."""

    __slots__ = ("_after", "_before", "body", "status")

    def __init__(
        self,
        status: int,
        body: bytes,
        content_type: str = JSON,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        lines = [f"HTTP/1.1 {status} {_phrase(status)}", f"Content-Type: {content_type}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self._before = ("\r\n".join(lines) + "\r\nDate: ").encode("latin-1")
        self._after = (self._tail(True) + body, self._tail(False) + body)

    def _tail(self, keep_alive: bool) -> bytes:
        connection = "keep-alive" if keep_alive else "close"
        return f"\r\nContent-Length: {len(self.body)}\r\nConnection: {connection}\r\n\r\n".encode()

    def render(self, keep_alive: bool, with_body: bool = True) -> bytes:
        if not with_body:  # HEAD
            return self._before + _date() + self._tail(keep_alive)
        return self._before + _date() + self._after[0 if keep_alive else 1]


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


_clock: list[Any] = [0, b""]


def _date() -> bytes:
    """The Date header's value, formatted once a second."""
    now = int(time.time())
    if _clock[0] != now:
        _clock[0], _clock[1] = now, formatdate(now, usegmt=True).encode()
    body: bytes = _clock[1]
    return body


def json_answer(
    body: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> Answer:
    return Answer(status, orjson.dumps(body), JSON, headers)


def refusal(
    status: int, reason: str, error: str, headers: Mapping[str, str] | None = None
) -> Answer:
    """A 4xx saying why: ``{"reason": code, "error": message}``."""
    return json_answer({"reason": reason, "error": error}, status, headers)


def unavailable(error: str) -> Answer:
    """503 with Retry-After: the openlineage clients retry a 5xx."""
    return refusal(503, "broker_unavailable", error, {"Retry-After": str(RETRY_AFTER_SECONDS)})


def denied(decision: Decision, has_credentials: bool) -> Answer:
    if decision is Decision.FORBIDDEN:
        return FORBIDDEN
    return UNAUTHORIZED_BAD_TOKEN if has_credentials else UNAUTHORIZED


def _unauthorized(has_credentials: bool) -> Answer:
    challenge = CHALLENGE + (', error="invalid_token"' if has_credentials else "")
    message = "invalid bearer token" if has_credentials else "a bearer token is required"
    return refusal(
        401,
        "unauthorized",
        message,
        {"WWW-Authenticate": challenge, "Cache-Control": "no-store"},
    )


PUBLISHED_201 = json_answer({"status": "published"}, 201)
PUBLISHED_200 = json_answer({"status": "published"})
FORBIDDEN = refusal(403, "forbidden", "the token lacks the privilege this route needs")
UNAUTHORIZED = _unauthorized(False)
UNAUTHORIZED_BAD_TOKEN = _unauthorized(True)
NOT_FOUND = refusal(404, "not_found", "no such route")
BAD_REQUEST = refusal(400, "bad_request", "the request is not valid HTTP/1.1")
HEAD_TOO_LARGE = refusal(
    431, "header_too_large", "the request line and headers are more than the limit of 64 KiB"
)
