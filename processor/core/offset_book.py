"""Which offsets of the diverted input partitions may be committed.

The live worker takes whole fetched batches of the input topics past faust's
per-message path, so faust's ack bookkeeping never sees those records. This
book stands in for it, with one rule: an offset becomes committable only when
its batch is durable *and* the batch was fetched in the assignment that is
still current. Every revoke and every assignment starts a new epoch; a batch
carries the epoch it was fetched in, and a batch of an older epoch is never
recorded, so a partition handed to another worker (or reset to its committed
offset by the rebalance) is never committed from a stale batch.

Within one epoch the broker hands a partition's records over in offset order,
from the position the assignment started at, so a durable batch's highest
offset + 1 is a safe commit point once every batch before it is durable; the
batches are committed one at a time, in fetch order, by the caller.

Partitions are ``(topic, partition)`` pairs. The book keeps the objects it was
assigned (faust's ``TP``, a named tuple equal to the plain pair), so the
offsets it hands back are keyed by what the consumer commits with.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping

Place = Hashable  # a (topic, partition) pair


class OffsetBook:
    """Durable next offsets per partition, for the current assignment only."""

    def __init__(self) -> None:
        self.epoch = 0
        self._owned: dict[Place, Place] = {}  # as given to ``done`` -> as assigned
        self._durable: dict[Place, int] = {}

    def assigned(self, places: Iterable[Place]) -> int:
        """A new assignment: what was recorded for anything not in it is forgotten."""
        self.epoch += 1
        self._owned = {p: p for p in places}
        self._durable = {p: o for p, o in self._durable.items() if p in self._owned}
        return self.epoch

    def revoked(self, places: Iterable[Place]) -> int:
        """Partitions taken away: batches fetched before this are stale from now on."""
        self.epoch += 1
        for place in places:
            self._owned.pop(place, None)
            self._durable.pop(place, None)
        return self.epoch

    def fence(self) -> int:
        """Make every batch fetched so far stale, assignment unchanged (some
        were dropped: nothing after them may be recorded)."""
        self.epoch += 1
        return self.epoch

    def owns(self, place: Place) -> bool:
        return place in self._owned

    def done(self, epoch: int, next_offsets: Mapping[Place, int]) -> bool:
        """A batch of ``epoch`` is durable up to ``next_offsets`` (highest + 1 per
        partition). Recorded only if no rebalance happened since it was fetched;
        says whether it was."""
        if epoch != self.epoch:
            return False
        durable = self._durable
        for given, offset in next_offsets.items():
            place = self._owned.get(given)
            if place is not None and offset > durable.get(place, -1):
                durable[place] = offset
        return True

    def pending(self) -> list[Place]:
        """Partitions with a recorded offset."""
        return list(self._durable)

    def committable(
        self, places: Iterable[Place], committed: Callable[[Place], int | None]
    ) -> dict[Place, int]:
        """The recorded offsets of ``places`` past what ``committed`` says was
        committed already."""
        out: dict[Place, int] = {}
        for place in places:
            offset = self._durable.get(place)
            if offset is None:
                continue
            done = committed(place)
            if done is None or offset > done:
                out[place] = offset
        return out
