"""The handle of a started broker or Redis, shared by the local and the Docker backends.

``LIVE`` holds every service still running, so that an interpreter exit stops
them (:mod:`processor.devstack.services` registers that hook).
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from processor.devstack.processes import log_tail, spawn
from processor.errors import ServiceStartError

__all__ = ["LIVE", "RunningService", "redis_url"]


@dataclass(eq=False)
class RunningService:
    """A started broker or Redis; ``address`` is what a client connects to.

    ``address`` is ``host:port`` for the broker and a ``redis://`` URL for Redis.
    ``pid`` is ``None`` for containers and once the service is stopped.
    """

    name: str
    address: str
    pid: int | None
    log_path: Path
    backend: Literal["local", "docker"] = "local"
    ready_timeout: float = 30.0
    _argv: list[str] = field(default_factory=list, repr=False)
    _env: dict[str, str] | None = field(default=None, repr=False)
    _cwd: Path | None = field(default=None, repr=False)
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _container: Any = field(default=None, repr=False)
    _check: Callable[[RunningService, float], None] | None = field(default=None, repr=False)
    _port: int = field(default=0, repr=False)
    _password: str | None = field(default=None, repr=False)

    @property
    def port(self) -> int:
        """The TCP port on 127.0.0.1 (or the Docker host) the service listens on."""
        return self._port

    @property
    def running(self) -> bool:
        """True while the local process lives (or the container was not stopped)."""
        if self._proc is not None:
            return self._proc.poll() is None
        return self._container is not None

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (Redis then writes its AOF), SIGKILL after ``timeout``. Idempotent."""
        LIVE.pop(id(self), None)
        if self._container is not None:
            self._dump_container_logs()
            with contextlib.suppress(Exception):
                self._container.stop()
            self._container = None
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
                proc.send_signal(signal.SIGCONT)  # a paused process must see the TERM
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.pid = None

    def kill(self) -> None:
        """SIGKILL: a crash, no shutdown work at all (no AOF rewrite, no goodbye)."""
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.get_wrapped_container().kill()
            return
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self.pid = None

    def pause(self) -> None:
        """Freeze the service (SIGSTOP): connections stay open but nothing answers."""
        if self._container is not None:
            self._container.get_wrapped_container().pause()
        elif self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Undo :meth:`pause` (SIGCONT)."""
        if self._container is not None:
            self._container.get_wrapped_container().unpause()
        elif self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGCONT)

    def restart(self, timeout: float = 10) -> None:
        """Stop (or reap a killed process) and start again on the same port and dir.

        Redis with ``appendonly`` reloads its data; the Tansu broker keeps topics in
        memory only, so a restarted broker is empty.
        """
        if self._container is not None:
            self._restart_container(timeout)
            return
        if not self._argv:
            raise ServiceStartError(f"{self.name} cannot be restarted: it was never started")
        self.stop(timeout)
        self._proc = spawn(self._argv, self.log_path, self._env, self._cwd)
        self.pid = self._proc.pid
        LIVE[id(self)] = self
        self.wait_ready()

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until the service answers, or raise ServiceStartError with the log tail."""
        if self._check is not None:
            self._check(self, self.ready_timeout if timeout is None else timeout)

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of the service's log (for error messages)."""
        self._dump_container_logs()
        return log_tail(self.log_path, lines)

    def __enter__(self) -> RunningService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _restart_container(self, timeout: float) -> None:
        if self.name != "redis":
            raise ServiceStartError(f"restart of a {self.name} container is not supported")
        self._container.get_wrapped_container().restart(timeout=int(timeout))
        self._port = int(self._container.get_exposed_port(6379))
        host = self._container.get_container_host_ip()
        self.address = redis_url(host, self._port, self._password)
        self.wait_ready()

    def _dump_container_logs(self) -> None:
        if self._container is None:
            return
        with contextlib.suppress(Exception):
            out, err = self._container.get_logs()
            self.log_path.write_bytes(out + err)


def redis_url(host: str, port: int, password: str | None) -> str:
    """The ``redis://`` URL a client connects to."""
    auth = f":{password}@" if password else ""
    return f"redis://{auth}{host}:{port}/0"


LIVE: dict[int, RunningService] = {}
