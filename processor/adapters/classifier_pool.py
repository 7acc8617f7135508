"""Classification in a helper process.

``core.pipeline.classify`` is pure CPU work, and in one process it competes
with faust's own per-message work for the interpreter. Run in a helper process
it takes that work off the worker's event loop; only the message values go
out, and back come the fold payloads and one plain tuple a message
(``core.batch_plan.Summary``): what the worker needs, without the events'
nodes and edges, which cost more to pickle and unpickle than the rest. If
the helper dies, the batch is classified in-process and a new helper is
started: a pool failure never loses or dead-letters a message. While a started
helper is still starting, batches are classified in-process too, so the first
folds do not wait for it.
"""

from __future__ import annotations

import asyncio
import copyreg
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from processor.adapters.gc_policy import release_memory, settle_heap
from processor.core.batch_plan import Summary, summarize_batch
from processor.core.pipeline import (
    Accepted,
    Classified,
    FoldEvent,
    Ignored,
    Limits,
    NodeUpdate,
    Rejected,
)
from processor.core.rules import MixRule

log = logging.getLogger("processor.classifier")
_PR_SET_PDEATHSIG = 1

_rule: MixRule | None = None
_limits: Limits | None = None

_new_tuple = tuple.__new__
_batches = 0
_TRIM_EVERY = 100  # batches between two ``release_memory`` calls in a helper


def _reduce_outcome(obj: tuple[object, ...]) -> tuple[object, tuple[object, ...]]:
    # A NamedTuple pickles through its Python ``__new__``, a frame per object
    # on each side; rebuilt by ``tuple.__new__`` it costs a fifth less to send
    # and to take back. Registered in both processes (the helper imports this).
    return _new_tuple, (type(obj), tuple(obj))


for _outcome in (Classified, Accepted, FoldEvent, NodeUpdate, Rejected, Ignored):
    copyreg.pickle(_outcome, _reduce_outcome)  # type: ignore[arg-type]


def _init(parent: int, mode: str, globs: tuple[str, ...], limits: Limits) -> None:
    global _rule, _limits
    _die_with(parent)
    # Ctrl-C reaches the whole process group: the worker stops its helpers
    # itself, so a helper's own KeyboardInterrupt would only print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _rule = MixRule(mode, globs)
    _limits = limits
    # A batch allocates hundreds of thousands of short-lived containers (the
    # decoded events, and the column edges of their facets): at the default
    # threshold of 700 the cyclic collector runs thousands of times a batch and
    # rescans the batch's growing join each time (adapters/gc_policy.py).
    settle_heap()


def _die_with(parent: int) -> None:
    """End this helper when the worker ends, even by SIGKILL: an orphaned
    helper would hold its memory forever."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the worker died before prctl took effect
        os._exit(0)


def _classify_values(
    values: Sequence[bytes | None], folds: bool = False
) -> tuple[list[Summary], list[bytes]]:
    global _batches
    assert _rule is not None, "initializer did not run"
    assert _limits is not None, "initializer did not run"
    _batches += 1
    if _batches % _TRIM_EVERY == 0:
        release_memory()
    return summarize_batch(values, _rule, _limits, folds=folds)


class ClassifierPool:
    """``classify`` over a batch of values, in ``processes`` helper processes."""

    def __init__(self, rule: MixRule, limits: Limits, processes: int) -> None:
        self.rule = rule
        self.limits = limits
        self.processes = processes
        # Send each accepted event's ``FoldEvent`` back too: only for a
        # listener that shows the edges (``lineage-processor dev``).
        self.send_folds = False
        self._pool: ProcessPoolExecutor | None = None
        self._ready: Future[object] | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: the worker has threads (faust's consumer), and a
            # forked child of a threaded process can inherit held locks.
            self._pool = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init,
                initargs=(os.getpid(), self.rule.mode.value, self.rule.internal_globs, self.limits),
            )
        return self._pool

    def start(self) -> None:
        """Start the helpers now rather than on the first batch.

        Call it from the thread that lives as long as the worker (the event
        loop's): Linux ties the helpers' death signal to the thread that
        started them.
        """
        self._ready = self._executor().submit(_classify_values, [])

    @property
    def starting(self) -> bool:
        """Started and not answering yet: batches are classified in-process."""
        return self._ready is not None and not self._ready.done()

    async def classify(self, values: Sequence[bytes | None]) -> tuple[list[Summary], list[bytes]]:
        """``core.batch_plan.summarize_batch`` in a helper; in-process if the helper failed."""
        folds = self.send_folds
        if self.starting:
            # The helper is still starting (a new interpreter importing the
            # core, some 0.2 s): the batches meanwhile are classified here, so
            # the first folds do not wait for it.
            return summarize_batch(values, self.rule, self.limits, folds=folds)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._executor(), _classify_values, list(values), folds
            )
        except BrokenProcessPool:
            log.warning("classifier process died; classifying in-process and restarting it")
            self.close()
            return summarize_batch(values, self.rule, self.limits, folds=folds)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            self._ready = None


def classifier_pool(rule: MixRule, limits: Limits, processes: int | None) -> ClassifierPool | None:
    """The pool for the ``classifier_processes`` setting, not started; None
    means in-process. Unset: one helper on two or more cores (a second on two
    cores measured no faster: the worker, Redis and the broker use the rest)."""
    if processes is None:
        processes = 1 if (os.cpu_count() or 1) >= 2 else 0
    return ClassifierPool(rule, limits, processes) if processes else None
