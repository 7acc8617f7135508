"""One gateway process: the application, its producer and metrics, served on
the configured port until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from processor.adapters.connections import kafka_options
from processor.adapters.gc_policy import settle_heap
from processor.ingest.metrics import IngestMetrics
from processor.ingest.publisher import GatewayPublisher
from processor.ingest.routes import Gateway, GatewayConfig
from processor.ingest.wire import IDLE_SECONDS, Connection
from processor.settings import Settings

log = logging.getLogger("processor.ingest")


def build_gateway(settings: Settings) -> Gateway:
    """The gateway these settings describe, with its own producer and metrics."""
    config = GatewayConfig(
        input_topic=settings.input_topics[0],
        control_topic=settings.control_topic,
        rule=settings.rule(),
        limits=settings.limits(),
        max_batch_bytes=settings.ingest_max_batch_bytes,
        max_batch_events=settings.ingest_max_batch_events,
        tokens=settings.token_table(),
    )
    publisher = GatewayPublisher(
        settings.kafka_bootstrap,
        settings.ingest_publish_timeout_seconds,
        kafka_options(settings),
    )
    return Gateway(config, publisher, IngestMetrics())


def address(settings: Settings, port: int | None = None) -> str:
    """The URL a client on this machine points its HTTP transport at."""
    host = settings.ingest_host
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{shown}:{settings.ingest_port if port is None else port}"


async def serve(
    settings: Settings,
    *,
    started: Callable[[str], None] | None = None,
    stop: Callable[[], Awaitable[object]] | None = None,
    reuse_port: bool = False,
    warn_open: bool = True,
    freeze_heap: bool = False,
) -> None:
    """Serve until ``stop()`` returns (default: forever, until cancelled).

    ``reuse_port``: share the port with the other gateway processes
    (SO_REUSEPORT: the kernel spreads new connections over them);
    ``freeze_heap``: the process serves nothing else (not ``dev``)."""
    gateway = build_gateway(settings)
    if warn_open and not gateway.config.tokens.enabled:
        log.warning(
            "ingest gateway: no token is configured (LINEAGE_HTTP_TOKENS): anyone who "
            "reaches %s may publish and delete lineage",
            address(settings),
        )
    dispatcher = gateway.dispatcher()
    loop = asyncio.get_running_loop()
    connections: set[Connection] = set()

    def connect() -> Connection:
        return Connection(dispatcher, connections)

    server = await loop.create_server(
        connect,
        settings.ingest_host,
        settings.ingest_port,
        backlog=1024,
        reuse_port=reuse_port or None,
    )
    sweeper = loop.create_task(_sweep(connections))
    try:
        port = settings.ingest_port
        if port == 0 and server.sockets:
            port = int(server.sockets[0].getsockname()[1])
        if freeze_heap:
            # The worker's heap policy (adapters/gc_policy.py): what is alive now
            # lives as long as the process, and the requests' objects are freed
            # by reference counting; young passes every 20,000 allocations.
            settle_heap()
        if started is not None:
            started(address(settings, port))
        if stop is None:
            await asyncio.Event().wait()
        else:
            await stop()
    finally:
        sweeper.cancel()
        server.close()
        # The requests in hand are answered (each waits at most the publish timeout).
        for connection in list(connections):
            if connection.idle:
                connection.close()
        waiting = {c.waiting for c in connections if c.waiting is not None}
        if waiting:
            await asyncio.wait(waiting, timeout=settings.ingest_publish_timeout_seconds + 1)
            await asyncio.sleep(0)  # their answers are written by callbacks run before this
        for connection in connections:
            connection.close()
        gateway.metrics.tally.flush()
        await gateway.publisher.close()


async def _sweep(connections: set[Connection]) -> None:
    """Close the connections that sent nothing for IDLE_SECONDS and wait for no
    answer: idle keep-alive connections, and heads or bodies that stalled."""
    while True:
        await asyncio.sleep(IDLE_SECONDS / 5)
        now = time.monotonic()
        for connection in list(connections):
            if connection.idle and now - connection.last_active > IDLE_SECONDS:
                with contextlib.suppress(Exception):
                    connection.close()
