"""HTTP/1.1 connections of the gateway: an asyncio protocol around httptools'
C parser (llhttp, the parser of Node.js and uvicorn).

A request costs the parser's callbacks, a ``Request`` and a place among the
requests answered by one callback when the broker acknowledges their record
batch (no task: the single-event routes answer by callback); the answer is one
write of bytes mostly rendered in advance. Keep-alive connections serve their
requests one at a time, in order (pipelined requests wait, and the socket is
not read meanwhile).

The body is fed to the route's ``BodyReader`` as it arrives, so a body over
the bound is answered 413 at its first byte past it (or at once from its
Content-Length). Such a connection is then closed: the answer is sent, the
writing side shut, and what the client still sends is discarded for a moment
(so that it reads the answer rather than a reset), then the socket closed.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any, cast

import httptools

from processor.ingest.answers import BAD_REQUEST, HEAD_TOO_LARGE, Answer
from processor.ingest.body import BodyError
from processor.ingest.dispatch import Dispatcher, Pending, Request

# Headers the gateway reads; the others are skipped unparsed.
_WANTED = frozenset(
    {
        b"authorization",
        b"content-type",
        b"content-encoding",
        b"content-length",
        b"expect",
    }
)
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# A refused request's body is skipped up to this many bytes on a keep-alive
# connection; more and the connection is answered and closed at once.
_SKIP_BYTES = 64 * 1024
# The request line and headers: the reads after the first of a head (which is
# at most the transport's read size) add up to at most this.
MAX_HEAD_BYTES = 64 * 1024
_LINGER_SECONDS = 2.0
_LINGER_BYTES = 16 * 1024 * 1024
IDLE_SECONDS = 75.0


class Connection(asyncio.Protocol):
    """One client connection."""

    def __init__(self, dispatcher: Dispatcher, connections: set[Connection]) -> None:
        self._dispatcher = dispatcher
        self._connections = connections  # the open connections
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._headers: dict[str, str] = {}
        self._request: Request | None = None
        self._skipped = 0
        self._queue: deque[Request] = deque()
        self._busy = False
        self._paused = False
        self._draining = False  # the parser is done with this connection
        self._drained = 0
        self._linger: asyncio.TimerHandle | None = None
        self._in_head = self._head_began = False
        self._head_bytes = 0  # of the reads after the one a head began in
        self.last_active = time.monotonic()
        self.waiting: asyncio.Future[Any] | None = None  # what the request in hand waits for

    # --- the transport's callbacks ---------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._connections.discard(self)
        self._queue.clear()
        if self._linger is not None:
            self._linger.cancel()

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        if self._draining:
            self._drained += len(data)
            if self._drained > _LINGER_BYTES and self._transport is not None:
                self._transport.close()
            return
        self._head_began = False
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            request = self._request or Request("GET", "", "", {})
            self._refuse_now(request, BAD_REQUEST)
            return
        if self._in_head and not self._head_began:
            # A head that goes on past this read: bounded (the parser would hold
            # a header being received whole, whatever its size).
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse_now(Request("GET", "", "", {}), HEAD_TOO_LARGE)

    @property
    def idle(self) -> bool:
        """No request waits for its answer (one may be arriving: closing the
        connection then loses nothing the client was told of)."""
        return not self._busy and not self._queue

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    # --- the parser's callbacks --------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._skipped = 0
        self._in_head = self._head_began = True
        self._head_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name in _WANTED:
            self._headers[name.decode("latin-1")] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._in_head = False
        url = self._url
        path, _, query = url.partition(b"?")
        path, _, _ = path.partition(b"#")
        request = Request(
            self._parser.get_method().decode("ascii"),
            path.decode("latin-1"),
            query.decode("latin-1"),
            self._headers,
        )
        request.keep_alive = self._parser.should_keep_alive()
        self._request = request
        answer = self._dispatcher.begin(request)
        expect = request.headers.get("expect")
        expects = expect is not None and "100-continue" in expect.lower()
        if answer is not None:
            # Too large, or a client that waits for our word before its body: the
            # answer now; the body is then not read.
            if answer.status == 413 or expects:
                self._refuse_now(request, answer)
            else:
                request.answer = answer
        elif request.reader is not None and expects:
            self._write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        request = self._request
        if request is None or self._draining:
            return
        if request.answer is not None:  # refused: skipped, up to a bound
            self._skipped += len(body)
            if self._skipped > _SKIP_BYTES:
                self._refuse_now(request, request.answer)
            return
        if request.reader is not None:
            try:
                request.reader.feed(body)
            except BodyError as exc:
                self._refuse_now(request, self._dispatcher.refused(exc))

    def on_message_complete(self) -> None:
        request, self._request = self._request, None
        if request is None or self._draining:
            return
        self._queue.append(request)
        if self._busy:
            if not self._paused and self._transport is not None:
                self._transport.pause_reading()
                self._paused = True
        else:
            self._next()

    # --- answering -------------------------------------------------------------------

    def _refuse_now(self, request: Request, answer: Answer) -> None:
        """Answer before the request was read whole, then close (``_draining``)."""
        self._draining = True
        self._request = None
        request.answer = answer
        request.keep_alive = False
        self._queue.append(request)
        if not self._busy:
            self._next()

    def _next(self) -> None:
        while self._queue and not self._busy:
            request = self._queue.popleft()
            if request.answer is not None:
                self._answer(request, request.answer)
                continue
            result = self._dispatcher.start(request)
            if isinstance(result, Pending):
                self._busy = True
                self.waiting = result.future
                _wait(result.future, self, request, result)
            else:
                self._answer(request, result)
        if self._paused and not self._busy and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()

    def _settled(self, request: Request, pending: Pending) -> None:
        self._busy = False
        self.waiting = None
        self._answer(request, self._dispatcher.settle(request, pending))
        self._next()

    def _answer(self, request: Request, answer: Answer) -> None:
        self._dispatcher.count(request, answer)
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.write(answer.render(request.keep_alive, request.method != "HEAD"))
        self.last_active = time.monotonic()
        if request.keep_alive:
            return
        self._queue.clear()
        if not self._draining:
            transport.close()
            return
        # Let the client read the answer rather than a reset: shut our side, skip
        # what it still sends, close after a moment.
        if transport.can_write_eof():
            transport.write_eof()
        self._linger = asyncio.get_running_loop().call_later(_LINGER_SECONDS, transport.close)

    def _write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)


# The connections waiting on each future, answered in order by one callback:
# an acknowledgement is shared by the requests of a record batch, and a done
# callback each would cost every request a handle through the event loop.
_Waiter = tuple[Connection, Request, Pending]
_waiters: dict[asyncio.Future[Any], list[_Waiter]] = {}


def _wait(
    future: asyncio.Future[Any], connection: Connection, request: Request, pending: Pending
) -> None:
    waiters = _waiters.get(future)
    if waiters is None:
        waiters = _waiters[future] = []
        future.add_done_callback(_answer_waiters)
    waiters.append((connection, request, pending))


def _answer_waiters(future: asyncio.Future[Any]) -> None:
    for connection, request, pending in _waiters.pop(future, ()):
        try:
            connection._settled(request, pending)
        except Exception as exc:  # one connection's failure leaves the others answered
            asyncio.get_running_loop().call_exception_handler(
                {"message": "answering a request failed", "exception": exc, "protocol": connection}
            )
