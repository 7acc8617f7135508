"""Classification in a helper process gives what it gives in-process: the
outcomes cross the process boundary (pickled, with the reducers
``adapters.classifier_pool`` registers) unchanged, types included."""

from __future__ import annotations

import asyncio
import pickle
from multiprocessing.reduction import ForkingPickler

from processor.adapters.classifier_pool import ClassifierPool
from processor.core.batch_plan import classify_batch
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
    assert got[0] == results
    # the payloads join sets, whose order differs between processes: compare
    # what they carry
    assert [_decoded(p) for p in got[1]] == [_decoded(p) for p in payloads]


def _decoded(payload: bytes) -> tuple[object, str]:
    marks, graph = decode_batch(payload)
    return marks, snapshot_hash(graph.snapshot())
