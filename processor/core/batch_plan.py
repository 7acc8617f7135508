"""A batch's CPU work: every message classified and the fold calls encoded.

Pure, so it runs in the worker or in a helper process
(``adapters.classifier_pool``) alike; ``processor.batch`` then makes the
outcomes durable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from processor.core.fold_payload import (
    OUTCOME_ACCEPTED,
    OUTCOME_IGNORED,
    OUTCOME_REJECTED,
    encode_batch,
)
from processor.core.pipeline import (
    Accepted,
    Classified,
    FoldEvent,
    Ignored,
    Limits,
    Rejected,
    classify,
)
from processor.core.rules import MixRule

Outcome = Rejected | Classified

# Edges one Lua fold call may carry. Each event may have up to
# ``max_edges_per_event`` (10,000) edges, so a batch of 1,000 wide events would
# be one call of some 10 million edges: gigabytes of payload, more than Redis
# takes in one argument (512 MB), refused on every retry, and Redis blocked
# for as long as the call ran. Past this many edges the batch goes in several
# calls; an event's dedup mark and its edges are always in the same one.
MAX_EDGES_PER_CALL = 20_000


def first_occurrences(results: Sequence[Outcome]) -> dict[str, int]:
    """Index of the first message with each content hash, in message order."""
    firsts: dict[str, int] = {}
    for i, c in enumerate(results):
        if isinstance(c, Classified) and c.content_hash not in firsts:
            firsts[c.content_hash] = i
    return firsts


def classify_batch(
    values: Sequence[bytes | None], rule: MixRule, limits: Limits
) -> tuple[list[Outcome], list[bytes]]:
    """Classify every value and encode the batch's Redis fold (one payload per
    Lua call, in order): all the CPU work of a batch, with no I/O, so it can
    run in a helper process."""
    results = [classify(v, rule, limits) for v in values]
    payloads: list[bytes] = []
    marks: list[tuple[str, str]] = []
    folds: list[FoldEvent] = []
    edges = 0
    for i in first_occurrences(results).values():
        c = results[i]
        assert isinstance(c, Classified)
        outcome = c.outcome
        if isinstance(outcome, Accepted):
            # A column edge costs the call about what an edge does.
            size = len(outcome.fold.edges) + len(outcome.fold.columns)
            if folds and edges + size > MAX_EDGES_PER_CALL:
                payloads.append(encode_batch(marks, folds))
                marks, folds, edges = [], [], 0
            marks.append((c.content_hash, OUTCOME_ACCEPTED))
            folds.append(outcome.fold)
            edges += size
        elif isinstance(outcome, Rejected):
            marks.append((c.content_hash, OUTCOME_REJECTED))
        else:
            marks.append((c.content_hash, OUTCOME_IGNORED))
    payloads.append(encode_batch(marks, folds))
    return results, payloads


# What the worker still needs of each message once the fold payloads are
# encoded, as a plain tuple whose first item says which kind it is. Built in
# the helper process, it is what crosses the process boundary: plain tuples of
# strings and numbers pickle and unpickle several times faster than the
# outcome types with their nodes and edges, which only the payloads need.
PRE_REJECTED = 0  # (0, reason, error): dead-lettered, never deduplicated
DUPLICATE = 1  # (1,): its content hash came earlier in the batch
IGNORED = 2  # (2, hash, event_type)
RULE_REJECTED = 3  # (3, hash, reason, error)
# (4, hash, event_time, edges, column edges, skipped, column_dropped, fold or None)
ACCEPTED = 4
Summary = tuple[Any, ...]

_DUPLICATE: Summary = (DUPLICATE,)


def summarize(results: Sequence[Outcome], *, folds: bool) -> list[Summary]:
    """Each result as a ``Summary``, in message order; ``folds``: keep each
    accepted event's ``FoldEvent`` (for listeners that show the edges)."""
    out: list[Summary] = []
    seen: set[str] = set()
    for r in results:
        if type(r) is Rejected:
            out.append((PRE_REJECTED, r.reason, r.error))
            continue
        assert type(r) is Classified
        digest = r.content_hash
        if digest in seen:
            out.append(_DUPLICATE)
            continue
        seen.add(digest)
        outcome = r.outcome
        if type(outcome) is Accepted:
            fold = outcome.fold
            out.append(
                (
                    ACCEPTED,
                    digest,
                    fold.event_time,
                    len(fold.edges),
                    len(fold.columns),
                    outcome.skipped,
                    outcome.column_dropped,
                    fold if folds else None,
                )
            )
        elif type(outcome) is Rejected:
            out.append((RULE_REJECTED, digest, outcome.reason, outcome.error))
        else:
            assert type(outcome) is Ignored
            out.append((IGNORED, digest, outcome.event_type))
    return out


def summarize_batch(
    values: Sequence[bytes | None], rule: MixRule, limits: Limits, *, folds: bool
) -> tuple[list[Summary], list[bytes]]:
    """``classify_batch`` with its results as ``Summary`` tuples."""
    results, payloads = classify_batch(values, rule, limits)
    return summarize(results, folds=folds), payloads
