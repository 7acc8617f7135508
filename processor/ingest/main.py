"""``lineage-processor ingest``: serve the gateway until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable

from processor import __version__
from processor.ingest import event_loop
from processor.ingest.processes import process_count, run_processes
from processor.ingest.routes import EVENT, EXTERNAL
from processor.ingest.server import address, build_gateway, serve
from processor.settings import Settings

__all__ = ["address", "build_gateway", "command", "describe", "dev_task", "run", "serve"]


def describe(url: str, settings: Settings) -> str:
    """What ``ingest`` and ``dev`` print: where to point a client."""
    return (
        f"  ingest    {url}{EVENT}  (OpenLineage HTTP transport: url {url})\n"
        f"  snowflake {url}{EXTERNAL}\n"
        f"  publishes to {settings.input_topics[0]} on {settings.kafka_bootstrap}"
    )


def run(settings: Settings) -> int:
    """Serve the gateway in the foreground until SIGINT or SIGTERM: in this
    process, or in ``LINEAGE_INGEST_PROCESSES`` children sharing the port."""

    def announce(url: str) -> None:
        print(f"lineage-processor {__version__}: ingest gateway", flush=True)
        print(describe(url, settings), flush=True)

    count = process_count(settings)
    if count > 1:
        return run_processes(settings, count, announce)

    async def main() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stopping.set)

        await serve(settings, started=announce, stop=stopping.wait, freeze_heap=True)

    event_loop.run(main())
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
