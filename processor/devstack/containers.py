"""The ``docker`` backend of :mod:`processor.devstack.services`: testcontainers.

Kafka and ``redis:7`` containers behind the same :class:`RunningService` handle as
the local binaries. testcontainers is imported only when a container is started,
so the processor and the ``local`` backend run without it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from processor.devstack.readiness import broker_ready, redis_ready
from processor.devstack.running import LIVE, RunningService, redis_url
from processor.errors import ServiceStartError

__all__ = ["start_kafka_container", "start_redis_container"]


def start_kafka_container(workdir: Path, port: int | None, ready_timeout: float) -> RunningService:
    """A Kafka container (testcontainers' default image); ``address`` is its bootstrap."""

    def make() -> Any:
        try:
            from testcontainers.community.kafka import KafkaContainer
        except ImportError:  # testcontainers before 4.14
            from testcontainers.kafka import KafkaContainer

        container = KafkaContainer()
        if port is not None:
            container.with_bind_ports(container.port, port)
        container.start(timeout=int(ready_timeout))
        return container

    def bind(service: RunningService) -> None:
        service.address = str(service._container.get_bootstrap_server())
        service._port = int(service.address.rsplit(":", 1)[1])
        service._check = broker_ready

    return _start_container("broker", make, bind, workdir, ready_timeout)


def start_redis_container(
    workdir: Path, port: int | None, options: list[str], password: str | None, ready_timeout: float
) -> RunningService:
    """A ``redis:7`` container started with ``options`` (the local server's flags)."""

    def make() -> Any:
        try:
            from testcontainers.community.redis import RedisContainer
        except ImportError:  # testcontainers before 4.14
            from testcontainers.redis import RedisContainer

        container = RedisContainer(image="redis:7", password=password)
        quoted = " ".join("''" if opt == "" else opt for opt in options)
        container.with_command(f"redis-server --dir /data {quoted}")
        if port is not None:
            container.with_bind_ports(6379, port)
        container.start()
        return container

    def bind(service: RunningService) -> None:
        service._password = password
        service._port = int(service._container.get_exposed_port(6379))
        host = service._container.get_container_host_ip()
        service.address = redis_url(host, service._port, password)
        service._check = redis_ready

    return _start_container("redis", make, bind, workdir, ready_timeout)


def _start_container(
    name: str,
    make: Callable[[], Any],
    bind: Callable[[RunningService], None],
    workdir: Path,
    ready_timeout: float,
) -> RunningService:
    """``make()`` a started testcontainer, ``bind`` its address, wait until it answers.

    Every failure is a ServiceStartError, and a container that never got ready is
    stopped again.
    """
    service = RunningService(
        name, "", None, workdir / f"{name}-docker.log", "docker", ready_timeout
    )
    try:
        service._container = make()
    except Exception as exc:  # docker SDK, testcontainers and engine errors alike
        detail = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        raise ServiceStartError(f"{name} container did not start: {detail}") from exc
    LIVE[id(service)] = service
    try:
        bind(service)
        service.wait_ready()
    except Exception:
        service.stop()
        raise
    return service
