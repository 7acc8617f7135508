"""Wiring: the faust app, its agents, timers and web views around the batch processor.

The input topics' records are taken from faust's consumer a whole fetch at a
time and go to the hot path (``processor.hot_path``), which commits through an
offset book of its own; the agent on those topics keeps faust subscribed to
them, and processes any record that would still come its way as follows. It
takes batches with ``noack_take`` and acks each record only after
its batch's outcomes are durable; faust commits only acked offsets. Two faust
behaviours are relied on or guarded against here:

* ``take``/``take_events`` ack a batch in a ``finally``, i.e. even when the
  agent is cancelled mid-batch; ``noack_take`` with explicit acks does not.
* faust may commit past an unacked record at the committed head (its
  ``_new_offset`` treats a one-offset gap as compacted), and it acks records
  fetched before a rebalance when it skips them. Acks here are always in
  offset order per partition, a whole batch at a time, and acks of a stale
  consumer generation are dropped (``faust_compat.guard_stale_acks``).

Nothing here decides what happens to an event: that is ``core`` (pure) and
``batch`` (ordering of durable effects).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import faust
from prometheus_client import CollectorRegistry

from processor import __version__
from processor.adapters.classifier_pool import classifier_pool
from processor.adapters.connections import faust_credentials, graph_store, kafka_options
from processor.adapters.dlq_publisher import KafkaPublisher
from processor.adapters.faust_compat import (
    LineageApp,
    committed_offset,
    divert_fetches,
    guard_stale_acks,
    timestamp_ms,
)
from processor.adapters.faust_metrics import FaustMonitorCollector
from processor.adapters.gc_policy import release_memory, settle_heap
from processor.adapters.http import register_views
from processor.adapters.http_auth import require_bearer_token
from processor.adapters.log_reader import to_record
from processor.adapters.metrics import Metrics
from processor.adapters.metrics_observer import MetricsObserver
from processor.adapters.redis_columns import column_edge_count, sweep_columns
from processor.adapters.redis_retention import sweep, take_sweep_lock
from processor.batch import BatchProcessor, PreparedBatch
from processor.core.batch_plan import Summary
from processor.core.timefmt import format_time, retention_floor
from processor.errors import DependencyUnavailable
from processor.graph_guard import GraphGuard
from processor.hot_path import HotPath
from processor.ports import BatchResult, InputRecord
from processor.settings import Settings

log = logging.getLogger("processor.app")


@dataclass(slots=True)
class PendingBatch:
    """A batch on its way from faust to the commit task."""

    events: list[Any]  # faust events, acked after the commit
    records: list[InputRecord]
    work: asyncio.Future[tuple[list[Summary], list[bytes]]] | None  # in a helper
    prepared: PreparedBatch | None  # classification done in-process


@dataclass
class WorkerState:
    """What the health checks and gauges read."""

    started_at: float = field(default_factory=time.time)
    assigned: bool = False
    last_batch_at: float | None = None
    # next offset to process, per (topic, partition), once a batch went through
    positions: dict[tuple[str, int], int] = field(default_factory=dict)


class LineageWorker:
    """The processor: a faust app folding the input topics into the Redis graph."""

    def __init__(self, settings: Settings, *, registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        self.rule = settings.rule()
        self.metrics = Metrics(registry)
        self.state = WorkerState()
        self._lag_labels: set[tuple[str, str]] = set()
        # Called with every batch's result (``dev`` prints the edges arriving).
        self.listeners: list[Callable[[BatchResult], None]] = []
        self.store = graph_store(
            settings, prefix=settings.redis_prefix, dedup_ttl_seconds=settings.dedup_ttl_seconds
        )
        self.publisher = KafkaPublisher(
            settings.kafka_bootstrap, drop_oversized_values=True, **kafka_options(settings)
        )
        self.guard = GraphGuard(settings, self.store, self.metrics)
        self.processor = BatchProcessor(
            store=self.guard.gate(self.store),
            publisher=self.publisher,
            rule=self.rule,
            limits=settings.limits(),
            dlq_topic=settings.dlq_topic,
            version=__version__,
            observer=MetricsObserver(self.metrics),
            max_backoff=settings.retry_max_backoff_seconds,
        )
        self.pool = classifier_pool(self.rule, self.processor.limits, settings.classifier_processes)
        # The input topics' records: whole fetches, past faust's per-message path.
        self.hot = HotPath(
            self.processor,
            self.pool,
            topics=settings.input_topics,
            batch_size=settings.batch_size,
            folds_in_flight=settings.folds_in_flight,
            settle_seconds=min(10.0, settings.kafka_session_timeout_ms / 2000),
            on_done=self._hot_batch_done,
        )
        self.metrics.build_info.labels(
            __version__, self.rule.mode.value, ",".join(self.rule.internal_globs)
        ).set(1)
        self.app = self._build_app()

    def _build_app(self) -> faust.App:
        s = self.settings
        brokers = [f"kafka://{b.strip()}" for b in s.kafka_bootstrap.split(",") if b.strip()]
        app = LineageApp(
            s.group_id,
            fetch_max_wait_ms=s.kafka_fetch_max_wait_ms,
            broker=brokers,
            broker_credentials=faust_credentials(s),
            value_serializer="raw",
            key_serializer="raw",
            store="memory://",
            autodiscover=False,
            web_enabled=True,
            web_port=s.web_port,
            web_bind=s.web_host,
            web_host=s.web_host,
            consumer_auto_offset_reset="earliest",
            broker_session_timeout=s.kafka_session_timeout_ms / 1000,
            broker_heartbeat_interval=s.kafka_heartbeat_interval_ms / 1000,
            broker_commit_interval=1.0,
            stream_buffer_maxsize=max(4096, 2 * s.batch_size),
            producer_request_timeout=30.0,
            topic_disable_leader=True,
        )
        self.metrics.registry.register(FaustMonitorCollector(app))
        topic = app.topic(
            *s.input_topics,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
        )
        worker = self

        @app.agent(topic, name="lineage-fold")
        async def fold(stream: Any) -> None:
            # The subscription to the input topics. Their records go to the hot
            # path (``divert_fetches`` below); should one come this way, it is
            # processed all the same. Two stages: while the commit task waits on
            # Redis and the broker for batch k, this loop takes batch k+1 from
            # faust and has it classified (in a helper process when there is
            # one). Commits stay one at a time and in order; records are acked
            # only after their commit.
            quiet = stream.noack()
            queue: asyncio.Queue[PendingBatch] = asyncio.Queue(maxsize=2)
            committer = asyncio.create_task(worker.commit_loop(queue, quiet))
            try:
                async for events in quiet.noack_take(
                    s.batch_size, within=s.batch_timeout_ms / 1000
                ):
                    await queue.put(worker.classify(events))
                    if committer.done():  # it only ends by a bug: surface it
                        committer.result()
            finally:
                committer.cancel()

        control_topic = app.topic(
            s.control_topic,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
        )

        @app.agent(control_topic, name="lineage-control")
        async def control(stream: Any) -> None:
            # Deletes are rare and small: one batch at a time, acked when durable.
            quiet = stream.noack()
            async for events in quiet.noack_take(500, within=s.batch_timeout_ms / 1000):
                await worker.processor.apply_control(worker.records(events))
                for event in events:
                    await quiet.ack(event)

        @app.on_partitions_assigned.connect
        async def on_assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
            worker.state.assigned = True

        @app.on_before_shutdown.connect
        async def on_shutdown(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
            # The consumer has stopped and committed by now.
            await worker.close()

        @app.timer(interval=2.0)  # type: ignore[untyped-decorator]  # faust's timer is untyped
        async def gauges() -> None:
            await worker.refresh_gauges()

        @app.timer(interval=30.0)  # type: ignore[untyped-decorator]
        async def trim_heap() -> None:
            release_memory()  # see adapters/gc_policy.py: the soak's growth

        @app.timer(interval=1.0)  # type: ignore[untyped-decorator]
        async def follow_generation() -> None:
            # Writes follow a rebuild's switch inside each Lua call; reads
            # (queries, snapshots, the dedup pre-check) follow it here.
            with contextlib.suppress(DependencyUnavailable):
                await worker.load_generation_once()

        @app.timer(interval=s.graph_check_seconds)  # type: ignore[untyped-decorator]
        async def graph_check() -> None:
            await worker.guard.check(worker.state.positions)

        if s.retention_days is not None:

            @app.timer(interval=s.retention_sweep_seconds)  # type: ignore[untyped-decorator]
            async def retention() -> None:
                await worker.sweep_retention()

        @app.task  # type: ignore[untyped-decorator]
        async def hot_path() -> None:
            await worker.hot.run()

        @app.task  # type: ignore[untyped-decorator]  # faust's task is untyped
        async def startup() -> None:
            if worker.pool is not None:
                # Listeners (``dev``'s edges) are added once the worker is built.
                worker.pool.send_folds = bool(worker.listeners)
                worker.pool.start()  # not on the first batch; from the loop's thread
            await worker.load_generation()
            await worker.guard.start()
            settle_heap(map_large_buffers=True)  # see adapters/gc_policy.py

        register_views(app, self)
        tokens = s.token_table()
        if tokens.enabled:
            require_bearer_token(app, tokens)
        guard_stale_acks(app)
        divert_fetches(app, self.hot)
        return app

    @staticmethod
    def records(events: list[Any]) -> list[InputRecord]:
        """The pipeline's view of a batch of faust events (in offset order per partition)."""
        return [to_record(ev.message, timestamp_ms=timestamp_ms(ev.message)) for ev in events]

    def classify(self, events: list[Any]) -> PendingBatch:
        """Start classifying a batch: in the helper process, else right here."""
        records = self.records(events)
        if self.pool is not None:
            work = asyncio.ensure_future(self.pool.classify([r.value for r in records]))
            return PendingBatch(events, records, work, None)
        return PendingBatch(events, records, None, self.processor.prepare(records))

    async def commit_loop(self, queue: asyncio.Queue[PendingBatch], stream: Any) -> None:
        """Commit classified batches in order, then ack their records."""
        while True:
            pending = await queue.get()
            prepared = pending.prepared
            if prepared is None:
                assert pending.work is not None
                results, payload = await pending.work
                prepared = self.processor.group(pending.records, results, payload)
            result = await self.processor.commit(prepared)
            for event in pending.events:
                await stream.ack(event)
            for listener in self.listeners:
                listener(result)
            for rec in pending.records:
                self.state.positions[(rec.topic, rec.partition)] = rec.offset + 1
            self.state.last_batch_at = time.time()

    def _hot_batch_done(self, result: BatchResult, next_offsets: Mapping[Any, int]) -> None:
        for listener in self.listeners:
            listener(result)
        for (topic, partition), offset in next_offsets.items():
            self.state.positions[(topic, partition)] = offset
        self.state.last_batch_at = time.time()

    async def load_generation(self) -> None:
        """Read the generation pointer, retrying while Redis is down."""
        delay = 0.2
        while True:
            try:
                gen = await self.store.load_generation()
                self.metrics.generation.set(int(gen) if gen.isdigit() else 0)
                return
            except DependencyUnavailable as exc:
                log.warning("waiting for Redis: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_max_backoff_seconds)

    async def load_generation_once(self) -> None:
        """Read the generation pointer for the reads to follow."""
        gen = await self.store.load_generation()
        self.metrics.generation.set(int(gen) if gen.isdigit() else 0)

    async def refresh_gauges(self) -> None:
        """Graph size and consumer lag; a failing Redis only skips the graph gauges."""
        try:
            nodes, edges = await self.store.counts()
            self.metrics.graph_nodes.set(nodes)
            self.metrics.graph_edges.set(edges)
            self.metrics.graph_column_edges.set(await column_edge_count(self.store))
            self.metrics.observe_rebuild(await self.store.rebuild_progress())
        except DependencyUnavailable:
            self.metrics.redis_errors.labels("gauges").inc()
        consumer: Any = self.app.consumer
        try:
            assignment = consumer.assignment()
        except Exception:  # consumer not started yet
            return
        # Partitions lost in a rebalance stop being reported here, or their
        # last lag would stay on /metrics forever.
        current = {(tp.topic, str(tp.partition)) for tp in assignment}
        for gone in self._lag_labels - current:
            with contextlib.suppress(KeyError):
                self.metrics.consumer_lag.remove(*gone)
        self._lag_labels = current
        for tp in assignment:
            hw = consumer.highwater(tp)
            if hw is None:
                continue
            pos = self.state.positions.get((tp.topic, tp.partition))
            if pos is None:
                committed = committed_offset(consumer, tp)
                pos = committed if committed is not None else hw
            self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(max(0, hw - pos))

    def floor(self, as_of: str | None = None) -> str:
        """The retention cutoff for reading the graph as of ``as_of`` (a
        normalised time; now when None); "" when retention is off."""
        moment = as_of or format_time(datetime.now(UTC))
        return retention_floor(moment, self.settings.retention_days)

    async def sweep_retention(self) -> None:
        """Remove edges past the retention window, unless another worker
        sweeps this interval; Redis failures wait for the next interval."""
        floor = self.floor()
        hold_ms = int(self.settings.retention_sweep_seconds * 1000 * 0.9)
        try:
            if not await take_sweep_lock(self.store, hold_ms):
                return
            started = time.monotonic()
            result = await sweep(self.store, floor)
            column_edges = await sweep_columns(self.store, floor)
        except DependencyUnavailable as exc:
            self.metrics.redis_errors.labels("sweep").inc()
            log.warning("retention sweep skipped, Redis unavailable: %s", exc)
            return
        self.metrics.retention_swept.labels("edge").inc(result.edges)
        self.metrics.retention_swept.labels("dataset").inc(result.datasets)
        self.metrics.retention_swept.labels("column_edge").inc(column_edges)
        self.metrics.retention_last_sweep.set(time.time())
        log.info(
            "retention sweep: %d edges and %d datasets last seen at or before %s removed in %.1f s",
            result.edges,
            result.datasets,
            floor,
            time.monotonic() - started,
        )

    async def readiness(self) -> dict[str, bool]:
        """Broker reachable with partitions assigned, and Redis answering."""
        # A probe must answer quickly even while Redis hangs (paused, overloaded).
        try:
            redis_ok = await asyncio.wait_for(self.store.ping(), timeout=2.0)
        except TimeoutError:
            redis_ok = False
        consumer_ok = False
        try:
            consumer_ok = self.state.assigned and not self.app.rebalancing
        except Exception:
            consumer_ok = False
        return {
            "redis": redis_ok,
            "kafka": consumer_ok,
            "graph": self.guard.not_ready_reason() is None,
        }

    def not_ready_reasons(self) -> dict[str, str]:
        """Why a readiness check fails, where there is more to say than false."""
        reason = self.guard.not_ready_reason()
        return {} if reason is None else {"graph": reason}

    async def close(self) -> None:
        await self.guard.close()
        if self.pool is not None:
            self.pool.close()
        await self.publisher.close()
        await self.store.close()
