"""Shared pieces of the fault scenarios (``test_faults*.py``): a stream fed in
the background while a fault is injected, workers spawned without waiting, and
"done" as the consumer group sees it: committed offsets at the ends of what was sent.

A committed offset is the strongest sign of completion the worker gives: it
commits only past records whose outcomes are durable (docs/operations.md, "Guarantees").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from tests.integration.accounting import Sent, expect
from tests.integration.conftest import Stack
from tests.integration.harness import WorkerProcess, free_port, wait_for
from tests.integration.kafka_utils import committed_offsets, produce

WAIT = 120.0  # generous for 2 busy CI cores, but finite

Message = tuple[bytes | None, bytes | None]


class Feeder(threading.Thread):
    """Produces ``messages`` to ``topic`` in chunks with a pause between them, so
    that a stream is still arriving while the test kills or stops something."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        messages: Sequence[Message],
        *,
        chunk: int = 50,
        pause: float = 0.3,
    ) -> None:
        super().__init__(daemon=True, name=f"feeder-{topic}")
        self.bootstrap = bootstrap
        self.topic = topic
        self.messages = list(messages)
        self.chunk = chunk
        self.pause = pause
        self.produced: list[tuple[int, int, int]] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for i in range(0, len(self.messages), self.chunk):
                part = self.messages[i : i + self.chunk]
                self.produced += produce(self.bootstrap, self.topic, part)
                time.sleep(self.pause)
        except BaseException as exc:  # reported by ``sent``
            self.error = exc

    @property
    def progress(self) -> int:
        """Messages produced so far."""
        return len(self.produced)

    def sent(self, timeout: float = WAIT) -> Sent:
        """Wait until everything is produced; what was sent, where."""
        self.join(timeout)
        assert not self.is_alive(), f"feeder of {self.topic} still producing after {timeout}s"
        if self.error is not None:
            raise AssertionError(f"feeder of {self.topic} failed: {self.error!r}")
        return Sent.of(self.topic, [v for _, v in self.messages], self.produced)


def spawn_worker(stack: Stack, **env: str) -> WorkerProcess:
    """Start a worker of ``stack`` without waiting for it (the fixture kills it)."""
    port = free_port()
    while any(w.web_port == port for w in stack.workers):
        port = free_port()
    log_path = stack.log_dir / f"worker-{len(stack.workers)}.log"
    worker = WorkerProcess(stack.env(LINEAGE_WEB_PORT=str(port), **env), port, log_path)
    stack.workers.append(worker)
    return worker.start()


def ends(sent: Sent) -> dict[int, int]:
    """Per partition, the offset after the last record sent there."""
    out: dict[int, int] = {}
    for partition, offset in sent.positions:
        out[partition] = max(out.get(partition, 0), offset + 1)
    return out


def wait_committed(
    stack: Stack,
    sent: Sequence[Sent],
    workers: Sequence[WorkerProcess],
    timeout: float = WAIT,
) -> None:
    """Until the group has committed every partition up to the end of what was sent."""
    address = stack.bootstrap

    def done() -> bool:
        return all(committed_offsets(address, stack.group, s.topic) == ends(s) for s in sent)

    def describe() -> str:
        committed = {s.topic: committed_offsets(address, stack.group, s.topic) for s in sent}
        want = {s.topic: ends(s) for s in sent}
        logs = "\n".join(w.describe() for w in workers)
        return f"committed {committed}, sent up to {want}\n{logs}"

    wait_for(done, timeout=timeout, interval=0.5, describe=describe)


def consumed(worker: WorkerProcess, topic: str) -> int:
    """Records of ``topic`` the worker has processed (its counter)."""
    return int(worker.metric("lineage_events_consumed_total", topic=topic))


def poll_until(
    predicate: Callable[[], Any], timeout: float, what: str, workers: Sequence[WorkerProcess]
) -> Any:
    """``wait_for`` with the workers' logs in the failure message."""
    return wait_for(
        predicate,
        timeout=timeout,
        interval=0.1,
        describe=lambda: f"waiting for {what}\n" + "\n".join(w.describe() for w in workers),
    )


def edge_event_counts(snapshot: dict[str, Any]) -> dict[tuple[str, str, str, str], int]:
    """``events`` of every edge of a canonical snapshot, by (source, target)."""
    return {
        (e["source"]["namespace"], e["source"]["name"], e["target"]["namespace"],
         e["target"]["name"]): int(e["events"])
        for e in snapshot["edges"]
    }  # fmt: skip


def expected_snapshot(events: Sent, control: Sent | None = None) -> dict[str, Any]:
    """The pure fold's canonical snapshot of what was sent."""
    return expect(events, control).graph.snapshot()
