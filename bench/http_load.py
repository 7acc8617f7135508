"""The ingest bench's load generator: cheap enough not to starve the gateway.

K client processes (forked once the requests are built), each driving C
keep-alive connections from one ``epoll`` loop on non-blocking sockets (no
asyncio: its streams, futures and tasks cost the client more than a third of
what the gateway spends on a request, on the same cores). Each connection sends
a request whose bytes were made before the clock starts and waits for the whole
answer before it sends its next: one ``send`` and, for a small answer, one
``recv`` a request. Every process reports its answers (status counts, events,
latencies), its first send and last answer (``time.perf_counter`` is the
system's monotonic clock on Linux, so the processes' instants compare) and the
CPU time it used, so the bench can say what the load itself cost.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import select
import socket
import time
from collections import Counter, deque
from typing import Any

_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)
_READ = 1 << 16


def build_requests(
    port: int, path: str, bodies: list[tuple[int, bytes]]
) -> list[tuple[int, bytes]]:
    """(events, the whole HTTP/1.1 request) for each (events, body)."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\nContent-Length: "
    ).encode()
    return [(count, head + b"%d\r\n\r\n" % len(body) + body) for count, body in bodies]


class _Conn:
    """One connection: the request in flight, what is left to send of it, and
    what arrived of its answer."""

    __slots__ = ("count", "inbox", "outbox", "sock", "started")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.count = 0
        self.outbox = b""
        self.inbox = b""
        self.started = 0.0


def _drive(
    port: int,
    batch: bool,
    requests: deque[tuple[int, bytes]],
    connections: int,
    out: dict[str, Any],
) -> None:
    """Run the connections until no request is left and every answer came."""
    statuses: Counter[int] = out["statuses"]
    latencies: list[float] = out["latencies"]
    poller = select.epoll()
    conns: dict[int, _Conn] = {}
    clock = time.perf_counter
    readable, writable = select.EPOLLIN, select.EPOLLIN | select.EPOLLOUT

    def send_next(conn: _Conn) -> bool:
        """Send the next request (what the socket takes now); False when none is left."""
        if not requests:
            return False
        conn.count, request = requests.popleft()
        conn.started = clock()
        try:
            sent = conn.sock.send(request)
        except BlockingIOError:
            sent = 0
        conn.outbox = request[sent:] if sent < len(request) else b""
        if conn.outbox:  # a large body: the rest when the socket takes it
            poller.modify(conn.sock.fileno(), writable)
        return True

    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        conn = _Conn(sock)
        conns[sock.fileno()] = conn
        poller.register(sock.fileno(), readable)
    out["first"] = clock()
    active = sum(send_next(conn) for conn in list(conns.values()))
    try:
        while active:
            for fd, mask in poller.poll():
                conn = conns[fd]
                if mask & select.EPOLLOUT and conn.outbox:
                    sent = conn.sock.send(conn.outbox)
                    conn.outbox = conn.outbox[sent:]
                    if not conn.outbox:
                        poller.modify(fd, readable)
                if not mask & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                    continue
                data = conn.sock.recv(_READ)
                if not data:
                    raise ConnectionError("the gateway closed a connection")
                inbox = conn.inbox + data if conn.inbox else data
                end = inbox.find(b"\r\n\r\n")
                if end < 0:
                    conn.inbox = inbox
                    continue
                match = _LENGTH.search(inbox, 0, end)
                length = int(match.group(1)) if match else 0
                if len(inbox) < end + 4 + length:
                    conn.inbox = inbox
                    continue
                latencies.append(clock() - conn.started)
                conn.inbox = b""
                status = int(inbox[9:12])
                statuses[status] += 1
                out["events"] += conn.count
                if batch and status == 200:
                    answer = json.loads(inbox[end + 4 : end + 4 + length])
                    out["refused"] += answer["summary"]["failed"]
                elif 400 <= status < 500:
                    out["refused"] += conn.count
                if not send_next(conn):
                    active -= 1
    finally:
        out["last"] = clock()
        for conn in conns.values():
            conn.sock.close()
        poller.close()


def _client(
    port: int,
    batch: bool,
    requests: list[tuple[int, bytes]],
    connections: int,
    start: Any,
    results: Any,
) -> None:
    out: dict[str, Any] = {"latencies": [], "statuses": Counter(), "events": 0, "refused": 0}
    queue = deque(requests)
    start.wait()
    cpu = time.process_time()
    _drive(port, batch, queue, connections, out)
    out["cpu"] = time.process_time() - cpu
    out["statuses"] = dict(out["statuses"])
    results.put(out)


def run_load(
    port: int,
    batch: bool,
    requests: list[tuple[int, bytes]],
    *,
    processes: int,
    connections: int,
) -> dict[str, Any]:
    """Send ``requests`` over ``connections`` keep-alive connections spread over
    ``processes`` client processes; the answers summed."""
    context = multiprocessing.get_context("fork")
    start = context.Event()
    results: Any = context.Queue()
    per_process = max(1, connections // processes)
    clients = [
        context.Process(
            target=_client,
            args=(port, batch, requests[i::processes], per_process, start, results),
        )
        for i in range(processes)
    ]
    for client in clients:
        client.start()
    time.sleep(0.2)  # each client is forked and waiting: the clock starts for all at once
    start.set()
    outs = [results.get() for _ in clients]
    for client in clients:
        client.join()
    statuses: Counter[int] = Counter()
    for out in outs:
        statuses.update(out["statuses"])
    return {
        "latencies": sorted(x for out in outs for x in out["latencies"]),
        "statuses": dict(statuses),
        "events": sum(out["events"] for out in outs),
        "refused": sum(out["refused"] for out in outs),
        "elapsed": max(out["last"] for out in outs) - min(out["first"] for out in outs),
        "client_cpu": sum(out["cpu"] for out in outs),
    }
