"""What the batch service (``processor.batch``) needs from the outside world.

Three ports, each with a real implementation and an in-memory one:

- ``GraphStore``: dedup marks and the graph (``adapters.redis_store``;
  ``adapters.memory.MemoryGraphStore`` on the reference fold);
- ``Publisher``: records acknowledged by the broker (``adapters.dlq_publisher``;
  ``adapters.memory.MemoryPublisher``);
- ``Observer``: what a batch reports on its way (``adapters.metrics_observer``;
  ``NULL_OBSERVER`` here).

The data types they exchange live here too, so the service imports no adapter.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from processor.core.control import DeleteRequest
from processor.core.pipeline import FoldEvent


@dataclass(frozen=True, slots=True)
class InputRecord:
    """A consumed record, as the pipeline needs it."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class OutRecord:
    """One record to produce, bytes as they are."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] | None = None


@dataclass(slots=True)
class BatchResult:
    """What became of each record of a batch (counts)."""

    accepted: int = 0
    duplicate: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)
    dead_letters: list[tuple[InputRecord, str]] = field(default_factory=list)
    event_times: list[str] = field(default_factory=list)  # of the events accepted
    # Their folds, when the classification kept them (``ClassifierPool.send_folds``)
    folded: list[FoldEvent] = field(default_factory=list)
    edges_folded: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # edges not folded, by reason
    column_edges_folded: int = 0
    column_dropped: Counter[str] = field(default_factory=Counter)  # column edges, by reason
    deletes: int = 0
    attempts: int = 1


class GraphStore(Protocol):
    """Dedup marks and the graph of one generation.

    Failures raise ``RedisUnavailable``; a call that raised may or may not have
    taken effect, so every call must be safe to repeat.
    """

    async def seen(self, hashes: Sequence[str]) -> list[bool]:
        """Which content hashes are already marked."""
        ...

    async def mark_and_fold(
        self, payload: bytes, token: str, offsets: Mapping[str, int] | None = None
    ) -> list[bool]:
        """Set the marks of ``payload`` (``core.fold_payload``) and fold its
        lineage, atomically; per mark, whether it is new. A mark set earlier
        with the same ``token`` counts as new. ``offsets``: the batch's
        highest offset per ``"topic/partition"``, kept as a maximum."""
        ...

    async def apply_deletes(
        self, requests: Sequence[DeleteRequest], offsets: Mapping[str, int] | None = None
    ) -> None:
        """Fold delete requests into their tombstones, atomically."""
        ...


class Publisher(Protocol):
    """Produces records and returns once the broker acknowledged every one;
    raises ``BrokerUnavailable`` otherwise (some may have been written)."""

    async def publish(self, records: Sequence[OutRecord]) -> None: ...


class Observer(Protocol):
    """What the batch service reports while it works (metrics, in the worker)."""

    def redis_call(self, operation: str, seconds: float, *, failed: bool) -> None:
        """A store call (``seen``, ``fold``, ``deletes``) took ``seconds``."""
        ...

    def dependency_down(self, dependency: str) -> None:
        """A batch attempt failed on ``"redis"`` or ``"kafka"`` (the broker's
        only use in a batch is the dead-letter publish) and will be retried."""
        ...

    def dependencies_up(self) -> None:
        """A batch went through: every dependency answered."""
        ...

    def batch_done(
        self, records: Sequence[InputRecord], result: BatchResult, seconds: float
    ) -> None:
        """A batch is durable after ``seconds`` (classification and retries included)."""
        ...


class NullObserver:
    """Reports nowhere (a rebuild, tests)."""

    def redis_call(self, operation: str, seconds: float, *, failed: bool) -> None:
        return None

    def dependency_down(self, dependency: str) -> None:
        return None

    def dependencies_up(self) -> None:
        return None

    def batch_done(
        self, records: Sequence[InputRecord], result: BatchResult, seconds: float
    ) -> None:
        return None


NULL_OBSERVER = NullObserver()
