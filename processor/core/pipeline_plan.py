"""The part of step 6 that depends only on which datasets an event names.

Real traffic repeats itself: a job runs again and again over the same inputs
and outputs, so the name checks, the mix rule's plan and the node ids of one
(inputs, outputs) shape are worked out once and reused, outcome and all (a
refusal is remembered as its reason and error). Only small shapes are kept,
so the cache stays small whatever the events' names.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from processor.core.identity import node_id
from processor.core.reasons import Reason
from processor.core.rules import DatasetKey, MixRule
from processor.errors import InvalidMessage

# Shapes with more datasets than this are planned afresh each time: a cached
# shape holds its names, which may be up to ``max_name_length`` each.
CACHED_DATASETS = 16
# The benchmark mix hits the cache for 85% of its events at 2,048 shapes as at
# 4,096 (79% at 1,024): what repeats is a few thousand shapes, the rest is seen
# once, and a larger cache only fills with those (for longer: a helper's memory).
CACHED_SHAPES = 2048


class EventPlan(NamedTuple):
    """The edges of one (inputs, outputs) shape as node ids, and what was skipped."""

    edges: tuple[tuple[str, str], ...]  # (source node id, target node id)
    ids: dict[DatasetKey, str]  # every dataset of an edge, in edge order; never mutated
    skipped: tuple[tuple[str, int], ...]


Refusal = tuple[str, str]  # (reason, error) of an ``InvalidMessage``


def plan_event(
    sources: tuple[DatasetKey, ...],
    targets: tuple[DatasetKey, ...],
    rule: MixRule,
    max_name_length: int,
    max_edges: int,
) -> EventPlan:
    """The edge plan of an event naming ``sources`` and ``targets``; raises
    ``InvalidMessage`` as step 6 does (name_too_long, too_many_edges, mix rule)."""
    if len(sources) + len(targets) > CACHED_DATASETS:
        found = _plan(sources, targets, rule, max_name_length, max_edges)
    else:
        found = _cached_plan(sources, targets, rule, max_name_length, max_edges)
    if isinstance(found, EventPlan):
        return found
    reason, error = found
    raise InvalidMessage(reason, error)


def _plan(
    sources: tuple[DatasetKey, ...],
    targets: tuple[DatasetKey, ...],
    rule: MixRule,
    limit: int,
    max_edges: int,
) -> EventPlan | Refusal:
    for kind, keys in (("inputs", sources), ("outputs", targets)):
        for i, (_, name) in enumerate(keys):
            if len(name) > limit:
                return (
                    Reason.NAME_TOO_LONG.value,
                    f"{kind}[{i}].name: {len(name)} characters is more than the limit of {limit}",
                )
    # Checked before any pair is made: the product is what would cost memory.
    distinct_in, distinct_out = set(sources), set(targets)
    candidates = len(distinct_in) * len(distinct_out) - len(distinct_in & distinct_out)
    if candidates > max_edges:
        return (
            Reason.TOO_MANY_EDGES.value,
            f"{len(distinct_in)} inputs x {len(distinct_out)} outputs make {candidates} "
            f"candidate edges, more than the limit of {max_edges}",
        )
    try:
        plan = rule.plan(sources, targets)
    except InvalidMessage as exc:
        return (str(exc.reason), exc.error)
    ids: dict[DatasetKey, str] = {}
    edges = []
    for src, dst in plan.edges:
        sid = ids.get(src)
        if sid is None:
            sid = ids[src] = node_id(*src)
        tid = ids.get(dst)
        if tid is None:
            tid = ids[dst] = node_id(*dst)
        edges.append((sid, tid))
    skipped = tuple((str(k), n) for k, n in plan.skipped.items())
    return EventPlan(tuple(edges), ids, skipped)


_cached_plan = lru_cache(maxsize=CACHED_SHAPES)(_plan)
