"""In-memory implementations of the ``GraphStore`` and ``Publisher`` ports.

``MemoryGraphStore`` keeps the semantics of ``lua/fold.lua`` and
``lua/delete.lua`` on the reference fold (``core.fold.Graph``): dedup marks
"<outcome>:<token>" set only if absent, a retried call with the same token
reporting its own earlier marks as new, rule-rejected marks skipped when
``mark_rejected`` is off (a rebuild), the highest offset folded per partition.
Marks do not expire: nothing here has a clock.

Both record every call, in order, in a ``journal`` they can share, and fail on
demand (``fail_next``): refused (no effect) or with the reply lost (the call
took effect, then the error), which are the two things a real outage can do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from processor.core.control import DeleteRequest
from processor.core.fold import Graph
from processor.core.fold_payload import OUTCOME_REJECTED, decode_batch
from processor.errors import BrokerUnavailable, RedisUnavailable
from processor.ports import OutRecord

OK, REFUSED, LOST = "ok", "refused", "lost"


@dataclass(frozen=True, slots=True)
class Call:
    """One call to an in-memory port, as it went."""

    operation: str  # "seen", "fold", "deletes" or "publish"
    outcome: str  # OK, REFUSED (no effect) or LOST (took effect, then failed)
    token: str = ""  # fold: the batch token
    hashes: tuple[str, ...] = ()  # seen: asked; fold: marked, in payload order
    records: tuple[OutRecord, ...] = ()  # publish
    deletes: tuple[DeleteRequest, ...] = ()  # deletes


@dataclass(slots=True)
class _Fault:
    operation: str | None  # None: any
    remaining: int
    lost_reply: bool
    passes: int  # calls to let through first


@dataclass(slots=True)
class _Faults:
    pending: list[_Fault] = field(default_factory=list)

    def add(self, times: int, operation: str | None, lost_reply: bool, after: int) -> None:
        self.pending.append(_Fault(operation, times, lost_reply, after))

    def take(self, operation: str) -> str:
        """The outcome the next ``operation`` call is to have."""
        for fault in self.pending:
            if fault.operation in (None, operation):
                if fault.passes:
                    fault.passes -= 1
                    return OK
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.pending.remove(fault)
                return LOST if fault.lost_reply else REFUSED
        return OK


class MemoryGraphStore:
    """A ``GraphStore`` on ``core.fold.Graph``."""

    def __init__(self, *, mark_rejected: bool = True, journal: list[Call] | None = None) -> None:
        self.graph = Graph()
        self.marks: dict[str, str] = {}  # content hash -> "<outcome>:<batch token>"
        self.folded: dict[str, int] = {}  # "topic/partition" -> highest offset
        self.mark_rejected = mark_rejected
        self.journal: list[Call] = journal if journal is not None else []
        self._faults = _Faults()

    def fail_next(
        self,
        times: int = 1,
        *,
        operation: str | None = None,
        lost_reply: bool = False,
        after: int = 0,
    ) -> None:
        """Make the next ``times`` calls (of ``operation``, else of any) raise
        ``RedisUnavailable``, once ``after`` calls went through; with
        ``lost_reply`` they take effect first."""
        self._faults.add(times, operation, lost_reply, after)

    def _record_call(self, call: Call) -> None:
        self.journal.append(call)
        if call.outcome != OK:
            raise RedisUnavailable(f"{call.operation}: {call.outcome} (injected)")

    async def seen(self, hashes: Sequence[str]) -> list[bool]:
        if not hashes:  # as ``RedisGraphStore``: no round trip
            return []
        outcome = self._faults.take("seen")
        flags = [h in self.marks for h in hashes]
        self._record_call(Call("seen", outcome, hashes=tuple(hashes)))
        return flags

    async def mark_and_fold(
        self, payload: bytes, token: str, offsets: Mapping[str, int] | None = None
    ) -> list[bool]:
        outcome = self._faults.take("fold")
        marks, joined = decode_batch(payload)
        flags: list[bool] = []
        if outcome != REFUSED:
            for digest, kind in marks:
                if kind == OUTCOME_REJECTED and not self.mark_rejected:
                    flags.append(True)
                    continue
                prev = self.marks.setdefault(digest, f"{kind}:{token}")
                flags.append(prev[2:] == token)
            self._record_offsets(offsets)
            self.graph.join(joined)
        self._record_call(Call("fold", outcome, token=token, hashes=tuple(h for h, _ in marks)))
        return flags

    async def apply_deletes(
        self, requests: Sequence[DeleteRequest], offsets: Mapping[str, int] | None = None
    ) -> None:
        if not requests and not offsets:  # as ``RedisGraphStore``: no round trip
            return
        outcome = self._faults.take("deletes")
        if outcome != REFUSED:
            self._record_offsets(offsets)
            for request in requests:
                self.graph.delete(request)
        self._record_call(Call("deletes", outcome, deletes=tuple(requests)))

    def _record_offsets(self, offsets: Mapping[str, int] | None) -> None:
        for place, offset in (offsets or {}).items():
            if offset > self.folded.get(place, -1):
                self.folded[place] = offset


class MemoryPublisher:
    """A ``Publisher`` whose broker is the list ``acked``."""

    def __init__(self, journal: list[Call] | None = None) -> None:
        self.acked: list[OutRecord] = []
        self.journal: list[Call] = journal if journal is not None else []
        self._faults = _Faults()

    def fail_next(self, times: int = 1, *, lost_reply: bool = False, after: int = 0) -> None:
        """Make the next ``times`` publishes raise ``BrokerUnavailable``, once
        ``after`` went through; with ``lost_reply`` their records are
        acknowledged first."""
        self._faults.add(times, None, lost_reply, after)

    async def publish(self, records: Sequence[OutRecord]) -> None:
        if not records:  # as ``KafkaPublisher``: nothing to send, nothing to fail
            return
        outcome = self._faults.take("publish")
        if outcome != REFUSED:
            self.acked.extend(records)
        self.journal.append(Call("publish", outcome, records=tuple(records)))
        if outcome != OK:
            raise BrokerUnavailable(f"publish: {outcome} (injected)")
