"""Deletes and events fold in any order to the same graph (docs/design.md section 5),
and a delete hides exactly what it covers until a newer event."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from processor.core.control import DeleteRequest
from processor.core.fold import Graph
from processor.core.identity import node_id
from processor.core.pipeline import FoldEvent
from processor.core.snapshot import snapshot_hash
from tests.property.test_fold_laws import DATASETS, SETTINGS, TIMES, Spec, specs

Op = FoldEvent | DeleteRequest


@st.composite
def deletes(draw: st.DrawFn) -> list[DeleteRequest]:
    ids = [node_id(*k) for k in DATASETS]
    out = []
    for _ in range(draw(st.integers(0, 5))):
        form = draw(st.sampled_from(["edge", "source", "target"]))
        src = draw(st.sampled_from(ids)) if form in ("edge", "source") else None
        dst = draw(st.sampled_from(ids)) if form in ("edge", "target") else None
        out.append(DeleteRequest(src, dst, draw(st.sampled_from(TIMES))))
    return out


def fold(ops: list[Op]) -> dict[str, Any]:
    graph = Graph()
    for op in ops:
        if isinstance(op, DeleteRequest):
            graph.delete(op)
        else:
            graph.apply(op)
    return graph.snapshot()


@SETTINGS
@given(spec_list=specs(), dels=deletes(), data=st.data())
def test_deletes_and_events_in_any_order_give_the_same_snapshot(
    spec_list: list[Spec], dels: list[DeleteRequest], data: st.DataObject
) -> None:
    ops: list[Op] = [s.fold_event() for s in spec_list] + list(dels)
    shuffled = data.draw(st.permutations(ops))
    redelivered = shuffled + data.draw(st.lists(st.sampled_from(ops), max_size=4)) if ops else []
    assert snapshot_hash(fold(redelivered)) == snapshot_hash(fold(ops))


@SETTINGS
@given(spec_list=specs(), dels=deletes())
def test_a_visible_edge_is_seen_after_every_delete_covering_it(
    spec_list: list[Spec], dels: list[DeleteRequest]
) -> None:
    graph = Graph()
    for s in spec_list:
        graph.apply(s.fold_event())
    for d in dels:
        graph.delete(d)
    names = {node_id(*k): k for k in DATASETS}
    visible = {(names[e.source], names[e.target]) for e in graph.edge_records() if e.visible}
    shown = {
        (
            (e["source"]["namespace"], e["source"]["name"]),
            (e["target"]["namespace"], e["target"]["name"]),
        )
        for e in graph.snapshot()["edges"]
    }
    assert shown == visible
    for e in graph.edge_records():
        covering = [
            d.requested_at
            for d in dels
            if (d.source_id in (None, e.source)) and (d.target_id in (None, e.target))
        ]
        # Hidden exactly when lastSeen is not after the latest covering delete.
        assert e.visible == all(e.last_seen > t for t in covering)
