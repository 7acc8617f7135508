"""Broker administration that works on Apache Kafka and on Tansu alike:
waiting for a broker to answer, creating topics. Reading topics, and their
exact end offsets, is ``adapters.log_reader``.

Failures to reach the broker raise :class:`~processor.errors.BrokerUnavailable`;
a topic the broker refuses to create raises
:class:`~processor.errors.ConfigurationError`.

Every helper takes ``security``: the aiokafka keywords of
``adapters.connections.kafka_options`` (protocol, SASL, SSL context).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from processor.errors import BrokerUnavailable, ConfigurationError

TOPIC_ALREADY_EXISTS = 36
REQUEST_LIMIT_S = 30.0  # bound on each broker request; wrap in asyncio.timeout for less


def _hosts(bootstrap: str) -> list[tuple[str, int]]:
    hosts = []
    for part in bootstrap.split(","):
        host, _, port = part.strip().rpartition(":")
        hosts.append((host.strip("[]") or "127.0.0.1", int(port)))
    return hosts


def _describe(exc: BaseException) -> str:
    text = str(exc).replace("\n", " ").strip() or "no answer in time"
    name = type(exc).__name__
    return text if text.startswith(name) else f"{name}: {text}"


def broker_unavailable(bootstrap: str, exc: BaseException) -> BrokerUnavailable:
    """The one-line error for a broker that failed a request with ``exc``."""
    return BrokerUnavailable(f"broker {bootstrap} unavailable: {_describe(exc)}")


async def wait_for_broker(
    bootstrap: str,
    timeout: float,  # noqa: ASYNC109
    *,
    security: Mapping[str, Any] | None = None,
) -> None:
    """Return once a TCP connect and a metadata request succeed; else BrokerUnavailable.

    ``timeout`` bounds the whole retry loop (with backoff), not one request.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    backoff = 0.02
    last: BaseException = TimeoutError("no attempt finished")
    while True:
        remaining = deadline - loop.time()
        try:
            async with asyncio.timeout(max(0.05, remaining)):
                await _probe(bootstrap, security or {})
            return
        except (OSError, KafkaError, TimeoutError) as exc:
            last = exc
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise BrokerUnavailable(
                f"broker {bootstrap} not ready after {timeout:.1f}s: {_describe(last)}"
            )
        await asyncio.sleep(min(backoff, remaining))
        backoff = min(backoff * 2, 0.5)


async def _probe(bootstrap: str, security: Mapping[str, Any]) -> None:
    errors: list[OSError] = []
    for host, port in _hosts(bootstrap):
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError as exc:
            errors.append(exc)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        break
    else:
        raise errors[-1]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000, **security)
    try:
        await admin.start()
        await admin.list_topics()
    finally:
        await admin.close()


async def create_topics(
    bootstrap: str,
    topics: Sequence[str],
    partitions: int,
    replication: int = 1,
    *,
    security: Mapping[str, Any] | None = None,
) -> list[str]:
    """Create ``topics``; ones that already exist are left alone. Returns those created.

    Returns only once the broker's metadata lists every topic, so a producer may
    send at once without triggering auto-creation (4 partitions on Tansu).
    """
    if partitions < 1 or replication < 1:  # Tansu would create a topic with 0 partitions
        raise ConfigurationError(
            f"topics need partitions >= 1 and replication >= 1, not {partitions} and {replication}"
        )
    if not topics:
        return []
    limit_ms = int(REQUEST_LIMIT_S * 1000)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=limit_ms, **(security or {})
    )
    created: list[str] = []
    try:
        async with asyncio.timeout(REQUEST_LIMIT_S):
            await admin.start()
            requests = [NewTopic(name, partitions, replication) for name in dict.fromkeys(topics)]
            response = await admin.create_topics(requests, timeout_ms=limit_ms)
            for entry in response.topic_errors:
                name, code = entry[0], entry[1]
                message = entry[2] if len(entry) > 2 else None
                if code == 0:
                    created.append(name)
                elif code != TOPIC_ALREADY_EXISTS:
                    raise ConfigurationError(
                        f"broker {bootstrap} refused to create topic {name!r} "
                        f"(partitions={partitions}, replication={replication}): "
                        f"error {code} {message or ''}".strip()
                    )
            while True:  # metadata may lag the create on a multi-broker cluster
                if set(topics) <= set(await admin.list_topics()):
                    break
                await asyncio.sleep(0.05)
    except (OSError, KafkaError, TimeoutError) as exc:
        raise broker_unavailable(bootstrap, exc) from exc
    finally:
        await admin.close()
    return created
