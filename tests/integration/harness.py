"""Run the real worker (``python -m processor worker``) as a child process.

Integration tests drive the worker the way an operator does: environment
variables in, HTTP out (``/readyz``, ``/metrics``, the API). The child gets its
own session and dies with the test run (PR_SET_PDEATHSIG), its output goes to a
log file, and every timeout error carries the tail of that log, because "the
worker did not get ready" is useless without it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client.parser import text_string_to_metric_families

from processor.devstack.services import free_port, log_tail, spawn

__all__ = ["MetricKey", "WorkerProcess", "free_port", "wait_for"]

T = TypeVar("T")
MetricKey = tuple[str, frozenset[tuple[str, str]]]


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 30.0,
    interval: float = 0.1,
    *,
    describe: Callable[[], str] | None = None,
    give_up: Callable[[], str | None] | None = None,
) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that.

    An exception from ``predicate`` counts as "not yet" (a server still starting,
    a key not there yet). On timeout, or as soon as ``give_up()`` returns a reason,
    raise AssertionError with the last exception and ``describe()``.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = predicate()
            if result:
                return result
        except Exception as exc:  # "not yet"; reported if it never succeeds
            last_error = exc
        reason = give_up() if give_up else None
        if reason is None and time.monotonic() >= deadline:
            reason = f"condition not met within {timeout:.1f}s"
        if reason is not None:
            detail = (
                f"; last error: {type(last_error).__name__}: {last_error}" if last_error else ""
            )
            context = f"\n{describe()}" if describe else ""
            raise AssertionError(f"{reason}{detail}{context}")
        time.sleep(interval)


class WorkerProcess:
    """One ``lineage-processor worker`` child process, serving HTTP on ``web_port``.

    The child's environment is this process's, without any ``LINEAGE_*`` variable,
    updated with ``env``, with ``LINEAGE_WEB_PORT=web_port`` (and, unless given,
    ``LINEAGE_WEB_HOST=127.0.0.1``).
    """

    def __init__(self, env: dict[str, str], web_port: int, log_path: Path) -> None:
        self.web_port = web_port
        self.log_path = log_path
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
        self.env.update(env)
        self.env["LINEAGE_WEB_PORT"] = str(web_port)
        self.env.setdefault("LINEAGE_WEB_HOST", "127.0.0.1")
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        self.argv = [sys.executable, "-m", "processor", "worker"]
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the worker's HTTP server."""
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def pid(self) -> int | None:
        """The child's pid, None before ``start``."""
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        """Exit code once the child has exited (negative: killed by that signal)."""
        return self._proc.poll() if self._proc else None

    @property
    def running(self) -> bool:
        """True between ``start`` and the child's exit."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> WorkerProcess:
        """Spawn the worker (output appended to ``log_path``); does not wait."""
        if self.running:
            raise RuntimeError(f"worker already running (pid {self.pid})")
        with self.log_path.open("ab") as log:
            log.write(f"--- start {' '.join(self.argv)} ---\n".encode())
        self._proc = spawn(self.argv, self.log_path, self.env)
        return self

    def log_tail(self, lines: int = 40) -> str:
        """The last lines the worker wrote."""
        return log_tail(self.log_path, lines)

    def describe(self) -> str:
        """State and log tail, for assertion messages."""
        state = "running" if self.running else f"exited with {self.returncode}"
        return f"worker pid {self.pid} ({state}), log {self.log_path}:\n{self.log_tail()}"

    def _died(self) -> str | None:
        if self._proc is not None and self._proc.poll() is not None:
            return f"worker exited with code {self._proc.returncode}"
        return None

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Poll ``GET /readyz`` until it answers 200; fail early if the worker dies."""
        self.wait_for(lambda: self.http_get("/readyz")[0] == 200, timeout=timeout, interval=0.1)

    def wait_for(
        self, predicate: Callable[[], T], timeout: float = 30.0, interval: float = 0.1
    ) -> T:
        """``wait_for`` that gives up when the worker dies and shows its log tail."""
        return wait_for(predicate, timeout, interval, describe=self.describe, give_up=self._died)

    def kill(self) -> None:
        """SIGKILL: a crash with no shutdown work at all. Idempotent."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def terminate(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait for a clean exit (SIGKILL after ``timeout``); the exit code."""
        if self._proc is None:
            return None
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
                raise AssertionError(
                    f"worker ignored SIGTERM for {timeout:.0f}s\n{self.describe()}"
                ) from None
        return self._proc.returncode

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def http_get(self, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
        """``GET path``: (status, body), also for 4xx/5xx answers."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), bytes(exc.read())

    def get_json(self, path: str, timeout: float = 10.0) -> Any:
        """``GET path`` decoded as JSON; raises AssertionError on a non-2xx answer."""
        status, body = self.http_get(path, timeout)
        if not 200 <= status < 300:
            raise AssertionError(f"GET {path} answered {status}: {body[:500]!r}")
        return json.loads(body)

    def metrics_text(self) -> str:
        """The raw Prometheus exposition from ``/metrics``."""
        status, body = self.http_get("/metrics")
        if status != 200:
            raise AssertionError(f"GET /metrics answered {status}: {body[:500]!r}")
        return body.decode("utf-8")

    def metrics(self) -> dict[MetricKey, float]:
        """Every sample: (sample name, frozenset of label pairs) -> value.

        Sample names are the exposed ones (``lineage_events_accepted_total``,
        ``lineage_batch_seconds_bucket``...).
        """
        return parse_metrics(self.metrics_text())

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples called ``name`` whose labels include ``labels``; 0.0 if none.

        With every label given this is one sample; with fewer it is their total
        (``metric("lineage_events_consumed_total")`` counts all topics).
        """
        wanted = set(labels.items())
        samples = self.metrics().items()
        return sum((v for (s, pairs), v in samples if s == name and wanted <= pairs), 0.0)


def parse_metrics(text: str) -> dict[MetricKey, float]:
    """Parse Prometheus text format into (name, labels) -> value."""
    samples: dict[MetricKey, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = float(sample.value)
    return samples
