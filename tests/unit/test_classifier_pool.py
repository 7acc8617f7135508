"""Classification in a helper process gives what it gives in-process: the
outcomes cross the process boundary (pickled, with the reducers
``adapters.classifier_pool`` registers) unchanged, types included, and the
summaries a helper sends back say what the outcomes say."""

from __future__ import annotations

import asyncio
import pickle
from multiprocessing.reduction import ForkingPickler

from processor.adapters.classifier_pool import ClassifierPool
from processor.core.batch_plan import (
    ACCEPTED,
    DUPLICATE,
    IGNORED,
    PRE_REJECTED,
    RULE_REJECTED,
    classify_batch,
    first_occurrences,
    summarize,
)
from processor.core.fold_payload import decode_batch
from processor.core.pipeline import Accepted, Classified, FoldEvent, Ignored, Limits, Rejected
from processor.core.rules import MixRule
from processor.core.snapshot import snapshot_hash
from processor.samples import realistic_mix

RULE = MixRule("mixed", ["snowflake://*"])


def _values() -> list[bytes | None]:
    return [v for _, v in realistic_mix(400, seed=3)]


def _kinds(results: list[Rejected | Classified]) -> set[type]:
    out: set[type] = set()
    for r in results:
        out.add(type(r))
        if isinstance(r, Classified):
            out.add(type(r.outcome))
            if isinstance(r.outcome, Accepted):
                out.add(type(r.outcome.fold))
                out.update(type(n) for n in r.outcome.fold.nodes)
    return out


def test_outcomes_survive_the_pickling_between_processes() -> None:
    results, payloads = classify_batch(_values(), RULE, Limits())
    # the mix has every kind of outcome, or this proves little
    assert {Rejected, Classified, Accepted, Ignored, FoldEvent} <= _kinds(results)
    back = pickle.loads(bytes(ForkingPickler.dumps((results, payloads))))
    assert back == (results, payloads)
    assert [type(r) for r in back[0]] == [type(r) for r in results]
    assert _kinds(back[0]) == _kinds(results)


def test_a_helper_process_classifies_like_the_worker() -> None:
    values = _values()
    pool = ClassifierPool(RULE, Limits(), 1)
    try:
        got = asyncio.run(pool.classify(values))
    finally:
        pool.close()
    results, payloads = classify_batch(values, RULE, Limits())
    assert got[0] == summarize(results, folds=False)
    # the payloads join sets, whose order differs between processes: compare
    # what they carry
    assert [_decoded(p) for p in got[1]] == [_decoded(p) for p in payloads]


def test_batches_do_not_wait_for_a_starting_helper() -> None:
    """While a started helper starts (a new interpreter importing the core), a
    batch is classified in-process: it is back while the helper has not yet
    answered the start's empty batch, which a batch sent to the one helper,
    queued behind that one, could not be. Once it answers, the helper classifies."""
    values = _values()
    results, payloads = classify_batch(values, RULE, Limits())
    pool = ClassifierPool(RULE, Limits(), 1)

    async def run() -> tuple[bool, object, object]:
        pool.start()
        early = await pool.classify(values)
        still_starting = pool.starting
        for _ in range(600):
            if not pool.starting:
                break
            await asyncio.sleep(0.05)
        assert not pool.starting, "the helper did not start in 30 s"
        return still_starting, early, await pool.classify(values)

    try:
        still_starting, early, late = asyncio.run(run())
    finally:
        pool.close()
    assert still_starting
    for got in (early, late):
        assert isinstance(got, tuple)
        assert got[0] == summarize(results, folds=False)
        assert [_decoded(p) for p in got[1]] == [_decoded(p) for p in payloads]


def _decoded(payload: bytes) -> tuple[object, str]:
    marks, graph = decode_batch(payload)
    return marks, snapshot_hash(graph.snapshot())


def test_a_summary_says_what_the_outcome_says() -> None:
    """Each message's summary, kind by kind, from its outcome by hand: a
    content hash seen before in the batch is a duplicate, a message rejected
    before it has a hash never is."""
    values = _values()
    results, _ = classify_batch(values, RULE, Limits())
    firsts = first_occurrences(results)
    summaries = summarize(results, folds=False)
    kinds = set()
    for i, (r, s) in enumerate(zip(results, summaries, strict=True)):
        kinds.add(s[0])
        if isinstance(r, Rejected):
            assert s == (PRE_REJECTED, r.reason, r.error)
        elif firsts[r.content_hash] != i:
            assert s == (DUPLICATE,)
        elif isinstance(r.outcome, Accepted):
            fold = r.outcome.fold
            assert s == (
                ACCEPTED,
                r.content_hash,
                fold.event_time,
                len(fold.edges),
                len(fold.columns),
                r.outcome.skipped,
                r.outcome.column_dropped,
                None,
            )
        elif isinstance(r.outcome, Rejected):
            assert s == (RULE_REJECTED, r.content_hash, r.outcome.reason, r.outcome.error)
        else:
            assert s == (IGNORED, r.content_hash, r.outcome.event_type)
    assert kinds == {PRE_REJECTED, DUPLICATE, ACCEPTED, RULE_REJECTED, IGNORED}
    # with ``folds``, an accepted event's summary carries its fold whole
    with_folds = summarize(results, folds=True)
    accepted = [(r, s) for r, s in zip(results, with_folds, strict=True) if s[0] == ACCEPTED]
    assert accepted
    for r, s in accepted:
        assert isinstance(r, Classified)
        assert isinstance(r.outcome, Accepted)
        assert s[7] is r.outcome.fold


def test_a_helper_sends_folds_back_when_asked() -> None:
    values = _values()
    pool = ClassifierPool(RULE, Limits(), 1)
    pool.send_folds = True
    try:
        got, _ = asyncio.run(pool.classify(values))
    finally:
        pool.close()
    results, _ = classify_batch(values, RULE, Limits())
    assert got == summarize(results, folds=True)
    assert any(s[0] == ACCEPTED and isinstance(s[7], FoldEvent) for s in got)
