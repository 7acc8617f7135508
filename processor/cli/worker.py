"""``lineage-processor worker``: the worker against the configured Kafka and Redis,
after a preflight that names an unreachable one in a line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from processor import __version__
from processor.cli.settings_loader import load_settings
from processor.core.redact import redact_url
from processor.errors import ConfigurationError, DependencyUnavailable
from processor.settings import Settings


async def _preflight(settings: Settings, wait_seconds: float) -> None:
    """Fail fast, in one line, when Kafka or Redis cannot be reached at start-up."""
    from processor.adapters.connections import graph_store, kafka_options
    from processor.adapters.kafka_admin import wait_for_broker
    from processor.adapters.redis_graph_marker import check_eviction_policy

    await wait_for_broker(settings.kafka_bootstrap, wait_seconds, security=kafka_options(settings))
    from redis.exceptions import AuthenticationError, RedisError

    store = graph_store(settings, timeout=wait_seconds)
    shown = redact_url(settings.redis_url)
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                await store.client.ping()
                break
            except AuthenticationError as exc:  # waiting would not fix it
                raise ConfigurationError(
                    f"Redis at {shown} refused the credentials (LINEAGE_REDIS_PASSWORD, "
                    f"LINEAGE_REDIS_USERNAME or the URL's): {exc}"
                ) from None
            except RedisError as exc:
                if time.monotonic() > deadline:
                    raise DependencyUnavailable(f"cannot reach Redis at {shown}: {exc}") from None
            await asyncio.sleep(0.5)
        warning = await check_eviction_policy(store.client, allow=settings.allow_redis_eviction)
        if warning is not None:
            logging.getLogger("processor.worker").warning("%s", warning)
    finally:
        await store.close()


def run_worker(
    settings: Settings, *, extra_tasks: Sequence[Any] = (), show_edges: bool = False
) -> int:
    """Run the worker until SIGINT/SIGTERM; faust finishes the batch and commits."""
    import faust

    from processor.adapters.gc_policy import single_arena
    from processor.app import LineageWorker

    # Before the preflight: resolving a host name starts the event loop's
    # executor threads, and a thread keeps the malloc arena it was given.
    single_arena()
    asyncio.run(_preflight(settings, wait_seconds=30.0))
    worker = LineageWorker(settings)
    for task in extra_tasks:
        worker.app.task(task(worker))
    if show_edges:
        worker.listeners.append(_print_edges)
    print(
        f"lineage-processor {__version__}: consuming {','.join(settings.input_topics)} "
        f"from {settings.kafka_bootstrap}, graph in {redact_url(settings.redis_url)}\n"
        f"  page      http://127.0.0.1:{settings.web_port}/\n"
        f"  API       http://127.0.0.1:{settings.web_port}/api/v1/graph/snapshot\n"
        f"  metrics   http://127.0.0.1:{settings.web_port}/metrics\n"
        f"  health    http://127.0.0.1:{settings.web_port}/readyz",
        flush=True,
    )
    from processor import logs

    fw = faust.Worker(
        worker.app,
        loglevel=settings.log_level.upper(),
        quiet=True,
        redirect_stdouts=False,
        logging_config=logs.dict_config(settings.log_level, settings.log_format),
    )
    try:
        fw.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    return run_worker(load_settings())


def _print_edges(result: Any) -> None:
    """Show lineage arriving: each folded edge of a batch, a few per batch."""
    shown = 0
    for fold in result.folded:
        names = {n.node_id: f"{n.namespace}/{n.name}" for n in fold.nodes}
        for src, dst in fold.edges:
            if shown == 5:
                print("  ... and more edges in this batch", flush=True)
                return
            print(f"+ {names[src]} -> {names[dst]}  ({fold.job[0]}/{fold.job[1]})", flush=True)
            shown += 1
