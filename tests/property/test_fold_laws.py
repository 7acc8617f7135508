"""The fold is commutative and idempotent, and agrees with docs/design.md section 5
computed directly from the set of events (an independent oracle)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processor.core.fold import Graph
from processor.core.identity import node_id
from processor.core.pipeline import FoldEvent, NodeUpdate
from processor.core.snapshot import snapshot_hash

Key = tuple[str, str]

DATASETS: list[Key] = [
    ("snowflake://acme", "A"),
    ("snowflake://acme", "B"),
    ("snowflake://x", "a"),
    ("postgres://db", "a"),
    ("postgres://db", "B"),
    ("s3://b", "é"),
]
TIMES = [
    "2026-03-01T10:00:00.000000Z",
    "2026-03-01T10:00:00.000001Z",
    "2026-03-01T11:00:00.000000Z",
    "2025-12-31T23:59:59.999999Z",
]
RUNS = [None, "aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002"]
JOBS: list[Key] = [("dbt", "a"), ("dbt", "b"), ("airflow", "a")]
TYPES = ["TABLE", "VIEW", "FILE"]

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def internal(key: Key) -> bool:
    return key[0].startswith("snowflake://")


@dataclass(frozen=True)
class Spec:
    """An accepted event as the design describes it."""

    content_hash: str
    time: str
    run_id: str | None
    job: Key
    edges: tuple[tuple[Key, Key], ...]
    types: tuple[tuple[Key, str], ...]

    def fold_event(self) -> FoldEvent:
        types = dict(self.types)
        keys = list(dict.fromkeys([k for e in self.edges for k in e] + list(types)))
        return FoldEvent(
            content_hash=self.content_hash,
            event_time=self.time,
            run_id=self.run_id,
            job=self.job,
            nodes=tuple(
                NodeUpdate(node_id(*k), k[0], k[1], internal(k), types.get(k)) for k in keys
            ),
            edges=tuple((node_id(*s), node_id(*t)) for s, t in self.edges),
        )


@st.composite
def specs(draw: st.DrawFn) -> list[Spec]:
    # real content hashes are uniform: derive them from small integers so that
    # distinct events never share a 64-bit event mark (identity.event_mark)
    hashes = draw(
        st.lists(
            st.integers(0, 10**6).map(lambda i: hashlib.sha256(b"%d" % i).hexdigest()),
            unique=True,
            max_size=8,
        )
    )
    out = []
    for h in hashes:
        edges = draw(
            st.lists(
                st.tuples(st.sampled_from(DATASETS), st.sampled_from(DATASETS)).filter(
                    lambda e: e[0] != e[1]
                ),
                min_size=1,
                max_size=4,
                unique=True,
            )
        )
        types = draw(st.dictionaries(st.sampled_from(DATASETS), st.sampled_from(TYPES), max_size=3))
        out.append(
            Spec(
                h,
                draw(st.sampled_from(TIMES)),
                draw(st.sampled_from(RUNS)),
                draw(st.sampled_from(JOBS)),
                tuple(edges),
                tuple(types.items()),
            )
        )
    return out


def fold(events: Iterable[FoldEvent]) -> dict[str, Any]:
    graph = Graph()
    for event in events:
        graph.apply(event)
    return graph.snapshot()


def oracle(spec_list: list[Spec]) -> dict[str, Any]:
    """docs/design.md section 5, straight from the definitions."""
    events = list({s.content_hash: s for s in spec_list}.values())

    def rank(s: Spec) -> tuple[str, str]:
        return (s.time, s.content_hash)

    edge_keys = sorted({e for s in events for e in s.edges})
    edges = []
    for src, dst in edge_keys:
        evs = [s for s in events if (src, dst) in s.edges]
        edges.append(
            {
                "source": {"namespace": src[0], "name": src[1]},
                "target": {"namespace": dst[0], "name": dst[1]},
                "jobs": [{"namespace": ns, "name": nm} for ns, nm in sorted({s.job for s in evs})],
                "firstSeen": min(s.time for s in evs),
                "lastSeen": max(s.time for s in evs),
                "lastRunId": max(evs, key=rank).run_id,
                "events": len(evs),
            }
        )
    nodes = []
    for key in sorted({k for e in edge_keys for k in e}):
        typed = [s for s in events if key in dict(s.types)]
        if typed:
            type_ = dict(max(typed, key=rank).types)[key]
        else:
            type_ = "TABLE" if internal(key) else "External Node"
        nodes.append(
            {"namespace": key[0], "name": key[1], "type": type_, "internal": internal(key)}
        )
    return {"nodes": nodes, "edges": edges}


@SETTINGS
@given(spec_list=specs())
def test_fold_matches_the_definition(spec_list: list[Spec]) -> None:
    assert fold(s.fold_event() for s in spec_list) == oracle(spec_list)


@SETTINGS
@given(data=st.data(), spec_list=specs())
def test_any_order_with_any_redelivery_gives_the_same_snapshot(
    data: st.DataObject, spec_list: list[Spec]
) -> None:
    events = [s.fold_event() for s in spec_list]
    expected = snapshot_hash(fold(events))
    redelivered = data.draw(st.lists(st.sampled_from(events), max_size=10)) if events else []
    shuffled = data.draw(st.permutations(events + redelivered))
    assert snapshot_hash(fold(shuffled)) == expected


@SETTINGS
@given(spec_list=specs())
def test_applying_every_event_again_changes_nothing(spec_list: list[Spec]) -> None:
    events = [s.fold_event() for s in spec_list]
    graph = Graph()
    for event in events:
        graph.apply(event)
    before = graph.snapshot()
    for event in reversed(events):
        graph.apply(event)
    assert graph.snapshot() == before


@settings(SETTINGS, max_examples=80)
@given(left=specs(), right=specs())
def test_folding_two_halves_in_either_order_agrees(left: list[Spec], right: list[Spec]) -> None:
    # hashes are unique within a list but may repeat across the two; a repeated
    # hash must mean the same event, so keep the left one's content
    known = {s.content_hash for s in left}
    right = [s for s in right if s.content_hash not in known]
    a = [s.fold_event() for s in left]
    b = [s.fold_event() for s in right]
    assert snapshot_hash(fold(a + b)) == snapshot_hash(fold(b + a))
