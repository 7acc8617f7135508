"""Several gateway processes on one port (``LINEAGE_INGEST_PROCESSES``).

One gateway process is CPU-bound well before a core's worth of producers: the
request handling, the lineage profile and the producer are Python. The parent here serves
nothing: it reserves the port, starts the children (fresh interpreters), each
listening on the port with SO_REUSEPORT so the kernel spreads connections over
them, prints the URL once all listen, and waits. SIGTERM or SIGINT stops the
children (each answers what it has in hand, then closes its producer); a child
that dies stops the others and the parent exits 1, so a supervisor (systemd,
compose, Kubernetes) restarts the whole gateway rather than run it short-handed.
A child whose parent is gone stops on its own.

Metrics: prometheus_client's multiprocess mode, in a directory the parent
makes and removes (``metrics.exposition``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Callable
from multiprocessing.connection import wait
from typing import Any

from processor import logs
from processor.ingest import event_loop
from processor.ingest.metrics import MULTIPROCESS_DIR_ENV
from processor.ingest.server import address, serve
from processor.settings import Settings

log = logging.getLogger("processor.ingest")

_START_SECONDS = 60.0
_STOP_SECONDS = 30.0
_ORPHAN_POLL_SECONDS = 0.5


def process_count(settings: Settings) -> int:
    """The configured number, or one per CPU core this process may run on."""
    if settings.ingest_processes:
        return settings.ingest_processes
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _reserve(host: str, port: int) -> socket.socket:
    """A socket bound (not listening) to the port with SO_REUSEPORT: it picks the
    port when it is 0, fails early when another program holds it, and keeps it
    for the children; the kernel hands connections only to listening sockets."""
    family, kind, proto, _, where = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(where)
    except OSError:
        sock.close()
        raise
    return sock


def run_processes(settings: Settings, count: int, started: Callable[[str], None]) -> int:
    """Run ``count`` gateway processes until SIGINT or SIGTERM; 1 if one died."""
    holder = _reserve(settings.ingest_host, settings.ingest_port)
    port = int(holder.getsockname()[1])
    stopping = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stopping.set())
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    directory = tempfile.mkdtemp(prefix="lineage-ingest-metrics-")
    # Read by prometheus_client when a child imports it: the children inherit it.
    os.environ[MULTIPROCESS_DIR_ENV] = directory
    context = multiprocessing.get_context("spawn")
    ready: Any = context.Queue()
    child_settings = settings.model_copy(update={"ingest_port": port})
    children = [
        context.Process(
            target=_child, args=(child_settings, index, ready, os.getpid()), name=f"ingest-{index}"
        )
        for index in range(count)
    ]
    failed = False
    try:
        for child in children:
            child.start()
        failed = not _await_ready(children, ready, stopping)
        if not failed and not stopping.is_set():
            started(address(settings, port))
            failed = _watch(children, stopping)
    finally:
        _stop(children)
        ready.close()
        holder.close()
        os.environ.pop(MULTIPROCESS_DIR_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 1 if failed else 0


def _await_ready(children: list[Any], ready: Any, stopping: threading.Event) -> bool:
    """True once every child listens; False when one dies or does not in time."""
    waiting = len(children)
    deadline = _START_SECONDS
    while waiting and not stopping.is_set():
        with contextlib.suppress(Exception):
            ready.get(timeout=0.2)
            waiting -= 1
            continue
        deadline -= 0.2
        dead = [c for c in children if not c.is_alive()]
        if dead or deadline <= 0:
            why = f"{dead[0].name} exited with {dead[0].exitcode}" if dead else "a timeout"
            log.error("ingest gateway: the processes did not all start (%s)", why)
            return False
    return True


def _watch(children: list[Any], stopping: threading.Event) -> bool:
    """Wait for a signal (False) or a child's death (True)."""
    sentinels = [c.sentinel for c in children]
    while not stopping.is_set():
        if wait(sentinels, timeout=0.5):
            dead = next(c for c in children if not c.is_alive())
            log.error(
                "ingest gateway: %s exited with %s; stopping the others",
                dead.name,
                dead.exitcode,
            )
            return True
    return False


def _stop(children: list[Any]) -> None:
    for child in children:
        if child.is_alive() and child.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGTERM)
    for child in children:
        if child.pid is None:
            continue
        child.join(_STOP_SECONDS)
        if child.is_alive():
            log.error("ingest gateway: %s did not stop in time; killed", child.name)
            child.kill()
            child.join()


def _child(settings: Settings, index: int, ready: Any, parent: int) -> None:
    """One gateway process, listening with SO_REUSEPORT. ``parent`` is the
    parent's pid as the parent saw it: a parent killed while this interpreter
    was still starting has already left it to init, and ``getppid`` here
    would name init."""
    logs.configure(settings.log_level, settings.log_format)

    async def main() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)

        async def stop() -> None:
            while not stopping.is_set():
                if os.getppid() != parent:  # the parent was killed: nobody would stop us
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), _ORPHAN_POLL_SECONDS)

        await serve(
            settings,
            started=lambda _url: ready.put(index),
            stop=stop,
            reuse_port=True,
            warn_open=index == 0,
            freeze_heap=True,
        )

    event_loop.run(main())
