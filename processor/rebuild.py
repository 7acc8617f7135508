"""``lineage-processor rebuild``: the graph rebuilt from the log into a new
generation while the live workers keep folding into and serving the current one.

How it goes (docs/design.md section 6):

1. Take the lock ``P:rebuild:lock`` (one rebuild at a time; it expires if the
   process dies), drop what a rebuild killed earlier left behind
   (``P:rebuild:gen``), number a new generation ``N`` from ``P:generation:next``.
2. Read every partition of the input topics and the control topic from the
   beginning, with its own consumer (group ``<LINEAGE_GROUP_ID>.rebuild``, no
   group membership, so the live group never rebalances), and fold into ``N``
   with the same batch code as the worker, in larger batches
   (``rebuild_batch_size``). No dead letters are written (the
   live workers wrote them) and rejected events are not marked seen, so a live
   worker that meets one after the switch still dead-letters it.
3. Switch: ``lua/switch.lua`` moves the pointer to ``N`` only if, on every
   partition, the rebuild has read past the highest offset folded into the
   current generation (its ``folded`` hash). Every fold reads the pointer in
   its own atomic call, so nothing folded before the switch is missing from
   ``N`` and everything after it lands there: no event is lost, and the live
   workers follow without a restart. While the live workers are ahead, the
   rebuild reads on and tries again.
4. Drop the old generation's keys, in chunks, after a short grace for reads
   that started before the switch.

``--verify`` stops instead when the rebuild and the live graph stand at the
same offsets on every partition (it reads no partition past the live one's
offsets, and waits for a moment the live workers stand still, up to a
timeout), compares the two snapshot hashes (and shows the first differences),
and drops the rebuilt generation.

A truncated log (retention deleted the beginning of a partition the graph
was built from, per the graph's marker, ``core.graph_loss.truncated``) stops
the rebuild before it reads, with how many messages are gone, unless
``allow_truncated`` (``--allow-truncated-log``): the rebuilt graph would be
smaller than the live one. ``--verify`` reports it in its result.

Interrupted (Ctrl-C, SIGTERM, an error) before the switch, the partial
generation is dropped and the current one is untouched. Killed outright, the
next rebuild drops it. Progress goes to the terminal every two seconds and to
``P:rebuild:progress``, which the workers export as ``lineage_rebuild_*``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

from redis.exceptions import RedisError

from processor import __version__
from processor.adapters.classifier_pool import ClassifierPool, classifier_pool
from processor.adapters.connections import graph_store, kafka_options
from processor.adapters.gc_policy import settle_heap
from processor.adapters.log_reader import LogReader, end_offsets
from processor.adapters.redis_columns import column_snapshot
from processor.adapters.redis_errors import unavailable
from processor.adapters.redis_generations import Generations
from processor.adapters.redis_graph_marker import GraphMarker
from processor.adapters.redis_store import RedisGraphStore
from processor.batch import BatchProcessor
from processor.core.graph_loss import describe_truncation, origin_offsets, truncated
from processor.core.snapshot import snapshot_hash
from processor.core.snapshot_diff import first_differences
from processor.errors import RebuildError, TruncatedLog
from processor.hot_path import HotPath
from processor.ports import BatchResult
from processor.rebuild_report import Progress, RebuildResult, covers
from processor.settings import Settings

log = logging.getLogger("processor.rebuild")

PROGRESS_EVERY_S = 2.0
GRACE_S = 3.0  # reads that began before the switch finish on the old generation
# The rebuild's batches are this many times the worker's (up to a bound): it
# waits on no one's latency, and an edge is folded once a batch, however many
# of the batch's events name it, so larger batches cost Redis less CPU an event
# (the benchmark mix: 19 -> 12 us at 4,000 instead of 1,000), for some more
# memory (its peak RSS about 160 -> 245 MiB).
BATCH_FACTOR = 4
MAX_BATCH = 10_000


def rebuild_batch_size(batch_size: int) -> int:
    """The rebuild's batch size for the worker's ``batch_size``."""
    return max(batch_size, min(BATCH_FACTOR * batch_size, MAX_BATCH))


class _NoDeadLetters:
    """The rebuild's publisher: dead letters are the live workers' job."""

    async def publish(self, records: Sequence[Any]) -> None:
        return None


class Rebuild:
    """One rebuild run; ``run()`` does it all (module docstring)."""

    def __init__(
        self,
        settings: Settings,
        *,
        verify: bool = False,
        verify_timeout: float = 600.0,
        out: TextIO | None = None,
        on_batch: Callable[[Progress], None] | None = None,
        allow_truncated: bool = False,
        origin: Mapping[str, int] | None = None,
        lost: bool = False,
    ) -> None:
        self.settings = settings
        self.verify = verify
        self.verify_timeout = verify_timeout
        self.out = out
        self.on_batch = on_batch
        self.allow_truncated = allow_truncated
        # The graph's first offsets; None: read from its marker (a healing
        # worker passes the ones it saw before Redis lost the marker).
        self.origin = origin
        self.truncated: dict[str, int] = {}
        # The log's ends when the rebuild began, to read past before the switch
        # when the current generation can not tell what was folded (a lost graph).
        self.log_ends: dict[str, int] = {}
        self.lost = lost
        self.prefix = settings.redis_prefix
        self.live = graph_store(settings, prefix=self.prefix)
        self.client = self.live.client
        self.generations = Generations(self.client, self.prefix)
        self.lock_token = uuid.uuid4().hex
        self.progress = Progress()
        self.topics = [*settings.input_topics, settings.control_topic]
        self.switched = False  # set the moment the pointer moves: never drop ``new`` after

    # --- the run -----------------------------------------------------------

    async def run(self) -> RebuildResult:
        # Started first: its start-up overlaps taking the lock and opening the log.
        pool = classifier_pool(
            self.settings.rule(), self.settings.limits(), self.settings.classifier_processes
        )
        if pool is not None:
            pool.start()
        try:
            return await self._run(pool)
        finally:
            if pool is not None:
                pool.close()

    async def _run(self, pool: ClassifierPool | None) -> RebuildResult:
        try:
            current = await self.live.load_generation()
            await self.generations.lock(self.lock_token)
        except RedisError as exc:
            await self.live.close()
            raise unavailable(exc) from exc
        heartbeat = asyncio.create_task(self.generations.keep_lock(self.lock_token))
        new: str | None = None
        try:
            await self._drop_leftover(current)
            new = await self.generations.allocate(current)
            return await self._rebuild(current, new, pool)
        except RedisError as exc:
            raise unavailable(exc) from exc
        finally:
            heartbeat.cancel()
            with contextlib.suppress(BaseException):
                await heartbeat
            # Shielded: an interrupt must not stop the clean-up halfway.
            await asyncio.shield(self._finish(new, self.switched))

    async def _rebuild(self, current: str, new: str, pool: ClassifierPool | None) -> RebuildResult:
        s = self.settings
        store = RedisGraphStore(
            self.client,
            prefix=self.prefix,
            dedup_ttl_seconds=s.dedup_ttl_seconds,
            generation=new,
            mark_rejected=False,
        )
        processor = BatchProcessor(
            store=store,
            publisher=_NoDeadLetters(),
            rule=s.rule(),
            limits=s.limits(),
            dlq_topic=s.dlq_topic,
            version=__version__,
            max_backoff=s.retry_max_backoff_seconds,
            dead_letters=False,
        )
        self._say(f"rebuilding generation {new} from the log (current: {current}) ...")
        # The worker's batch path: classified while the batch before is folded.
        batch_size = rebuild_batch_size(s.batch_size)
        hot = HotPath(
            processor,
            pool,
            topics=s.input_topics,
            batch_size=batch_size,
            folds_in_flight=s.folds_in_flight,
            settle_seconds=0.0,
            on_done=self._folded,
        )
        epoch = hot.book.assigned([])  # outside any group: no offset to commit
        runner = asyncio.create_task(hot.run())
        reader = await self._open_log()
        try:
            await self._check_graph()
        except BaseException:
            await reader.close()
            raise
        settle_heap()  # as in the worker: the collector off start-up's objects
        last_report = 0.0
        read_to: dict[str, int] = {}  # topic/partition -> next offset read
        try:
            while True:
                if self.verify:
                    await self._pace(reader, current)
                batches = await reader.fetch(batch_size)
                for tp, records in batches.items():
                    place = f"{tp.topic}/{tp.partition}"
                    read_to[place] = records[-1].offset + 1
                    if tp.topic == s.control_topic:
                        await processor.apply_control(records)
                        self.progress.positions[place] = records[-1].offset + 1
                    else:
                        await hot.put_records(list(records), epoch)
                    self.progress.messages += len(records)
                if self.verify:
                    await hot.drain(runner)  # reads no further than the live offsets
                for tp, hw in reader.highwaters().items():
                    self.progress.ends[f"{tp.topic}/{tp.partition}"] = hw
                if self.on_batch is not None:
                    self.on_batch(self.progress)
                now = time.monotonic()
                quiet = not batches
                due = now - last_report >= PROGRESS_EVERY_S
                if not quiet and not due:
                    continue
                if due:
                    last_report = now
                    await self._report(new, "catching up")
                # Draining empties the pipeline (the helper and Redis wait for
                # the next fetch), so without --verify it waits until what is
                # read covers the live graph; quiet, it is the catch-all.
                if not (quiet or self.verify or await self._read_past(read_to, current)):
                    continue
                # Try to finish, with the positions of what is folded (drained) only.
                await hot.drain(runner)
                if self.verify:
                    outcome = await self._try_verify(current, new, store)
                    if outcome is not None:
                        return outcome
                    continue
                if any(self.progress.positions.get(p, 0) < n for p, n in self.log_ends.items()):
                    continue
                done, why = await self.generations.switch(
                    current,
                    new,
                    self.progress.positions,
                    self.progress.beginnings,
                    lost_known=self.lost,
                )
                if done:
                    self.switched = True
                    return await self._after_switch(current, new)
                if why.startswith("the current generation"):
                    raise RebuildError(f"cannot switch: {why} (another rebuild?)")
                if why.startswith("the graph was lost"):
                    raise RebuildError(f"cannot switch: {why}; run it again")
        finally:
            runner.cancel()
            with contextlib.suppress(BaseException):
                await runner
            await reader.close()

    def _folded(self, result: BatchResult, next_offsets: Mapping[Any, int]) -> None:
        """A batch of the input topics is durable in the new generation."""
        self.progress.accepted += result.accepted
        self.progress.rejected += sum(result.rejected.values())
        for (topic, partition), offset in next_offsets.items():
            place = f"{topic}/{partition}"
            if offset > self.progress.positions.get(place, 0):
                self.progress.positions[place] = offset

    async def _after_switch(self, current: str, new: str) -> RebuildResult:
        seconds = time.monotonic() - self.progress.started
        self._say(self.progress.line(new, "switched"))
        self._say(
            f"switched to generation {new} after {self.progress.messages:,} messages in "
            f"{seconds:,.1f} s; dropping generation {current} ..."
        )
        # The old generation is now the leftover: if this process stops before
        # it is dropped, the next rebuild drops it.
        await self.generations.remember(current)
        await asyncio.sleep(GRACE_S)
        dropped = await self.generations.drop(current)
        await self.generations.forget()
        self._say(f"dropped {dropped:,} keys of generation {current}")
        return RebuildResult(new, current, True, self.progress.messages, seconds)

    async def _read_past(self, read_to: Mapping[str, int], current: str) -> bool:
        # A partition not read yet stands at its first stored offset (a log
        # truncated past what the live graph folded is covered there).
        read = {**self.progress.beginnings, **read_to}
        return covers(read, await self.generations.folded(current), self.log_ends)

    async def _pace(self, reader: LogReader, current: str) -> None:
        """For ``--verify``: read no partition past the live graph's offsets,
        so both can stand at the same offsets; give up after the timeout."""
        if time.monotonic() - self.progress.started > self.verify_timeout:
            raise RebuildError(
                f"--verify found no moment in {self.verify_timeout:.0f} s at which the live "
                "workers stood still at the same offsets as the rebuild; run it when the "
                "input is quiet, or raise --timeout"
            )
        folded = await self.generations.folded(current)
        for tp in reader.partitions:
            place = f"{tp.topic}/{tp.partition}"
            live_next = folded.get(place, -1) + 1
            if self.progress.positions.get(place, 0) >= live_next:
                reader.pause(tp)
            else:
                reader.resume(tp)

    async def _try_verify(
        self, current: str, new: str, store: RedisGraphStore
    ) -> RebuildResult | None:
        """Compare when both graphs stand at the same offsets, else None."""
        before = await self.generations.folded(current)
        if not self._same_offsets(before):
            return None
        live_snapshot = await self.live.snapshot()
        rebuilt = await store.snapshot()
        live_columns = snapshot_hash(await column_snapshot(self.live))
        rebuilt_columns = snapshot_hash(await column_snapshot(store))
        if await self.generations.folded(current) != before:
            return None  # the live graph moved while it was read: try again
        a, b = snapshot_hash(rebuilt), snapshot_hash(live_snapshot)
        seconds = time.monotonic() - self.progress.started
        return RebuildResult(
            new,
            current,
            False,
            self.progress.messages,
            seconds,
            rebuilt_hash=a,
            current_hash=b,
            differences=tuple(first_differences(live_snapshot, rebuilt)),
            rebuilt_column_hash=rebuilt_columns,
            current_column_hash=live_columns,
            truncated=dict(self.truncated),
        )

    def _same_offsets(self, folded: dict[str, int]) -> bool:
        for place, position in self.progress.positions.items():
            live_next = folded.get(place, -1) + 1
            if live_next != position and not (
                live_next == 0 and position == self.progress.beginnings.get(place)
            ):
                return False
        return all(place in self.progress.positions for place in folded)

    # --- Kafka -------------------------------------------------------------

    async def _open_log(self) -> LogReader:
        s = self.settings
        reader = LogReader(
            s.kafka_bootstrap,
            self.topics,
            security=kafka_options(s),
            client_id=f"{s.group_id}.rebuild",
            max_partition_fetch_bytes=max(1 << 20, s.max_event_bytes + 1024),
        )
        try:
            await reader.start()
        except LookupError as exc:
            raise RebuildError(str(exc)) from None
        for tp, position in reader.beginnings.items():
            place = f"{tp.topic}/{tp.partition}"
            self.progress.positions[place] = position
            self.progress.beginnings[place] = position
        return reader

    async def _check_graph(self) -> None:
        """Refuse (or, verifying or allowed, report) a log that lost what the
        graph holds. A graph without its marker, or flagged lost, folded less
        than the log held: the switch then waits until the log's present ends
        are read, not only what the current generation folded."""
        state = await GraphMarker(self.client, self.prefix).state()
        origin = origin_offsets(state.origin) if self.origin is None else self.origin
        if self.lost or state.origin is None or state.lost is not None:
            self.lost = True
            s = self.settings
            for topic in self.topics:
                ends = await end_offsets(s.kafka_bootstrap, topic, security=kafka_options(s))
                self.log_ends.update({f"{topic}/{p}": n for p, n in ends.items()})
        self.truncated = truncated(self.progress.beginnings, origin)
        if not self.truncated:
            return
        text = describe_truncation(self.truncated)
        if self.verify:
            self._say(f"warning: {text}")
        elif self.allow_truncated:
            self._say(f"warning: {text}; switching to the smaller graph (--allow-truncated-log)")
        else:
            raise TruncatedLog(
                f"{text}; the rebuilt graph would be smaller than the live one: not rebuilt "
                "(--allow-truncated-log, or LINEAGE_ALLOW_TRUNCATED_LOG=true for the "
                "worker's healing rebuild, to rebuild anyway)"
            )

    # --- Redis -------------------------------------------------------------

    async def _drop_leftover(self, current: str) -> None:
        gen = await self.generations.leftover() or current
        if gen != current:
            dropped = await self.generations.drop(gen)
            self._say(
                f"dropped {dropped:,} keys of generation {gen}, left by an interrupted rebuild"
            )

    async def _report(self, generation: str, phase: str) -> None:
        self._say(self.progress.line(generation, phase))
        with contextlib.suppress(RedisError):
            await self.generations.write_progress(self.progress.as_json(generation, phase))

    async def _finish(self, new: str | None, switched: bool) -> None:
        try:
            if new is not None and not switched:
                dropped = await self.generations.drop(new)
                self._say(f"dropped {dropped:,} keys of generation {new} (not switched to)")
                await self.generations.forget()
            # After a switch, rebuild:gen names the old generation until it is
            # dropped: left set, the next rebuild drops it.
            await self.generations.clear_progress()
            await self.generations.unlock(self.lock_token)
        except RedisError as exc:
            log.warning("rebuild clean-up incomplete (the next rebuild finishes it): %s", exc)
        finally:
            await self.live.close()

    def _say(self, text: str) -> None:
        if self.out is not None:
            print(text, file=self.out, flush=True)
        log.info("%s", text)
