"""Waiting until a started broker or Redis really answers, for both backends.

A probe that fails is retried in short slices so that a local child that died while
starting is noticed at once; the error then carries the tail of the service's log.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from processor.core.redact import redact_url
from processor.errors import BrokerUnavailable, ServiceStartError

if TYPE_CHECKING:
    from processor.devstack.running import RunningService

__all__ = ["broker_ready", "redis_ready", "run_coro"]

T = TypeVar("T")


def run_coro(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even inside a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _fail(service: RunningService, why: str) -> ServiceStartError:
    tail = " | ".join(service.log_tail(6).splitlines()) or "(empty log)"
    return ServiceStartError(
        f"{service.name} at {redact_url(service.address)} {why}; log {service.log_path}: {tail}"
    )


def _poll_ready(service: RunningService, timeout: float, probe: Callable[[float], None]) -> None:
    """Call ``probe(slice_timeout)`` until it returns, the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        if service._proc is not None and service._proc.poll() is not None:
            raise _fail(service, f"exited with code {service._proc.returncode} while starting")
        remaining = deadline - time.monotonic()
        try:
            probe(max(0.2, min(remaining, 0.5)))  # short: notice a dead child soon
            return
        except Exception as exc:  # any failure of the probe means "not ready yet"
            last = f"{type(exc).__name__}: {exc}".strip().replace("\n", " ")
        if remaining <= 0:
            raise _fail(service, f"not ready after {timeout:.1f}s ({last})")
        time.sleep(min(0.05, max(remaining, 0.0)))


def broker_ready(service: RunningService, timeout: float) -> None:
    from processor.adapters.kafka_admin import wait_for_broker

    def probe(slice_timeout: float) -> None:
        host, port = service.address.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=slice_timeout):
            pass
        try:
            run_coro(wait_for_broker(service.address, slice_timeout))
        except BrokerUnavailable as exc:
            raise ConnectionError(str(exc)) from None

    _poll_ready(service, timeout, probe)


def redis_ready(service: RunningService, timeout: float) -> None:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    def probe(slice_timeout: float) -> None:
        client = redis.Redis.from_url(  # redis-py 8 retries 3x with backoff by default
            service.address,
            socket_timeout=slice_timeout,
            socket_connect_timeout=slice_timeout,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            if not client.ping():
                raise ConnectionError("PING did not answer PONG")
        finally:
            client.close()

    _poll_ready(service, timeout, probe)
