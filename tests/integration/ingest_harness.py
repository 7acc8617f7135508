"""The ingest gateway (``python -m processor ingest``) as a child process, and
plain HTTP calls to it that return every answer, 4xx and 5xx included."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.integration.harness import WorkerProcess, free_port

TOKENS = {
    "ingest": "ingest-token-0123456789",
    "delete": "delete-token-0123456789",
    "both": "both-token-0123456789ab",
    "read": "read-token-0123456789ab",
}
TOKENS_SETTING = (
    f"ingest:{TOKENS['ingest']},delete:{TOKENS['delete']},"
    f"ingest+delete:{TOKENS['both']},read:{TOKENS['read']}"
)


class GatewayProcess(WorkerProcess):
    """One ``lineage-processor ingest`` child serving on ``port``."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        port = free_port()
        super().__init__({**env, "LINEAGE_INGEST_PORT": str(port)}, free_port(), log_path)
        self.web_port = port
        self.env["LINEAGE_INGEST_HOST"] = "127.0.0.1"
        self.argv = [sys.executable, "-m", "processor", "ingest"]

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        token: str | None = None,
        timeout: float = 30.0,
    ) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) of one request; ``token`` is a key of TOKENS."""
        sent = {"Content-Type": "application/json"} if body is not None else {}
        if token is not None:
            sent["Authorization"] = f"Bearer {TOKENS[token]}"
        sent.update(headers or {})
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=sent)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                return int(response.status), dict(response.headers), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), dict(exc.headers), bytes(exc.read())

    def call(self, method: str, path: str, body: bytes | None = None, **kw: Any) -> tuple[int, Any]:
        """(status, decoded JSON body) of one request."""
        status, _, raw = self.request(method, path, body, **kw)
        return status, json.loads(raw) if raw else None


def pause_broker(broker: Any, timeout: float = 10.0) -> None:
    """``broker.pause()`` (SIGSTOP), returning once every thread of the broker is
    stopped: the signal is delivered asynchronously, and a broker thread still
    running could acknowledge a record sent after the pause."""
    broker.pause()
    if broker.pid is None:  # a container: paused by its runtime
        return
    tasks = Path(f"/proc/{broker.pid}/task")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = []
        for task in tasks.iterdir():
            try:
                stat = (task / "stat").read_text()
            except OSError:
                continue
            states.append(stat.rsplit(")", 1)[1].split()[0])
        if states and all(state in ("T", "t") for state in states):
            return
        time.sleep(0.01)
    raise AssertionError(f"the broker (pid {broker.pid}) did not stop within {timeout:g} s")


def start_gateway(stack: Any, name: str = "gateway", **extra: str) -> GatewayProcess:
    """A gateway on ``stack``'s topics (tokens of TOKENS unless overridden), ready."""
    env = stack.env(LINEAGE_HTTP_TOKENS=TOKENS_SETTING, **extra)
    gateway = GatewayProcess(env, stack.log_dir / f"{name}.log")
    stack.workers.append(gateway)  # killed with the stack's workers
    gateway.start()
    gateway.wait_ready(timeout=60)
    return gateway
