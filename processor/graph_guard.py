"""The worker's watch over the Redis graph: detect a lost graph, say it, heal it
(docs/operations.md, "When Redis loses data"; the decisions are
``core.graph_loss``'s).

* **Start-up** (:meth:`GraphGuard.start`): folds wait until the group's
  committed offsets were compared with the current generation's folded
  offsets; a graph that misses committed records is lost. A graph with no
  marker and nothing missing (a fresh one) gets its marker, holding the log's
  first offsets as its origin.
* **Every ``LINEAGE_GRAPH_CHECK_SECONDS``** (:meth:`GraphGuard.check`): the
  marker must still be there, no worker may have flagged the graph lost, and
  the folded offsets must cover what this worker folded.
* **Lost**: ``lineage_graph_lost`` 1, the loss counted, an ERROR line, the
  lost flag set for the other workers, ``/readyz`` 503 with the reason. With
  ``LINEAGE_ON_GRAPH_LOSS=rebuild`` a :class:`~processor.rebuild.Rebuild`
  runs as a task while the worker keeps folding (the rebuild lock lets one
  worker of the group do it; the others wait); with ``halt`` no batch is
  folded until an operator's rebuild switches. Either way the switch writes
  the marker and deletes the flag in one step (``lua/switch.lua``), which is
  what every worker takes as healed.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from processor.adapters.connections import kafka_options
from processor.adapters.group_offsets import group_extent
from processor.adapters.metrics import Metrics
from processor.adapters.redis_graph_marker import GraphMarker
from processor.adapters.redis_store import RedisGraphStore
from processor.core.control import DeleteRequest
from processor.core.graph_loss import find_loss, origin_offsets
from processor.errors import DependencyUnavailable, RebuildError, TruncatedLog
from processor.rebuild import Rebuild
from processor.settings import Settings

log = logging.getLogger("processor.graph_guard")

# The healing rebuild runs the batch code, which logs each dead letter it
# finds; it writes none (the live workers did), so its lines are dropped:
# those of its own task only, the worker's batches still log theirs.
_HEALING = contextvars.ContextVar("healing", default=False)


class _QuietWhileHealing(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not _HEALING.get()


logging.getLogger("processor.batch").addFilter(_QuietWhileHealing())

# A committed offset may be one past a transaction marker that follows the
# last folded record; the worker's own positions are exact.
COMMIT_SLACK = 1
HEAL_FIRST_RETRY_S = 1.0
HEAL_RETRY_MAX_S = 30.0
HEAL_LOCK_POLL_S = 2.0  # another worker rebuilds: one SET NX per poll costs nothing


class GraphGuard:
    """Detection, readiness and healing of a lost graph, for one worker."""

    def __init__(self, settings: Settings, store: RedisGraphStore, metrics: Metrics) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.marker = GraphMarker(store.client, settings.redis_prefix)
        self.lost: str | None = None  # why, while the graph is not whole
        self.saw_origin = False
        self.origin: dict[str, int] | None = None  # the marker's offsets, as last seen
        self.started = False
        self._foldable = asyncio.Event()  # folds wait on it: start-up, and a halt
        self._flagged = False
        self._healer: asyncio.Task[None] | None = None

    # --- the store the batch service folds through --------------------------

    def gate(self, store: Any) -> GatedStore:
        """``store`` with its folds held while they must wait."""
        return GatedStore(store, self)

    async def wait_foldable(self) -> None:
        await self._foldable.wait()

    def not_ready_reason(self) -> str | None:
        """Why ``/readyz`` says 503 on the graph's account, or None."""
        if not self.started:
            return "checking that Redis holds the graph"
        if self.lost is None:
            return None
        doing = "halted until an operator rebuilds it" if self.halting else "being rebuilt"
        return f"the graph is lost ({self.lost}); {doing}"

    @property
    def halting(self) -> bool:
        return self.settings.on_graph_loss == "halt"

    # --- the checks ----------------------------------------------------------

    async def start(self) -> None:
        """The start-up check (retried while Redis or the broker is down); then folds may go."""
        s = self.settings
        delay = 0.2
        while True:
            try:
                state = await self.marker.state()
                starts, committed = await group_extent(
                    s.kafka_bootstrap,
                    s.group_id,
                    [*s.input_topics, s.control_topic],
                    security=kafka_options(s),
                )
                reason = find_loss(state, committed, saw_origin=False, slack=COMMIT_SLACK)
                if reason is None and state.origin is None:
                    generation = await self.store.load_generation()
                    # Nothing committed: the group begins here, from the log's
                    # first offsets. Else a graph from before the marker: its
                    # beginning is unknown, so 0 is assumed (core.graph_loss).
                    begun = await self.marker.begin(generation, {} if committed else starts)
                    if begun:
                        log.info("graph marker written (generation %s)", generation)
                    state = await self.marker.state()
                break
            except DependencyUnavailable as exc:
                log.warning("graph check at start-up waits: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, s.retry_max_backoff_seconds)
        self.started = True
        if reason is not None:
            await self._declare(reason)
        else:
            self._seen(state.origin)
        if self.lost is None or not self.halting:
            self._foldable.set()

    async def check(self, positions: Mapping[tuple[str, int], int]) -> None:
        """The periodic check; ``positions``: next offset this worker folded up to."""
        if not self.started:
            return
        # Taken before Redis is read: a batch that becomes durable while the
        # read is in flight raises ``positions`` past what the read saw, which
        # would look like folded records gone missing.
        durable = {f"{topic}/{partition}": n for (topic, partition), n in positions.items()}
        try:
            if self.lost is not None and not self._flagged:
                await self.marker.flag_lost(self.lost)
                self._flagged = True
            state = await self.marker.state()
        except DependencyUnavailable:
            return  # an outage is the batch path's to report
        if self.lost is not None:
            if state.origin is not None and state.lost is None:
                with contextlib.suppress(DependencyUnavailable):  # healed at the next check
                    await self._healed(state.origin)
            return
        reason = find_loss(state, durable, saw_origin=self.saw_origin)
        if reason is not None:
            await self._declare(reason)
        else:
            self._seen(state.origin)

    def _seen(self, origin: Mapping[str, str] | None) -> None:
        if origin is not None:
            self.saw_origin = True
            self.origin = origin_offsets(origin)

    async def _declare(self, reason: str) -> None:
        self.lost = reason
        self._flagged = False
        self.metrics.graph_lost.set(1)
        self.metrics.graph_losses.inc()
        if self.halting:
            self._foldable.clear()
            log.error(
                "Redis lost the graph: %s; halted (LINEAGE_ON_GRAPH_LOSS=halt): nothing is "
                "folded until `lineage-processor rebuild` rebuilds it from the log",
                reason,
            )
        else:
            log.error(
                "Redis lost the graph: %s; rebuilding it from the log while consuming "
                "(LINEAGE_ON_GRAPH_LOSS=rebuild)",
                reason,
            )
            if self._healer is None or self._healer.done():
                self._healer = asyncio.create_task(self._heal())
        with contextlib.suppress(DependencyUnavailable):
            await self.marker.flag_lost(reason)
            self._flagged = True

    async def _healed(self, origin: Mapping[str, str]) -> None:
        # Reads follow the rebuilt generation before /readyz says 200.
        await self.store.load_generation()
        log.warning(
            "the graph is whole again (rebuilt into generation %s); it was lost: %s",
            origin.get("generation", "?"),
            self.lost,
        )
        self.lost = None
        self._seen(origin)
        self.metrics.graph_lost.set(0)
        self._foldable.set()

    async def _heal(self) -> None:
        """Rebuild until a switch (this worker's or another's) makes the graph whole."""
        _HEALING.set(True)  # this task's context only
        delay = HEAL_FIRST_RETRY_S
        waiting = False
        while self.lost is not None:
            if self._flagged:  # another worker's rebuild may have switched meanwhile
                with contextlib.suppress(DependencyUnavailable):
                    state = await self.marker.state()
                    if state.origin is not None and state.lost is None:
                        await self._healed(state.origin)
                        return
            job = Rebuild(
                self.settings,
                allow_truncated=self.settings.allow_truncated_log,
                origin=self.origin,
                lost=True,
            )
            try:
                result = await job.run()
                if result.switched:
                    log.info("healing rebuild switched to generation %s", result.generation)
                    return
            except TruncatedLog as exc:
                self.lost = f"{self.lost}; not rebuilt: {exc}"
                log.error("the graph can not be healed from the log: %s", exc)
                return
            except RebuildError as exc:
                if not waiting:  # once: another worker's rebuild may take hours
                    log.info("healing waits: %s", exc)
                    waiting = True
                await asyncio.sleep(HEAL_LOCK_POLL_S)
                continue
            except DependencyUnavailable as exc:
                log.warning("healing rebuild failed, retried: %s", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, HEAL_RETRY_MAX_S)

    async def close(self) -> None:
        if self._healer is not None:
            self._healer.cancel()
            with contextlib.suppress(BaseException):
                await self._healer


class GatedStore:
    """A graph store whose folds wait for the guard (``GraphStore`` port)."""

    def __init__(self, inner: Any, guard: GraphGuard) -> None:
        self.inner = inner
        self.guard = guard

    async def seen(self, hashes: Sequence[str]) -> list[bool]:
        result: list[bool] = await self.inner.seen(hashes)
        return result

    async def mark_and_fold(
        self, payload: bytes, token: str, offsets: Mapping[str, int] | None = None
    ) -> list[bool]:
        await self.guard.wait_foldable()
        result: list[bool] = await self.inner.mark_and_fold(payload, token, offsets)
        return result

    async def apply_deletes(
        self, requests: Sequence[DeleteRequest], offsets: Mapping[str, int] | None = None
    ) -> None:
        await self.guard.wait_foldable()
        await self.inner.apply_deletes(requests, offsets)
