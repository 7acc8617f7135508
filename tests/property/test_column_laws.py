"""The column fold is commutative and idempotent, survives the payload and any
batching, and agrees with docs/design.md section 5a computed directly from the
set of events (an independent oracle)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from processor.core.columns import ColumnEdges, ColumnFact
from processor.core.control import DeleteRequest
from processor.core.fold import Graph
from processor.core.fold_payload import OUTCOME_ACCEPTED, decode_batch, encode_batch
from processor.core.identity import node_id
from processor.core.pipeline import FoldEvent
from tests.property.test_delete_laws import deletes
from tests.property.test_fold_laws import DATASETS, JOBS, SETTINGS, TIMES

FIELDS = ["id", "amount", "é", "a b"]
TRANSFORMATIONS = [
    ("DIRECT", "IDENTITY", False),
    ("DIRECT", "TRANSFORMATION", True),
    ("INDIRECT", "JOIN", False),
    ("IDENTITY", "", False),
]
NAMES = {node_id(*k): k for k in DATASETS}

Col = tuple[tuple[str, str], str, tuple[str, str], str | None, frozenset[Any]]


@st.composite
def column_events(draw: st.DrawFn) -> list[FoldEvent]:
    """Accepted events carrying only column edges (the dataset fold has its own laws)."""
    hashes = draw(
        st.lists(
            st.integers(0, 10**6).map(lambda i: hashlib.sha256(b"c%d" % i).hexdigest()),
            unique=True,
            max_size=6,
        )
    )
    events = []
    for h in hashes:
        cols: dict[tuple[Any, ...], frozenset[Any]] = {}
        for _ in range(draw(st.integers(0, 5))):
            src = draw(st.sampled_from(DATASETS))
            dst = draw(st.sampled_from([d for d in DATASETS if d != src]))
            key = (src, draw(st.sampled_from(FIELDS)), dst, draw(st.sampled_from([None, *FIELDS])))
            cols[key] = frozenset(draw(st.sets(st.sampled_from(TRANSFORMATIONS), max_size=2)))
        facts: Sequence[ColumnFact] = tuple(
            ColumnFact(node_id(*s), sf, node_id(*t), tf, tr) for (s, sf, t, tf), tr in cols.items()
        )
        if facts and draw(st.booleans()):  # as extraction gives them: grouped by pair
            pairs: dict[tuple[str, str], dict[str, frozenset[Any]]] = {}
            for f in facts:
                pairs.setdefault((f[0], f[2]), {})[f[1] + "\x00" + (f[3] or "")] = f[4]
            facts = ColumnEdges(pairs, len(facts))
        named = {k for s, _, t, _ in cols for k in (s, t)}
        events.append(
            FoldEvent(
                content_hash=h,
                event_time=draw(st.sampled_from(TIMES)),
                run_id=None,
                job=draw(st.sampled_from(JOBS)),
                nodes=(),
                edges=(),
                columns=facts,
                column_datasets=tuple((node_id(*k), *k) for k in named),
            )
        )
    return events


def oracle(events: list[FoldEvent], requests: list[DeleteRequest]) -> dict[str, Any]:
    """Section 5a read literally: per column edge, unions, min and max over the
    events naming it; hidden when lastSeen is not after a covering delete."""
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    for e in events:
        for f in e.columns:
            a = found.setdefault(
                (f.source_id, f.source_field, f.target_id, f.target_field),
                {"jobs": set(), "tr": set(), "times": []},
            )
            a["jobs"].add(e.job)
            a["tr"] |= f.transformations
            a["times"].append(e.event_time)
    out = []
    for (sid, sf, tid, tf), a in found.items():
        last = max(a["times"])
        covering = [
            r.requested_at
            for r in requests
            if (r.source_id in (None, sid) and r.target_id in (None, tid))
        ]
        if covering and last <= max(covering):
            continue
        out.append(
            {
                "source": {"namespace": NAMES[sid][0], "name": NAMES[sid][1], "field": sf},
                "target": {"namespace": NAMES[tid][0], "name": NAMES[tid][1], "field": tf},
                "transformations": [
                    {"type": t, "subtype": s, "masking": m} for t, s, m in sorted(a["tr"])
                ],
                "jobs": [{"namespace": ns, "name": nm} for ns, nm in sorted(a["jobs"])],
                "firstSeen": min(a["times"]),
                "lastSeen": last,
            }
        )

    def order(e: dict[str, Any]) -> tuple[Any, ...]:
        s, t = e["source"], e["target"]
        return (s["namespace"], s["name"], s["field"], t["namespace"], t["name"],
                t["field"] is not None, t["field"] or "")  # fmt: skip

    return {"columnEdges": sorted(out, key=order)}


def fold(events: list[FoldEvent], requests: Sequence[DeleteRequest] = ()) -> Graph:
    g = Graph()
    for e in events:
        g.apply(e)
    for r in requests:
        g.delete(r)
    return g


@SETTINGS
@given(events=column_events(), dels=deletes(), data=st.data())
def test_any_order_and_redelivery_fold_to_the_oracle(
    events: list[FoldEvent], dels: list[DeleteRequest], data: st.DataObject
) -> None:
    want = oracle(events, dels)
    assert fold(events, dels).column_snapshot() == want
    shuffled = data.draw(st.permutations(events + events[: data.draw(st.integers(0, 3))]))
    assert fold(shuffled, list(reversed(dels))).column_snapshot() == want


@SETTINGS
@given(events=column_events(), data=st.data())
def test_any_batching_through_the_payload_folds_the_same(
    events: list[FoldEvent], data: st.DataObject
) -> None:
    g = Graph()
    rest = list(events)
    while rest:
        n = data.draw(st.integers(1, len(rest)))
        batch, rest = rest[:n], rest[n:]
        marks = [(e.content_hash, OUTCOME_ACCEPTED) for e in batch]
        g.join(decode_batch(encode_batch(marks, batch)).graph)
        if data.draw(st.booleans()):  # a redelivered batch
            g.join(decode_batch(encode_batch(marks, batch)).graph)
    assert g.column_snapshot() == fold(events).column_snapshot()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5) | st.sampled_from(FIELDS),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["fields", "dataset", "inputFields", "namespace", "name", "field",
                         "transformations", "type", "subtype", "masking", "transformationType",
                         *FIELDS]),
        inner,
        max_size=5,
    ),
    max_leaves=25,
)  # fmt: skip


@SETTINGS
@given(facet=_JSON)
def test_any_facet_leaves_the_event_accepted_with_its_dataset_edges(facet: Any) -> None:
    from processor.core.pipeline import Accepted, Classified, Limits, classify
    from processor.core.rules import MixRule
    from tests.events import raw_event

    raw = raw_event(
        outputs=[{"namespace": "snowflake://acme", "name": "T", "facets": {"columnLineage": facet}}]
    )
    c = classify(raw, MixRule("any", ["snowflake://*"]), Limits())
    assert isinstance(c, Classified)
    assert isinstance(c.outcome, Accepted)
    assert c.outcome.fold.edges
    g = Graph()
    g.apply(c.outcome.fold)
    for e in g.column_snapshot()["columnEdges"]:
        assert e["source"]["field"]
        assert e["target"]["name"] == "T"
