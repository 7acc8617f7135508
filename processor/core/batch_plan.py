"""A batch's CPU work: every message classified and the fold calls encoded.

Pure, so it runs in the worker or in a helper process
(``adapters.classifier_pool``) alike; ``processor.batch`` then makes the
outcomes durable.
"""

from __future__ import annotations

from collections.abc import Sequence

from processor.core.fold_payload import (
    OUTCOME_ACCEPTED,
    OUTCOME_IGNORED,
    OUTCOME_REJECTED,
    encode_batch,
)
from processor.core.pipeline import Accepted, Classified, FoldEvent, Limits, Rejected, classify
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
