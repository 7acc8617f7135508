"""A classifier helper sends back an event's column edges as their count only:
the payload carries them, and the worker counts them for its metric."""

from __future__ import annotations

import asyncio

from processor.adapters.classifier_pool import ClassifierPool
from processor.core.batch_plan import ACCEPTED, classify_batch
from processor.core.fold_payload import decode_batch
from processor.core.pipeline import Accepted, Classified, Limits
from processor.core.rules import MixRule
from tests.column_events import column_event, column_facet

RULE = MixRule("mixed", ["snowflake://*"])
EXT = ("postgres://db", "src")
INT = ("snowflake://acme", "T")
DIRECT = ("DIRECT", "IDENTITY", False)


def test_a_helper_sends_column_edges_back_as_their_count() -> None:
    facet = column_facet(
        {"a": [((*EXT, "a"), [DIRECT]), ((*EXT, "b"), [DIRECT])], "c": [((*EXT, "c"), [])]}
    )
    values: list[bytes | None] = [column_event({INT: facet}, inputs=[EXT])]
    pool = ClassifierPool(RULE, Limits(), 1)
    try:
        got, payloads = asyncio.run(pool.classify(values))
    finally:
        pool.close()
    want, _ = classify_batch(values, RULE, Limits())
    (mine,), (theirs,) = got, want
    assert isinstance(theirs, Classified)
    assert isinstance(theirs.outcome, Accepted)
    # a -> a, b -> a, c -> c: three column edges, counted, not sent
    assert len(theirs.outcome.fold.columns) == 3
    assert mine[0] == ACCEPTED
    assert mine[4] == 3
    assert mine[7] is None  # no fold, so no column edge either
    # the payload still carries all three
    assert len(decode_batch(payloads[0]).graph.columns.state) == 3
