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

The same load in C (``http_load.c``: threads instead of processes, each an
``epoll`` loop) costs a fraction of the Python loop's CPU a request; it is
built with the machine's ``cc`` on first use (cached by the source's hash
under ``bench/results/build``) and ``run_load`` uses it unless told otherwise,
falling back to the Python client when no compiler is found or the build
fails. Both report in the same form.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from pathlib import Path
from typing import Any

_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)
_READ = 1 << 16
_SOURCE = Path(__file__).resolve().parent / "http_load.c"
_BUILD = Path(__file__).resolve().parent / "results" / "build"
CFLAGS = ("-O2", "-Wall", "-Wextra", "-pthread")
CLIENTS = ("auto", "c", "python")


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
    client: str = "auto",
) -> dict[str, Any]:
    """Send ``requests`` over ``connections`` keep-alive connections spread over
    ``processes`` client processes (threads of the C client); the answers summed,
    and ``client``: which client ran ("c" or "python").

    ``client`` "auto" runs the C client when it can be built, else the Python one;
    "c" requires the C client; "python" runs the Python one."""
    if client not in CLIENTS:
        raise ValueError(f"client: one of {', '.join(CLIENTS)}, not {client!r}")
    binary = build_c_client() if client != "python" else None
    if client == "c" and binary is None:
        raise RuntimeError("the C load generator could not be built (no cc, or it failed)")
    if binary is not None:
        out = _run_c(binary, port, batch, requests, threads=processes, connections=connections)
        out["client"] = "c"
    else:
        out = _run_python(port, batch, requests, processes=processes, connections=connections)
        out["client"] = "python"
    return out


def build_c_client(compiler: str | None = None) -> Path | None:
    """The C client's binary, built on first use (``None``: no compiler, or it
    failed; the reason goes to stderr)."""
    compiler = compiler or os.environ.get("CC") or "cc"
    found = shutil.which(compiler)
    if found is None:
        return None
    source = _SOURCE.read_bytes()
    digest = hashlib.sha256(source + " ".join(CFLAGS).encode()).hexdigest()[:16]
    binary = _BUILD / f"http_load-{digest}"
    if binary.exists():
        return binary
    _BUILD.mkdir(parents=True, exist_ok=True)
    partial = _BUILD / f".http_load-{digest}.{os.getpid()}"
    done = subprocess.run(
        [found, *CFLAGS, "-o", str(partial), str(_SOURCE)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        print(f"http_load: cc failed, using the Python client:\n{done.stderr}", file=sys.stderr)
        partial.unlink(missing_ok=True)
        return None
    partial.replace(binary)  # whole or absent, also when two benches build at once
    return binary


def write_requests(path: Path, requests: list[tuple[int, bytes]]) -> None:
    """The C client's request file: [u32 events][u32 length][request] each."""
    with path.open("wb") as file:
        for count, request in requests:
            file.write(struct.pack("<II", count, len(request)))
            file.write(request)


def parse_report(text: str) -> dict[str, Any]:
    """The C client's report as the Python client's summed answers."""
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    out: dict[str, Any] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == "latency":
            latencies.append(float(value))
        elif name == "status":
            code, count = value.split()
            statuses[int(code)] += int(count)
        elif name in ("first", "last", "cpu"):
            out[name] = float(value)
        elif name in ("events", "refused"):
            out[name] = int(value)
        elif line:
            raise ValueError(f"the C client's report has an unknown line: {line!r}")
    missing = {"first", "last", "cpu", "events", "refused"} - out.keys()
    if missing:
        raise ValueError(f"the C client's report lacks {', '.join(sorted(missing))}")
    return {
        "latencies": sorted(latencies),
        "statuses": dict(statuses),
        "events": out["events"],
        "refused": out["refused"],
        "elapsed": out["last"] - out["first"],
        "client_cpu": out["cpu"],
        "first": out["first"],  # time.perf_counter's clock
        "last": out["last"],
    }


def _run_c(
    binary: Path,
    port: int,
    batch: bool,
    requests: list[tuple[int, bytes]],
    *,
    threads: int,
    connections: int,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="http-load-") as tmp:
        path = Path(tmp) / "requests"
        write_requests(path, requests)
        args = [str(binary), str(port), str(path), str(connections), str(threads)]
        done = subprocess.run([*args, "1" if batch else "0"], capture_output=True, check=False)
    if done.returncode != 0:
        raise ConnectionError(done.stderr.decode(errors="replace").strip())
    return parse_report(done.stdout.decode())


def _run_python(
    port: int,
    batch: bool,
    requests: list[tuple[int, bytes]],
    *,
    processes: int,
    connections: int,
) -> dict[str, Any]:
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
