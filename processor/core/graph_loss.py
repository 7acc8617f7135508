"""Whether the Redis graph still holds what was folded into it, and whether
the log still holds what the graph was built from (docs/operations.md, "When
Redis loses data"). Pure: the worker's guard (``processor.graph_guard``) and
the rebuild read Redis and Kafka and ask here.

Offsets are keyed ``"topic/partition"`` throughout, as in the ``folded`` hash.

* **Folded**: the highest offset folded into the current generation, per
  partition (``lua/fold.lua`` keeps it with every batch).
* **Durable**: the next offset the group may skip to, per partition: its
  committed offsets, or the positions the worker itself has folded up to.
  A record is acked (so committed) only after its fold, so every durable
  offset ``n > 0`` has ``folded >= n - 1``; less means Redis lost folds.
* **Origin**: the graph's marker, a hash written when a graph is begun or
  rebuilt, holding the first offset the graph was built from per partition.
  It vanishes with everything else in a ``FLUSHALL`` or a restart without
  persistence, and nothing but a fresh start or a rebuild writes it, so its
  absence is the loss, even once new folds have landed in the empty Redis.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

GENERATION_FIELD = "generation"  # the origin's one field that is not a partition


@dataclass(frozen=True, slots=True)
class GraphState:
    """What the guard reads from Redis in one atomic call."""

    origin: Mapping[str, str] | None  # the marker's fields, None when it is gone
    lost: str | None  # the lost flag's reason, when some worker found the graph lost
    folded: Mapping[str, int] = field(default_factory=dict)


def behind(
    folded: Mapping[str, int], durable: Mapping[str, int], slack: int = 0
) -> dict[str, tuple[int, int]]:
    """Partitions on which less is folded than is durable, by more than
    ``slack`` offsets: ``topic/partition`` -> (highest offset folded or -1,
    durable next offset)."""
    out: dict[str, tuple[int, int]] = {}
    for place, next_offset in durable.items():
        have = folded.get(place, -1)
        if next_offset > 0 and have < next_offset - 1 - slack:
            out[place] = (have, next_offset)
    return out


def find_loss(
    state: GraphState, durable: Mapping[str, int], *, saw_origin: bool, slack: int = 0
) -> str | None:
    """Why the graph is lost, or None while it is whole.

    ``saw_origin``: this process has seen the marker before; its absence is
    then a loss by itself. Without it (start-up), a missing marker is a loss
    only if something durable is missing from the graph: a fresh graph has no
    marker yet, and neither has one kept from before the marker existed.
    ``slack``: offsets a committed offset may run past the last record folded
    (a transaction marker after it, which holds no record, can be committed).
    """
    if state.lost is not None:
        return f"another worker found the graph lost: {state.lost}"
    gap = behind(state.folded, durable, slack)
    if state.origin is None and saw_origin:
        return "the graph's marker is gone: Redis lost its data (FLUSHALL, a restart "
        "without persistence, a failover to an empty replica)"
    if gap:
        shown = ", ".join(
            f"{place} folded up to {have} but durable up to {nxt - 1}"
            for place, (have, nxt) in sorted(gap.items())[:5]
        )
        more = f" and {len(gap) - 5} more" if len(gap) > 5 else ""
        return f"the graph misses folded records: {shown}{more}"
    return None


def origin_offsets(origin: Mapping[str, str] | None) -> dict[str, int]:
    """The first offset per partition of a marker; unparsable fields are left out."""
    out: dict[str, int] = {}
    for place, value in (origin or {}).items():
        if place != GENERATION_FIELD and value.lstrip("-").isdigit():
            out[place] = int(value)
    return out


def truncated(log_starts: Mapping[str, int], origin: Mapping[str, int]) -> dict[str, int]:
    """Offsets gone from the log that the graph was built from, per partition:
    the log now starts above the graph's first offset. A partition the origin
    does not name counts from 0 (a graph whose origin is unknown, one begun
    before the marker existed, a partition added later: all began at 0 or can
    not be shown otherwise), so a doubt refuses rather than shrinks the graph."""
    out: dict[str, int] = {}
    for place, start in log_starts.items():
        gone = start - origin.get(place, 0)
        if gone > 0:
            out[place] = gone
    return out


def describe_truncation(gone: Mapping[str, int]) -> str:
    """One line naming the partitions and how many offsets each lost."""
    total = sum(gone.values())
    parts = ", ".join(f"{place}: {n:,}" for place, n in sorted(gone.items())[:8])
    more = f" and {len(gone) - 8} more partitions" if len(gone) > 8 else ""
    return (
        f"the log no longer holds the beginning the graph was built from: {total:,} messages "
        f"are gone ({parts}{more})"
    )
