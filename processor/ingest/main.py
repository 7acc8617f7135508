"""``lineage-processor ingest``: serve the gateway until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

from aiohttp import web

from processor import __version__
from processor.adapters.connections import kafka_options
from processor.ingest.metrics import IngestMetrics
from processor.ingest.publisher import GatewayPublisher
from processor.ingest.routes import EVENT, EXTERNAL, Gateway, GatewayConfig
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
) -> None:
    """Serve until ``stop()`` returns (default: forever, until cancelled)."""
    gateway = build_gateway(settings)
    if not gateway.config.tokens.enabled:
        log.warning(
            "ingest gateway: no token is configured (LINEAGE_HTTP_TOKENS): anyone who "
            "reaches %s may publish and delete lineage",
            address(settings),
        )
    # The body reader inflates gzip itself, under the size bound.
    runner = web.AppRunner(gateway.app(), access_log=None, auto_decompress=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.ingest_host, settings.ingest_port, backlog=1024)
        await site.start()
        port = settings.ingest_port
        if port == 0 and runner.addresses:
            port = int(runner.addresses[0][1])
        if started is not None:
            started(address(settings, port))
        if stop is None:
            await asyncio.Event().wait()
        else:
            await stop()
    finally:
        await runner.cleanup()
        await gateway.publisher.close()


def describe(url: str, settings: Settings) -> str:
    """What ``ingest`` and ``dev`` print: where to point a client."""
    return (
        f"  ingest    {url}{EVENT}  (OpenLineage HTTP transport: url {url})\n"
        f"  snowflake {url}{EXTERNAL}\n"
        f"  publishes to {settings.input_topics[0]} on {settings.kafka_bootstrap}"
    )


def run(settings: Settings) -> int:
    """Serve the gateway in the foreground until SIGINT or SIGTERM."""

    async def main() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stopping.set)

        def started(url: str) -> None:
            print(f"lineage-processor {__version__}: ingest gateway", flush=True)
            print(describe(url, settings), flush=True)

        await serve(settings, started=started, stop=stopping.wait)

    asyncio.run(main())
    return 0


def command(settings: Settings, port: int | None = None) -> int:
    """The ``ingest`` subcommand (``--port`` overrides LINEAGE_INGEST_PORT)."""
    if port is not None:
        settings = settings.model_copy(update={"ingest_port": port})
    return run(settings)


def dev_task(settings: Settings, port: int | None = None) -> Callable[[], Awaitable[None]]:
    """A gateway running beside ``dev``'s worker, on its event loop."""
    if port is not None:
        settings = settings.model_copy(update={"ingest_port": port})

    async def gateway() -> None:
        def started(url: str) -> None:
            print(describe(url, settings), flush=True)

        try:
            await serve(settings, started=started)
        except OSError as exc:  # the port is taken: the worker runs on without it
            print(f"  ingest    not started: {exc} (set --ingest-port)", flush=True)

    return gateway
