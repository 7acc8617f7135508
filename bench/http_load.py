"""The ingest bench's load generator: cheap enough not to starve the gateway.

K client processes (forked once the requests are built), each with C keep-alive
connections on raw asyncio streams, send requests whose bytes were made before
the clock starts: a request costs the client one write, one read of the header
and one of the body. Every process reports its answers (status counts, events,
latencies), its first send and last answer (``time.perf_counter`` is the
system's monotonic clock on Linux, so the processes' instants compare) and the
CPU time it used, so the bench can say what the load itself cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import re
import time
from collections import Counter, deque
from typing import Any

_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


def build_requests(
    port: int, path: str, bodies: list[tuple[int, bytes]]
) -> list[tuple[int, bytes]]:
    """(events, the whole HTTP/1.1 request) for each (events, body)."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\nContent-Length: "
    ).encode()
    return [(count, head + b"%d\r\n\r\n" % len(body) + body) for count, body in bodies]


async def _connection(
    port: int, batch: bool, requests: deque[tuple[int, bytes]], out: dict[str, Any]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    statuses: Counter[int] = out["statuses"]
    latencies: list[float] = out["latencies"]
    try:
        while requests:
            count, request = requests.popleft()
            started = time.perf_counter()
            writer.write(request)
            header = await reader.readuntil(b"\r\n\r\n")
            match = _LENGTH.search(header)
            answer = await reader.readexactly(int(match.group(1))) if match else b""
            latencies.append(time.perf_counter() - started)
            status = int(header[9:12])
            statuses[status] += 1
            out["events"] += count
            if batch and status == 200:
                out["refused"] += json.loads(answer)["summary"]["failed"]
            elif 400 <= status < 500:
                out["refused"] += count
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


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
    out["first"] = time.perf_counter()

    async def run() -> None:
        await asyncio.gather(*(_connection(port, batch, queue, out) for _ in range(connections)))

    asyncio.run(run())
    out["last"] = time.perf_counter()
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
