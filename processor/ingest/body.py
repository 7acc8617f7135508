"""Reading a request body under a size bound, gzip included.

The bound applies to the decompressed bytes. The body is fed to ``BodyReader``
chunk by chunk as it arrives, and gzip is inflated with ``max_length``, so
reading stops one byte past the bound whatever the compression ratio (no zip
bomb); an oversized body is refused from its ``Content-Length`` before any of
it is read.
"""

from __future__ import annotations

import zlib

from processor.core.reasons import Reason

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


def check_content_type(value: str | None) -> None:
    """JSON or no content type; anything else is a client configured wrongly."""
    if value is None or value == "application/json":  # what the clients send, at once
        return
    kind = value.split(";", 1)[0].strip().lower()
    if kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json")):
        return
    raise BodyError(
        400,
        "unsupported_content_type",
        f"Content-Type {kind!r} is not JSON: send application/json",
    )


class BodyReader:
    """The decompressed body, at most ``limit`` bytes: ``feed`` the chunks as they
    come, then ``finish``. Both raise ``BodyError`` (413 ``too_large`` at the
    first byte past the bound, 400 for an unknown encoding, bad gzip or an
    empty body); the constructor already refuses a declared length over it."""

    __slots__ = ("_inflater", "_parts", "_size", "_wire", "_wire_limit", "limit")

    def __init__(self, limit: int, encoding: str | None, length: int | None) -> None:
        encoding = "identity" if encoding is None else encoding.strip().lower()
        if encoding not in ("identity", "gzip", "x-gzip"):
            raise BodyError(
                400, "unsupported_encoding", f"Content-Encoding {encoding!r}: only gzip is accepted"
            )
        gzipped = encoding != "identity"
        self.limit = limit
        self._wire_limit = limit + limit // 100 + _GZIP_SLACK if gzipped else limit
        if length is not None and length > self._wire_limit:
            raise _too_large(limit, f"a body of {length} bytes")
        self._parts: list[bytes] = []
        self._size = self._wire = 0
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None

    def feed(self, chunk: bytes) -> None:
        self._wire += len(chunk)
        inflater = self._inflater
        if inflater is None:
            if self._wire > self.limit:
                raise _too_large(self.limit, "the body")
            self._parts.append(chunk)
            return
        if self._wire > self._wire_limit:
            raise _too_large(self.limit, "the compressed body")
        if inflater.eof:  # bytes after the gzip stream's end are ignored, as gzip does
            return
        data = chunk
        try:
            while data:
                out = inflater.decompress(data, self.limit - self._size + 1)
                self._take(out)
                data = inflater.unconsumed_tail
        except zlib.error as exc:
            raise BodyError(400, "invalid_gzip", f"the body is not valid gzip: {exc}") from None

    def _take(self, out: bytes) -> None:
        self._size += len(out)
        if self._size > self.limit:
            raise _too_large(self.limit, "the decompressed body")
        self._parts.append(out)

    def finish(self) -> bytes:
        inflater = self._inflater
        if inflater is not None and self._wire:
            try:
                self._take(inflater.flush())
            except zlib.error as exc:
                raise BodyError(400, "invalid_gzip", f"the body is not valid gzip: {exc}") from None
            if not inflater.eof:
                raise BodyError(400, "invalid_gzip", "the gzip stream ends before its end")
        parts = self._parts
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        if not body or body.isspace():  # as `not body.strip()`, without the copy
            raise BodyError(400, "empty_body", "the request has no body: send one JSON event")
        return body
