"""Reading a request body under a size bound, gzip included.

The bound applies to the decompressed bytes: a body is read chunk by chunk
and inflated with ``max_length``, so reading stops one byte past the bound
whatever the compression ratio (no zip bomb), and an oversized plain body is
refused from its ``Content-Length`` before any of it is read.
"""

from __future__ import annotations

import asyncio
import zlib

from aiohttp import web

from processor.core.reasons import Reason

_CHUNK = 64 * 1024
# gzip's framing: a header and trailer, and 5 bytes per stored block of
# incompressible data; a compressed body larger than this cannot fit the bound.
_GZIP_SLACK = 1024


class BodyError(Exception):
    """A body the gateway refuses: HTTP ``status``, a reason code and a message."""

    def __init__(self, status: int, reason: str, error: str) -> None:
        super().__init__(f"{reason}: {error}")
        self.status = status
        self.reason = reason
        self.error = error


def _too_large(limit: int, what: str) -> BodyError:
    return BodyError(413, Reason.TOO_LARGE.value, f"{what} is more than the limit of {limit} bytes")


def check_content_type(request: web.Request) -> None:
    """JSON or no content type; anything else is a client configured wrongly."""
    if "Content-Type" not in request.headers:
        return
    kind = request.content_type.lower()
    if kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json")):
        return
    raise BodyError(
        400,
        "unsupported_content_type",
        f"Content-Type {kind!r} is not JSON: send application/json",
    )


async def read_body(request: web.Request, limit: int) -> bytes:
    """The decompressed body, at most ``limit`` bytes; ``BodyError`` otherwise
    (413 ``too_large``, 400 for an unknown encoding, bad gzip or an empty body)."""
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip", "x-gzip"):
        raise BodyError(
            400, "unsupported_encoding", f"Content-Encoding {encoding!r}: only gzip is accepted"
        )
    gzipped = encoding != "identity"
    wire_limit = limit + limit // 100 + _GZIP_SLACK if gzipped else limit
    length = request.content_length
    if length is not None and length > wire_limit:
        raise _too_large(limit, f"a body of {length} bytes")
    body = await (_inflate(request, limit, wire_limit) if gzipped else _read(request, limit))
    if not body.strip():
        raise BodyError(400, "empty_body", "the request has no body: send one JSON event")
    return body


async def _read(request: web.Request, limit: int) -> bytes:
    length = request.content_length
    if length is not None:  # at most ``limit``, checked above: one read
        try:
            return await request.content.readexactly(length)
        except asyncio.IncompleteReadError as exc:  # the client hung up: what came
            return exc.partial
    parts: list[bytes] = []
    size = 0
    while chunk := await request.content.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise _too_large(limit, "the body")
        parts.append(chunk)
    return b"".join(parts)


async def _inflate(request: web.Request, limit: int, wire_limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip framing only
    parts: list[bytes] = []
    size = wire = 0
    try:
        while chunk := await request.content.read(_CHUNK):
            wire += len(chunk)
            if wire > wire_limit:
                raise _too_large(limit, "the compressed body")
            data = chunk
            while data:
                out = inflater.decompress(data, limit - size + 1)
                size += len(out)
                if size > limit:
                    raise _too_large(limit, "the decompressed body")
                parts.append(out)
                data = inflater.unconsumed_tail
            if inflater.eof:
                break
        out = inflater.flush()
        size += len(out)
        if size > limit:
            raise _too_large(limit, "the decompressed body")
        parts.append(out)
    except zlib.error as exc:
        raise BodyError(400, "invalid_gzip", f"the body is not valid gzip: {exc}") from None
    if wire == 0:
        return b""
    if not inflater.eof:
        raise BodyError(400, "invalid_gzip", "the gzip stream ends before its end")
    return b"".join(parts)
